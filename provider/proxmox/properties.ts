// Pure parse/print helpers for PVE's config values: property strings (netN, rootfs/mpN, features),
// tags, env and UPIDs. PVE re-prints property strings in its own order on every read, so comparing
// raw strings in a diff would report changes that are not there; the resources compare these parsed
// forms instead and print them back the way PVE would.
import { z } from 'zod';
import { InputError } from '../errors';

// ---------------------------------------------------------------------------------------------
// Generic property strings: `[default=]value,key=value,...`

/** Split a property string into key/value pairs; a bare first item belongs to `defaultKey`. */
export function parsePropertyString(field: string, text: string, defaultKey?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  parts.forEach((part, index) => {
    const eq = part.indexOf('=');
    let key: string;
    let value: string;
    if (eq < 0) {
      if (!defaultKey || index !== 0) {
        throw new InputError(field, `'${part}' is not a key=value pair`, `write it as key=value in '${text}'`);
      }
      key = defaultKey;
      value = part;
    } else {
      key = part.slice(0, eq).trim();
      value = part.slice(eq + 1).trim();
    }
    if (key in out) throw new InputError(field, `duplicate key '${key}' in '${text}'`, 'give each key once');
    out[key] = value;
  });
  return out;
}

/** PVE's print order: the default key bare, then required keys, then the rest alphabetically. */
export function printPropertyString(
  values: Record<string, string | number | boolean | undefined>,
  opts: { defaultKey?: string; required?: readonly string[] } = {},
): string {
  const render = (v: string | number | boolean) => (typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  const keys = Object.keys(values).filter((k) => values[k] !== undefined);
  const head: string[] = [];
  if (opts.defaultKey && values[opts.defaultKey] !== undefined) head.push(render(values[opts.defaultKey]!));
  const required = (opts.required ?? []).filter((k) => k !== opts.defaultKey && values[k] !== undefined);
  for (const k of required) head.push(`${k}=${render(values[k]!)}`);
  const rest = keys.filter((k) => k !== opts.defaultKey && !required.includes(k)).sort();
  return [...head, ...rest.map((k) => `${k}=${render(values[k]!)}`)].join(',');
}

const TRUE_WORDS = new Set(['1', 'on', 'yes', 'true']);
const FALSE_WORDS = new Set(['0', 'off', 'no', 'false']);

/** Property strings accept 1/0/on/off/yes/no/true/false (PVE's parse_boolean). */
export function parsePveBoolean(field: string, value: string): boolean {
  const v = value.toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  throw new InputError(field, `'${value}' is not a boolean`, 'use 1 or 0');
}

function parseInteger(field: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new InputError(field, `'${value}' is not an integer`, `use a whole number ${min}-${max}`);
  const n = Number(value);
  if (n < min || n > max) throw new InputError(field, `${n} is out of range`, `use a value ${min}-${max}`);
  return n;
}

function rejectUnknown(field: string, values: Record<string, string>, known: readonly string[]): void {
  for (const k of Object.keys(values)) {
    if (!known.includes(k)) throw new InputError(field, `unknown key '${k}'`, `known keys: ${known.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// netN

export const netSchema = z.object({
  name: z.string().regex(/^[-_.\w\d]+$/),
  bridge: z.string().optional(),
  hwaddr: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/).optional(),
  ip: z.string().optional(),
  gw: z.string().optional(),
  ip6: z.string().optional(),
  gw6: z.string().optional(),
  tag: z.number().int().min(1).max(4094).optional(),
  trunks: z.string().optional(),
  mtu: z.number().int().min(64).max(65535).optional(),
  firewall: z.boolean().optional(),
  link_down: z.boolean().optional(),
  rate: z.number().min(0).optional(),
  type: z.literal('veth').optional(),
  'host-managed': z.boolean().optional(),
});
export type NetConfig = z.infer<typeof netSchema>;

const NET_KEYS = Object.keys(netSchema.shape) as (keyof NetConfig)[];
const NET_BOOLEANS: readonly string[] = ['firewall', 'link_down', 'host-managed'];

export function parseNet(text: string, field = 'net'): NetConfig {
  const raw = parsePropertyString(field, text);
  rejectUnknown(field, raw, NET_KEYS);
  if (raw.name === undefined) throw new InputError(`${field}.name`, 'is missing', 'every netN needs name=eth0 (or similar)');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (NET_BOOLEANS.includes(k)) out[k] = parsePveBoolean(`${field}.${k}`, v);
    else if (k === 'tag') out[k] = parseInteger(`${field}.tag`, v, 1, 4094);
    else if (k === 'mtu') out[k] = parseInteger(`${field}.mtu`, v, 64, 65535);
    else if (k === 'rate') {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InputError(`${field}.rate`, `'${v}' is not a rate in MB/s`, 'use a number ≥ 0');
      out[k] = n;
    } else if (k === 'hwaddr') out[k] = v.toUpperCase();
    else out[k] = v;
  }
  const parsed = netSchema.safeParse(out);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${field}.${issue.path.join('.')}`, issue.message, `check '${text}'`);
  }
  return parsed.data;
}

export function printNet(net: NetConfig): string {
  return printPropertyString(net, { required: ['name'] });
}

// ---------------------------------------------------------------------------------------------
// rootfs / mpN

export const mountSchema = z.object({
  volume: z.string().min(1),
  mp: z.string().optional(),
  /** Size in GiB (PVE stores e.g. `size=8G`). */
  size: z.number().positive().optional(),
  acl: z.boolean().optional(),
  ro: z.boolean().optional(),
  quota: z.boolean().optional(),
  replicate: z.boolean().optional(),
  backup: z.boolean().optional(),
  shared: z.boolean().optional(),
  keepattrs: z.boolean().optional(),
  mountoptions: z.string().optional(),
});
export type MountConfig = z.infer<typeof mountSchema>;

const MOUNT_KEYS = Object.keys(mountSchema.shape);
const MOUNT_BOOLEANS: readonly string[] = ['acl', 'ro', 'quota', 'replicate', 'backup', 'shared', 'keepattrs'];
const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** PVE disk sizes: a number with an optional K/M/G/T suffix (binary); a bare number is bytes. */
export function parseSizeToGiB(text: string, field = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text.trim());
  if (!m) throw new InputError(field, `'${text}' is not a size`, 'use e.g. 8G, 512M or 1T');
  return (Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!) / 1024 ** 3;
}

/** Whole GiB print as `8G`; anything finer falls back to the largest unit that is exact. */
export function formatGiB(gib: number): string {
  const bytes = Math.round(gib * 1024 ** 3);
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const factor = SIZE_UNITS[unit]!;
    if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

export function parseMount(text: string, field = 'rootfs'): MountConfig {
  const raw = parsePropertyString(field, text, 'volume');
  rejectUnknown(field, raw, MOUNT_KEYS);
  if (raw.volume === undefined) throw new InputError(`${field}.volume`, 'is missing', 'give a volume id or STORAGE:SIZE_GiB first');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (MOUNT_BOOLEANS.includes(k)) out[k] = parsePveBoolean(`${field}.${k}`, v);
    else if (k === 'size') out[k] = parseSizeToGiB(v, `${field}.size`);
    else out[k] = v;
  }
  return mountSchema.parse(out);
}

export function printMount(mount: MountConfig): string {
  const { size, ...rest } = mount;
  return printPropertyString({ ...rest, size: size === undefined ? undefined : formatGiB(size) }, { defaultKey: 'volume', required: ['mp'] });
}

// ---------------------------------------------------------------------------------------------
// features

export const featuresSchema = z.object({
  nesting: z.boolean().optional(),
  keyctl: z.boolean().optional(),
  fuse: z.boolean().optional(),
  mknod: z.boolean().optional(),
  force_rw_sys: z.boolean().optional(),
  /** Allowed filesystem types for mount, e.g. ['nfs', 'cifs']. */
  mount: z.array(z.string().regex(/^[a-z0-9]+$/)).optional(),
});
export type Features = z.infer<typeof featuresSchema>;

export function parseFeatures(text: string, field = 'features'): Features {
  const raw = parsePropertyString(field, text);
  rejectUnknown(field, raw, Object.keys(featuresSchema.shape));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    out[k] = k === 'mount' ? v.split(';').map((s) => s.trim()).filter(Boolean) : parsePveBoolean(`${field}.${k}`, v);
  }
  return featuresSchema.parse(out);
}

export function printFeatures(features: Features): string {
  const { mount, ...flags } = features;
  return printPropertyString({ ...flags, mount: mount && mount.length ? mount.join(';') : undefined });
}

// ---------------------------------------------------------------------------------------------
// tags

const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/;

/** PVE's normalisation: split on `,; `, lowercase, de-duplicate, sort. */
export function normalizeTags(input: string | readonly string[] | undefined, field = 'tags'): string[] {
  if (input === undefined) return [];
  const items = (typeof input === 'string' ? [input] : input).flatMap((s) => s.split(/[,; ]+/));
  const tags = new Set<string>();
  for (const item of items) {
    const tag = item.trim().toLowerCase();
    if (tag === '') continue;
    if (!TAG_RE.test(tag)) {
      throw new InputError(field, `tag '${item}' is not valid`, 'tags may hold a-z, 0-9, _, -, + and . and must not start with - + or .');
    }
    tags.add(tag);
  }
  return [...tags].sort();
}

export function printTags(tags: string | readonly string[] | undefined): string {
  return normalizeTags(tags).join(';');
}

// ---------------------------------------------------------------------------------------------
// env (PVE 9.1+): NUL-separated NAME=value

const ENV_NAME_RE = /^\w+$/;
// PVE's pattern forbids control characters in values; tab is the one exception it allows in entrypoint,
// but env values follow [^\p{Cntrl}] strictly.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

export function parseEnv(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of envList(text)) {
    const eq = entry.indexOf('=');
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/** The NUL-separated string as a list of `NAME=value` entries, in order. */
export function envList(text: string | undefined): string[] {
  if (!text) return [];
  return text.split('\0').filter((e) => e !== '').map((entry) => {
    if (entry.indexOf('=') <= 0) throw new InputError('env', `entry '${entry}' is not NAME=value`, 'write each entry as NAME=value');
    return entry;
  });
}

/** Build PVE's NUL-joined env string; validates names and values the way PVE would. */
export function printEnv(env: Readonly<Record<string, string>> | readonly string[]): string {
  const entries = Array.isArray(env) ? [...(env as readonly string[])] : Object.entries(env).map(([k, v]) => `${k}=${v}`);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (eq <= 0 || !ENV_NAME_RE.test(name)) {
      throw new InputError(`env.${name || '?'}`, 'is not a valid variable name', 'use letters, digits and _ only, as NAME=value');
    }
    if (CONTROL_RE.test(entry.slice(eq + 1))) {
      throw new InputError(`env.${name}`, 'contains a control character', 'remove newlines, tabs and other control characters');
    }
  }
  return entries.join('\0');
}

// ---------------------------------------------------------------------------------------------
// UPID: UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:

export const upidSchema = z.object({
  upid: z.string(),
  node: z.string(),
  pid: z.number().int(),
  pstart: z.number().int(),
  starttime: z.number().int(),
  type: z.string(),
  id: z.string(),
  /** `root@pam` — for a token task the token part is split off into `tokenid`. */
  user: z.string(),
  tokenid: z.string().optional(),
});
export type Upid = z.infer<typeof upidSchema>;

const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

export function parseUpid(text: string): Upid {
  const m = UPID_RE.exec(text.trim());
  if (!m) throw new InputError('upid', `'${text}' is not a PVE task id`, 'expected UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:');
  const full = m[8]!;
  const bang = full.indexOf('!');
  return {
    upid: text.trim(),
    node: m[1]!,
    pid: parseInt(m[3]!, 16),
    pstart: parseInt(m[4]!, 16),
    starttime: parseInt(m[5]!, 16),
    type: m[6]!,
    id: m[7]!,
    user: bang < 0 ? full : full.slice(0, bang),
    ...(bang < 0 ? {} : { tokenid: full.slice(bang + 1) }),
  };
}

export function isUpid(value: unknown): value is string {
  return typeof value === 'string' && UPID_RE.test(value.trim());
}
