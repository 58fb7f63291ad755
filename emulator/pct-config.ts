// The container config file as pve-container writes and reads it (src/PVE/LXC/Config.pm `write_pct_config`,
// `parse_pct_config`; pending-delete handling from pve-guest-common src/PVE/AbstractConfig.pm). Every change the
// emulator makes goes through the file text, so what a client reads back is what PVE's parser would give:
// `description` as `#` comment lines (empty: no line at all, so the key is gone), values trimmed, booleans and
// integers typed, numbers kept as written, `env` as `lxc.environment.runtime` lines.
import type { ConfigValues } from './cluster';
import { configProps } from './lxc-config';

export interface PctConfig {
  conf: ConfigValues;
  pending: ConfigValues;
  /** Keys in the pending section's `delete:` line. */
  pendingDelete: Set<string>;
  snapshots: Record<string, ConfigValues>;
  /** Raw `lxc.*` lines of the main section other than the environment (`$conf->{lxc}`: only the OCI create sets them). */
  lxc?: Array<[string, string]>;
}

/** PVE::ParseUtils `encode_text`: control and high-bit characters, ':' and '%' percent-escaped (UTF-8 bytes). */
function encodeText(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const safe = (byte >= 0x20 && byte <= 0x24) || (byte >= 0x26 && byte <= 0x39) || (byte >= 0x3b && byte <= 0x7e);
    out += safe ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodeText(data: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(data, 'utf8');
  const hex = (b: number | undefined) => b !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(b));
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0x25 && hex(src[i + 1]) && hex(src[i + 2])) {
      bytes.push(parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16));
      i += 2;
    } else bytes.push(src[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** One section of the file (`generate_raw_config`): description comments first, then keys sorted, then env. */
function section(conf: ConfigValues, extra: Record<string, string> = {}): string {
  let raw = '';
  const descr = conf['description'] === undefined ? '' : String(conf['description']);
  // split(/\n/) drops trailing empty fields, so trailing newlines vanish and an empty description writes nothing.
  const lines = descr.split('\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  for (const l of lines) raw += `#${encodeText(l)}\n`;
  const all: Record<string, string | number> = { ...conf, ...extra };
  for (const key of Object.keys(all).sort()) {
    if (key === 'description' || key === 'env') continue;
    const value = String(all[key]);
    if (/\n/.test(value)) throw new Error(`detected invalid newline inside property '${key}'`);
    raw += `${key}: ${value}\n`;
  }
  const env = conf['env'];
  if (env) for (const v of String(env).split(/\0+/)) raw += `lxc.environment.runtime: ${v}\n`;
  return raw;
}

/** `write_pct_config`: main section, `[pve:pending]` (with its `delete:` line), then snapshots by name. */
export function writePctConfig(c: PctConfig): string {
  let raw = section(c.conf);
  for (const [k, v] of c.lxc ?? []) raw += `${k}: ${v}\n`;
  if (Object.keys(c.pending).length || c.pendingDelete.size) {
    raw += '\n[pve:pending]\n';
    raw += section(c.pending, c.pendingDelete.size ? { delete: [...c.pendingDelete].sort().join(',') } : {});
  }
  for (const name of Object.keys(c.snapshots).sort()) raw += `\n[${name}]\n${section(c.snapshots[name]!)}`;
  return raw;
}

/** `check_type` of Config.pm: booleans and integers typed; numbers and strings kept as written. */
function typed(key: string, value: string): string | number {
  const prop = configProps[key] ?? (key === 'snaptime' ? { type: 'integer' as const } : undefined);
  if (!prop) return value;
  if (prop.type === 'boolean') {
    if (value === '1' || /^(on|yes|true)$/i.test(value)) return 1;
    if (value === '0' || /^(off|no|false)$/i.test(value)) return 0;
    return value; // PVE warns "unable to parse value" and keeps the text
  }
  if (prop.type === 'integer') return /^\d+$/.test(value) ? parseInt(value, 10) : value;
  return value;
}

/** `parse_pct_config` (non-strict: what it would only warn about is kept as PVE keeps it). */
export function parsePctConfig(raw: string): PctConfig {
  const res: PctConfig = { conf: {}, pending: {}, pendingDelete: new Set(), snapshots: {} };
  let conf = res.conf;
  let descr = '';
  let sectionName = '';
  const flushDescr = () => {
    if (descr) conf['description'] = descr;
    descr = '';
  };
  for (const line of raw.split('\n')) {
    if (/^\s*$/.test(line)) continue;
    if (/^\[pve:pending\]\s*$/i.test(line)) {
      flushDescr();
      sectionName = 'pending';
      conf = res.pending;
      continue;
    }
    const snap = /^\[([a-z][a-z0-9_-]+)\]\s*$/i.exec(line);
    if (snap) {
      flushDescr();
      sectionName = snap[1]!;
      conf = res.snapshots[sectionName] = {};
      continue;
    }
    const comment = /^#(.*)$/.exec(line);
    if (comment) {
      descr += `${decodeText(comment[1]!)}\n`;
      continue;
    }
    const lxc = /^(lxc\.[a-z0-9_\-.]+)(:|\s*=)\s*(.*?)\s*$/.exec(line);
    if (lxc) {
      if (lxc[1] === 'lxc.environment.runtime') conf['env'] = conf['env'] === undefined ? lxc[3]! : `${conf['env']}\0${lxc[3]}`;
      else if (sectionName === '') (res.lxc ??= []).push([lxc[1]!, lxc[3]!]);
      continue;
    }
    const del = /^delete:\s*(.*\S)\s*$/.exec(line);
    if (del) {
      if (sectionName === 'pending') for (const k of del[1]!.replace(/[,;]/g, ' ').trim().split(/\s+/)) res.pendingDelete.add(k);
      continue;
    }
    const kv = /^([a-z][a-z_]*\d*):\s*(.+?)\s*$/.exec(line);
    if (kv) conf[kv[1]!] = typed(kv[1]!, kv[2]!);
  }
  flushDescr();
  return res;
}
