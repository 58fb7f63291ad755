// PVE property strings (`name=eth0,bridge=vmbr0,ip=dhcp`): parse with PVE's messages, print in PVE's
// order — the default key bare first, then required keys, then the rest, each group alphabetical.
import { checkValue, PropSchema, ParamValue } from './params';

export interface PropertyFormat {
  keys: Record<string, PropSchema>;
  /** The key that may be given without `key=` (rootfs/mp `volume`). */
  defaultKey?: string;
  /** Aliases accepted on input. */
  aliases?: Record<string, string>;
}

export type PropertyValues = Record<string, ParamValue>;

/** Booleans inside property strings go through PVE's parse_boolean: 1/0/on/off/yes/no/true/false. */
function parseBoolean(v: string): number | undefined {
  if (/^(1|on|yes|true)$/i.test(v)) return 1;
  if (/^(0|off|no|false)$/i.test(v)) return 0;
  return undefined;
}

export class PropertyStringError extends Error {
  constructor(readonly details: string[]) {
    super(`invalid format - format error\n${details.join('\n')}`);
  }
}

/** Parse; throws PropertyStringError whose message is PVE's `invalid format - format error` text. */
export function parsePropertyString(format: PropertyFormat, text: string, path: string): PropertyValues {
  const out: PropertyValues = {};
  const errs: string[] = [];
  for (const part of text.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key: string;
    let value: string;
    if (eq < 0) {
      if (!format.defaultKey) {
        errs.push(`${path}: missing key in comma-separated list property`);
        continue;
      }
      if (out[format.defaultKey] !== undefined) {
        errs.push(`${path}.${format.defaultKey}: duplicate key in comma-separated list property: ${format.defaultKey}`);
        continue;
      }
      key = format.defaultKey;
      value = part;
    } else {
      key = part.slice(0, eq);
      value = part.slice(eq + 1);
    }
    key = format.aliases?.[key] ?? key;
    const prop = format.keys[key];
    if (!prop) {
      errs.push(`${path}.${key}: property is not defined in schema and the schema does not allow additional properties`);
      continue;
    }
    if (out[key] !== undefined) {
      errs.push(`${path}.${key}: duplicate key in comma-separated list property: ${key}`);
      continue;
    }
    if (prop.type === 'boolean') {
      const b = parseBoolean(value);
      if (b === undefined) errs.push(`${path}.${key}: type check ('boolean') failed - got '${value}'`);
      else out[key] = b;
      continue;
    }
    // parse_property_string keeps every non-boolean value as the text sent (rate=12.50 stays 12.50).
    const r = checkValue(prop, value, `${path}.${key}`);
    if ('error' in r) errs.push(`${path}.${key}: ${r.error}`);
    else out[key] = value;
  }
  for (const [key, prop] of Object.entries(format.keys)) {
    if (!prop.optional && out[key] === undefined) errs.push(`${path}.${key}: property is missing and it is not optional`);
  }
  if (errs.length) throw new PropertyStringError(errs);
  return out;
}

export function printPropertyString(format: PropertyFormat, values: PropertyValues): string {
  const keys = Object.keys(values).filter((k) => values[k] !== undefined && k !== format.defaultKey);
  const required = keys.filter((k) => format.keys[k] && !format.keys[k].optional).sort();
  const rest = keys.filter((k) => !required.includes(k)).sort();
  const parts: string[] = [];
  if (format.defaultKey && values[format.defaultKey] !== undefined) parts.push(String(values[format.defaultKey]));
  for (const k of [...required, ...rest]) parts.push(`${k}=${values[k]}`);
  return parts.join(',');
}

// ---- the formats a container config uses ----

const ipv4Cidr = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(v: string): boolean {
  const m = ipv4.exec(v);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255);
}
export function isIpv4Cidr(v: string): boolean {
  const m = ipv4Cidr.exec(v);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}
function isIpv6Cidr(v: string): boolean {
  const [addr, len] = v.split('/');
  return len !== undefined && /^\d{1,3}$/.test(len) && Number(len) <= 128 && /^[0-9a-fA-F:.]+$/.test(addr ?? '') && (addr ?? '').includes(':');
}

export const netFormat: PropertyFormat = {
  keys: {
    name: { type: 'string', pattern: /^[-_.\w\d]+$/ },
    bridge: { type: 'string', optional: true, pattern: /^[-_.\w\d]+$/ },
    hwaddr: { type: 'string', optional: true, format: (v) => (/^(?:[a-fA-F0-9]{2}:){5}[a-fA-F0-9]{2}$/.test(v) && (parseInt(v.slice(0, 2), 16) & 1) === 0 ? undefined : `invalid format - value does not look like a valid unicast MAC address`) },
    ip: { type: 'string', optional: true, format: (v) => (v === 'dhcp' || v === 'manual' || isIpv4Cidr(v) ? undefined : `invalid format - value does not look like a valid IPv4 network configuration`) },
    gw: { type: 'string', optional: true, format: (v) => (isIpv4(v) ? undefined : `invalid format - value does not look like a valid IPv4 address`) },
    ip6: { type: 'string', optional: true, format: (v) => (['dhcp', 'auto', 'manual'].includes(v) || isIpv6Cidr(v) ? undefined : `invalid format - value does not look like a valid IPv6 network configuration`) },
    gw6: { type: 'string', optional: true, pattern: /^[0-9a-fA-F:.]+$/ },
    tag: { type: 'integer', optional: true, minimum: 1, maximum: 4094 },
    trunks: { type: 'string', optional: true, pattern: /^\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*$/ },
    firewall: { type: 'boolean', optional: true },
    rate: { type: 'number', optional: true, minimum: 0 },
    mtu: { type: 'integer', optional: true, minimum: 64, maximum: 65535 },
    link_down: { type: 'boolean', optional: true },
    type: { type: 'string', optional: true, enum: ['veth'] },
    'host-managed': { type: 'boolean', optional: true },
  },
};

const sizeProp: PropSchema = { type: 'string', optional: true, pattern: /^\d+(\.\d+)?[KMGT]?$/ };

const mountKeys: Record<string, PropSchema> = {
  volume: { type: 'string' },
  size: sizeProp,
  acl: { type: 'boolean', optional: true },
  ro: { type: 'boolean', optional: true },
  quota: { type: 'boolean', optional: true },
  replicate: { type: 'boolean', optional: true },
  backup: { type: 'boolean', optional: true },
  shared: { type: 'boolean', optional: true },
  keepattrs: { type: 'boolean', optional: true },
  mountoptions: { type: 'string', optional: true, pattern: /^(noatime|lazytime|nodev|nosuid|noexec|discard)(;(noatime|lazytime|nodev|nosuid|noexec|discard))*$/ },
  idmap: { type: 'string', optional: true },
};

export const rootfsFormat: PropertyFormat = { keys: { ...mountKeys }, defaultKey: 'volume' };
export const mpFormat: PropertyFormat = {
  keys: { ...mountKeys, mp: { type: 'string', pattern: /^\/.*/ } },
  defaultKey: 'volume',
};

export const featuresFormat: PropertyFormat = {
  keys: {
    nesting: { type: 'boolean', optional: true },
    keyctl: { type: 'boolean', optional: true },
    fuse: { type: 'boolean', optional: true },
    mknod: { type: 'boolean', optional: true },
    force_rw_sys: { type: 'boolean', optional: true },
    mount: { type: 'string', optional: true, pattern: /^[a-zA-Z0-9_; ]+$/ },
  },
};

export const devFormat: PropertyFormat = {
  keys: {
    path: { type: 'string', pattern: /^\/dev\/.+/ },
    mode: { type: 'string', optional: true, pattern: /^0?[0-7]{3}$/ },
    uid: { type: 'integer', optional: true, minimum: 0 },
    gid: { type: 'integer', optional: true, minimum: 0 },
    'deny-write': { type: 'boolean', optional: true },
  },
  defaultKey: 'path',
};

/** `8`, `8G`, `512M` → bytes; PVE's parse_size (bare numbers are bytes). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(text);
  if (!m) throw new Error(`unable to parse size '${text}'`);
  const unit = { K: 1, M: 2, G: 3, T: 4 }[m[2] ?? ''] ?? 0;
  return Math.round(Number(m[1]) * 1024 ** unit);
}

/** PVE's format_size: the largest unit that divides evenly. */
export function formatSize(bytes: number): string {
  for (const [u, p] of [['T', 4], ['G', 3], ['M', 2], ['K', 1]] as const) {
    if (bytes % 1024 ** p === 0 && bytes >= 1024 ** p) return `${bytes / 1024 ** p}${u}`;
  }
  return String(bytes);
}
