// Container config keys: their schema, how a written value is stored (re-printed property strings,
// normalised tags), and which keys a running CT takes at once. Pure functions only.
import { randomBytes } from 'node:crypto';
import { bool, int, num, ParamSchema, PropSchema, str } from './params';
import {
  devFormat, featuresFormat, mpFormat, netFormat, parsePropertyString, printPropertyString, PropertyFormat,
  PropertyStringError, PropertyValues, rootfsFormat,
} from './property-string';

export const OSTYPES = ['debian', 'devuan', 'ubuntu', 'centos', 'fedora', 'opensuse', 'archlinux', 'alpine', 'gentoo', 'nixos', 'unmanaged'] as const;
const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

function propertyStringProp(format: PropertyFormat): PropSchema {
  return str({
    format: (v, key) => {
      try {
        parsePropertyString(format, v, key);
        return undefined;
      } catch (e) {
        return e instanceof PropertyStringError ? e.message : String(e);
      }
    },
  });
}

const dnsName = (v: string) =>
  /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/.test(v)
    ? undefined : 'invalid format - value does not look like a valid DNS name\n';

export const netProp = propertyStringProp(netFormat);
export const mpProp = propertyStringProp(mpFormat);

export const configProps: Record<string, PropSchema> = {
  hostname: str({ maxLength: 255, format: dnsName }),
  cores: int({ minimum: 1, maximum: 8192 }),
  cpulimit: num({ minimum: 0, maximum: 8192 }),
  cpuunits: int({ minimum: 0, maximum: 500000 }),
  memory: int({ minimum: 16 }),
  swap: int({ minimum: 0 }),
  rootfs: propertyStringProp(rootfsFormat),
  // address-list / dns-name-list formats: repeated keys are joined with ',' (RESTHandler).
  nameserver: str({ list: true }),
  searchdomain: str({ list: true }),
  unprivileged: bool(),
  features: propertyStringProp(featuresFormat),
  tags: str({ list: true, format: (v) => (splitTags(v).every((t) => TAG_RE.test(t)) ? undefined : 'invalid format - invalid characters in tag') }),
  description: str({ maxLength: 8192 }),
  onboot: bool(),
  startup: str({ pattern: /^((order=\d+|up=\d+|down=\d+)(,|$))+$/ }),
  protection: bool(),
  ostype: str({ enum: OSTYPES }),
  arch: str({ enum: ['amd64', 'i386', 'arm64', 'armhf', 'riscv32', 'riscv64'] }),
  timezone: str(),
  cmode: str({ enum: ['shell', 'console', 'tty'] }),
  console: bool(),
  tty: int({ minimum: 0, maximum: 6 }),
  hookscript: str(),
  debug: bool(),
  template: bool(),
  // No control characters except tab (PVE's entrypoint pattern).
  entrypoint: str({ pattern: /^[^\x00-\x08\x0a-\x1f\x7f]*$/ }),
  env: str({
    format: (v) => (v.split('\0').every((e) => /^\w+=[^\x00-\x1f\x7f]*$/.test(e)) ? undefined : 'invalid format - value does not look like a valid environment variable list (NAME=value, NUL separated)'),
  }),
};

export const configPatternProps: Array<[RegExp, PropSchema]> = [
  [/^net([0-9]|[12][0-9]|3[01])$/, netProp],
  [/^mp([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$/, mpProp],
  [/^dev([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$/, propertyStringProp(devFormat)],
  [/^unused([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$/, str()],
];

export function isConfigKey(key: string): boolean {
  return key in configProps || configPatternProps.some(([re]) => re.test(key)) || key === 'lock';
}

export function configSchema(extra: Record<string, PropSchema>): ParamSchema {
  return { props: { ...configProps, ...extra }, patternProps: configPatternProps };
}

export function splitTags(v: string): string[] {
  return v.split(/[,; ]+/).filter(Boolean);
}

/** Tags are stored lowercased, sorted, de-duplicated and ';'-joined. */
export function normalizeTags(v: string): string {
  return [...new Set(splitTags(v).map((t) => t.toLowerCase()))].sort().join(';');
}

export function randomHwaddr(): string {
  const b = randomBytes(3);
  return `BC:24:11:${[...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':')}`;
}

export function formatFor(key: string): PropertyFormat | undefined {
  if (key === 'rootfs') return rootfsFormat;
  if (/^mp\d+$/.test(key)) return mpFormat;
  if (/^net\d+$/.test(key)) return netFormat;
  if (key === 'features') return featuresFormat;
  if (/^dev\d+$/.test(key)) return devFormat;
  return undefined;
}

export function parseKey(key: string, value: string): PropertyValues {
  return parsePropertyString(formatFor(key)!, value, key);
}

export function printKey(key: string, values: PropertyValues): string {
  return printPropertyString(formatFor(key)!, values);
}

/** PVE::ParseUtils `split_list`: NUL-separated if there is a NUL, else on `,`, `;` and whitespace. */
export function splitList(v: unknown): string[] {
  if (v === undefined) return [];
  const text = String(v);
  if (text.includes('\0')) return text.split('\0');
  return text.replace(/[,;]/g, ' ').replace(/^\s+/, '').split(/\s+/).filter(Boolean);
}

/**
 * The value pve-container stores for a key it is given (Config.pm `update_pct_config` and
 * `vmconfig_apply_pending`): a NIC is parsed and re-printed (`parse_lxc_network` adds `type=veth` and a new random
 * hwaddr when none is given), mount points are re-printed (`print_ct_mountpoint`), tags go through
 * `get_unique_tags`, nameserver/searchdomain lists are joined with spaces; everything else (features, devN,
 * description…) is stored exactly as sent.
 */
export function storedValue(key: string, value: string | number): string | number {
  if (typeof value === 'number') return value;
  if (/^net\d+$/.test(key)) {
    const net = parseKey(key, value);
    net['type'] = 'veth';
    net['hwaddr'] ??= randomHwaddr();
    return printKey(key, net);
  }
  if (key === 'rootfs' || /^mp\d+$/.test(key)) return printKey(key, parseKey(key, value));
  if (key === 'tags') return normalizeTags(value);
  if (key === 'nameserver' || key === 'searchdomain') return splitList(value).join(' ');
  return value;
}

/** Keys a running CT takes immediately without any device work ("fastplug"). */
export const FASTPLUG = new Set(['description', 'onboot', 'startup', 'protection', 'hostname', 'hookscript', 'cores', 'tags', 'lock']);

/** Feature flags only root@pam (not even root's tokens) may change: all but nesting. */
export function rootOnlyFeatureChange(before: string | undefined, after: string | undefined): boolean {
  const parse = (v: string | undefined) => (v ? parseKey('features', v) : {});
  const a = parse(before);
  const b = parse(after);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (k !== 'nesting' && String(a[k] ?? '') !== String(b[k] ?? '')) return true;
  return false;
}
