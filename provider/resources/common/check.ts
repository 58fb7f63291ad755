// Turns a zod schema into Pulumi's check(): every bad field is reported with its dotted path and a reason that says
// how to fix it; fields whose values are still unknown (preview) are not judged yet.
import type { ZodType } from 'zod';
import type { CheckFailure, CheckResult } from '../types';
import { containsUnknown, isUnknown } from './unknowns';

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), '');
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/** Drops Pulumi's internal keys (`__provider`) and undefined values before validation. */
export function userInputs(news: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(news)) if (!k.startsWith('__') && v !== undefined && v !== null) out[k] = v;
  return out;
}

/** The value with every unknown leaf removed, so that the schema can still judge (and default) the rest. */
function stripUnknowns(v: unknown): unknown {
  if (isUnknown(v)) return undefined;
  // An element that is unknown as a whole (e.g. a member still being created) is left out, not turned into a hole.
  if (Array.isArray(v)) return v.filter((x) => !isUnknown(x)).map(stripUnknowns);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripUnknowns(x)] as const).filter(([, x]) => x !== undefined));
  }
  return v;
}

/** Puts the unknown leaves of `raw` back into the parsed (defaulted) value: the engine must still see them. */
function overlayUnknowns(parsed: unknown, raw: unknown): unknown {
  if (isUnknown(raw)) return raw;
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    let known = 0;
    return raw.map((x) => (isUnknown(x) ? x : overlayUnknowns(parsed[known++], x)));
  }
  if (raw && typeof raw === 'object' && parsed && typeof parsed === 'object') {
    const out: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
    for (const [k, x] of Object.entries(raw)) if (containsUnknown(x)) out[k] = overlayUnknowns(out[k], x);
    return out;
  }
  return parsed;
}

export function checkWithSchema<I>(schema: ZodType<I>, news: Record<string, unknown>, extra?: (inputs: I) => CheckFailure[]): CheckResult<I> {
  const raw = userInputs(news);
  const hasUnknowns = containsUnknown(raw);
  const parsed = schema.safeParse(hasUnknowns ? stripUnknowns(raw) : raw);
  if (parsed.success) {
    if (hasUnknowns) return { inputs: overlayUnknowns(parsed.data, raw) as I };
    const failures = extra ? extra(parsed.data) : [];
    return failures.length ? { inputs: raw as I, failures } : { inputs: parsed.data };
  }
  const failures: CheckFailure[] = [];
  for (const issue of parsed.error.issues) {
    // A field that is (or sits under) an unknown value cannot be judged during preview.
    const path = issue.path as PropertyKey[];
    const underUnknown = path.some((_, i) => isUnknown(valueAt(raw, path.slice(0, i + 1))));
    if (underUnknown || containsUnknown(valueAt(raw, path))) continue;
    failures.push({ property: fieldPath(path) || '(inputs)', reason: issue.message });
  }
  // Only fields still unknown failed: the rest is fine. Give the absent fields their defaults anyway, or the preview of
  // a replacement (an image still being made) lists every defaulted input as removed.
  if (failures.length === 0) return { inputs: withDefaults(schema, raw) as I };
  return { inputs: raw as I, failures };
}

/** `raw` with each absent top-level field set to its schema default, where it has one. */
function withDefaults(schema: ZodType, raw: Record<string, unknown>): Record<string, unknown> {
  const shape = (schema as unknown as { shape?: Record<string, ZodType> }).shape;
  if (!shape) return raw;
  const out = { ...raw };
  for (const [key, field] of Object.entries(shape)) {
    if (out[key] !== undefined) continue;
    const r = field.safeParse(undefined);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out;
}
