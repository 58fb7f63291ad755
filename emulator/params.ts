// Parameter validation with the exact messages of PVE's JSONSchema.pm. Values arrive as strings
// (query string, form body) or JSON values (JSON body); the result holds numbers for integer,
// number and boolean (0/1) properties and strings for the rest.
import { ParamError } from './errors';

export type ParamValue = string | number;
export type Params = Record<string, ParamValue>;

export interface PropSchema {
  type: 'string' | 'integer' | 'number' | 'boolean';
  optional?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  enum?: readonly string[];
  /** Extra format check on the (string) value; returns the error text, or undefined when valid. */
  format?: (value: string, key: string) => string | undefined;
  /** A `*-list` format (pve-configid-list, address-list…): repeated keys are joined with `,` before validation. */
  list?: boolean;
  /** Name of another property that must be present when this one is. */
  requires?: string;
}

export interface ParamSchema {
  props: Record<string, PropSchema>;
  /** Families such as `net\d+`: [regex over the whole key, schema]. */
  patternProps?: Array<[RegExp, PropSchema]>;
  additional?: boolean;
}

export const MSG = {
  missing: 'property is missing and it is not optional',
  notInSchema: 'property is not defined in schema and the schema does not allow additional properties',
  typeFail: (type: string, got: unknown) => `type check ('${type}') failed - got '${String(got)}'`,
  min: (n: number) => `value must have a minimum value of ${n}`,
  max: (n: number) => `value must have a maximum value of ${n}`,
  maxLength: (n: number) => `value may only be ${n} characters long`,
  minLength: (n: number) => `value must be at least ${n} characters long`,
  pattern: 'value does not match the regex pattern',
  enumFail: (v: string, e: readonly string[]) => `value '${v}' does not have a value in the enumeration '${e.join(', ')}'`,
  requiredBy: (k: string) => `missing property required by '${k}'`,
} as const;

export function propFor(schema: ParamSchema, key: string): PropSchema | undefined {
  const direct = schema.props[key];
  if (direct) return direct;
  for (const [re, prop] of schema.patternProps ?? []) if (re.test(key)) return prop;
  return undefined;
}

/** Perl's `ref` of a decoded JSON value or a repeated form key, as check_type names it. */
function refName(raw: unknown): string | undefined {
  if (Array.isArray(raw)) return 'ARRAY';
  if (typeof raw === 'boolean') return 'JSON::PP::Boolean';
  if (typeof raw === 'object' && raw !== null) return 'HASH';
  return undefined;
}

// pve-common src/PVE/JSONSchema.pm `is_number` / `is_integer`.
const IS_NUMBER = /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/;
const IS_INTEGER = /^[+-]?\d+$/;

/**
 * Check one value against one property, in the order of pve-common's JSONSchema.pm `check_prop`: the type
 * (`check_type`), then format, pattern, maxLength, minLength, minimum/maximum (for any value that looks like a
 * number) and enum, first failure wins. Returns the parsed value or the error message.
 */
export function checkValue(prop: PropSchema, raw: unknown, key = ''): { value: ParamValue } | { error: string } {
  const ref = refName(raw);
  if (ref && !(prop.type === 'boolean' && typeof raw === 'boolean')) return { error: `type check ('${prop.type}') failed - got ${ref}` };
  let value: ParamValue;
  switch (prop.type) {
    case 'boolean': {
      // check_type accepts only '1' and '0' (the true/yes/on branch is commented out); JSON booleans pass.
      if (raw === true || raw === false) return { value: raw ? 1 : 0 };
      const s = String(raw);
      if (s !== '1' && s !== '0') return { error: MSG.typeFail('boolean', raw) };
      value = Number(s);
      break;
    }
    case 'integer': {
      const s = String(raw);
      if (!IS_INTEGER.test(s)) return { error: MSG.typeFail('integer', raw) };
      value = Number(s);
      break;
    }
    case 'number': {
      // Kept as the text sent: Perl keeps the string, so `cpulimit=1.50` is written and read back as `1.50`.
      const s = String(raw);
      if (!IS_NUMBER.test(s)) return { error: MSG.typeFail('number', raw) };
      value = s;
      break;
    }
    case 'string':
      value = String(raw);
      break;
  }
  const s = String(raw);
  if (prop.format) {
    const err = prop.format(s, key);
    if (err !== undefined) return { error: err };
  }
  if (prop.pattern && !prop.pattern.test(s)) return { error: MSG.pattern };
  if (prop.maxLength !== undefined && s.length > prop.maxLength) return { error: MSG.maxLength(prop.maxLength) };
  if (prop.minLength !== undefined && s.length < prop.minLength) return { error: MSG.minLength(prop.minLength) };
  if (IS_NUMBER.test(s)) {
    if (prop.maximum !== undefined && Number(s) > prop.maximum) return { error: MSG.max(prop.maximum) };
    if (prop.minimum !== undefined && Number(s) < prop.minimum) return { error: MSG.min(prop.minimum) };
  }
  if (prop.enum && !prop.enum.includes(s)) return { error: MSG.enumFail(s, prop.enum) };
  return { value };
}

/** Validate a whole parameter set; throws ParamError with every problem at once, as PVE does. */
export function validateParams(schema: ParamSchema, input: Record<string, unknown>): Params {
  const errors: Record<string, string> = {};
  const out: Params = {};
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined || raw === null) continue;
    const prop = propFor(schema, key);
    if (!prop) {
      if (!schema.additional) errors[key] = MSG.notInSchema;
      continue;
    }
    const r = checkValue(prop, raw, key);
    if ('error' in r) errors[key] = r.error;
    else out[key] = r.value;
  }
  for (const [key, prop] of Object.entries(schema.props)) {
    if (!prop.optional && input[key] == null && errors[key] === undefined) errors[key] = MSG.missing;
    if (prop.requires && input[key] != null && input[prop.requires] == null) {
      errors[prop.requires] ??= MSG.requiredBy(key);
    }
  }
  if (Object.keys(errors).length) throw new ParamError(errors);
  return out;
}

// Common property shapes.
export const str = (extra: Partial<PropSchema> = {}): PropSchema => ({ type: 'string', optional: true, ...extra });
export const int = (extra: Partial<PropSchema> = {}): PropSchema => ({ type: 'integer', optional: true, ...extra });
export const num = (extra: Partial<PropSchema> = {}): PropSchema => ({ type: 'number', optional: true, ...extra });
export const bool = (extra: Partial<PropSchema> = {}): PropSchema => ({ type: 'boolean', optional: true, ...extra });

export const nodeProp: PropSchema = { type: 'string', format: (v) => (/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(v) ? undefined : 'invalid format - value does not look like a valid node name\n') };
export const vmidProp: PropSchema = {
  type: 'integer',
  minimum: 100,
  maximum: 999999999,
};
