// OCI archives as an `ostemplate`, the way pve-container 6 (PVE 9.1) creates a container from one:
// src/PVE/LXC/Create.pm `archive_is_oci_format` (a `.tar` holding `oci-layout`, `index.json` and `blobs/`),
// `restore_oci_archive` (the image config mapped onto the CT config) and `resolve_oci_user` (User resolved against
// the image's /etc/passwd and /etc/group). The mapping is pure; reading the archive works on the uploaded bytes.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { z } from 'zod';
import { configSchema, indexSchema, manifestSchema } from '../../provider/oci/manifest';
import { compressionOf, decompressor } from '../../provider/oci/unpack';
import type { ConfigValues } from '../cluster';
import { parseKey, printKey } from '../lxc-config';

/** Raw `lxc.*` entries of a CT config (`$conf->{lxc}`): only the OCI create and the config file can set them. */
export type LxcEntries = Array<[string, string]>;

export interface OciLayerRef {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface OciArchiveImage {
  /** The image config's `config` object (Entrypoint, Cmd, Env, User, WorkingDir, StopSignal, Volumes…). */
  config: Record<string, unknown>;
  diffIds: string[];
  layers: OciLayerRef[];
}

export class OciArchiveError extends Error {}

const strip = (name: string) => name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');

/** All members of an uncompressed tar held in memory (names without a leading `./`). Directories map to empty buffers. */
export function tarMembers(data: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, Buffer>();
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => {
        out.set(header.type === 'directory' ? `${strip(header.name).replace(/\/?$/, '/')}` : strip(header.name), Buffer.concat(chunks));
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', () => resolve(out));
    ex.on('error', reject);
    Readable.from([data]).pipe(ex);
  });
}

/** `archive_is_oci_format`: only `.tar` names are looked into, then the three layout members must be there. */
export function isOciArchive(filename: string, members: ReadonlyMap<string, Buffer>): boolean {
  if (!filename.endsWith('.tar')) return false;
  return members.has('oci-layout') && members.has('index.json') && [...members.keys()].some((k) => k.startsWith('blobs/'));
}

function blob(members: ReadonlyMap<string, Buffer>, digest: unknown): Buffer {
  const m = /^sha256:([a-f0-9]{64})$/.exec(String(digest));
  if (!m) throw new OciArchiveError(`unsupported digest ${JSON.stringify(digest)}`);
  const bytes = members.get(`blobs/sha256/${m[1]}`);
  if (!bytes) throw new OciArchiveError(`blob ${digest} is missing from the archive`);
  // The archive is untrusted input to the node: a blob must hash to its name.
  if (createHash('sha256').update(bytes).digest('hex') !== m[1]) throw new OciArchiveError(`blob ${digest} does not match its digest`);
  return bytes;
}

function jsonOf(b: Buffer, what: string): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    throw new OciArchiveError(`${what} is not JSON`);
  }
}

/** A document of the archive, read against the image-spec's schema (untrusted input, like every byte of it). */
function parseDoc<S extends z.ZodType>(schema: S, b: Buffer, what: string): z.infer<S> {
  const parsed = schema.safeParse(jsonOf(b, what));
  if (!parsed.success) throw new OciArchiveError(`${what} is not a valid OCI document: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * The single image of an archive: index.json → (an index for linux/amd64 →) manifest → config and layers. PVE's
 * Rust side (PVE::RS::OCI::parse_and_extract_image) takes the archive's one image too.
 */
export function readOciImage(members: ReadonlyMap<string, Buffer>): OciArchiveImage {
  const top = members.get('index.json');
  if (!top) throw new OciArchiveError('the archive has no index.json');
  let desc = parseDoc(indexSchema, top, 'index.json').manifests[0];
  if (!desc) throw new OciArchiveError('index.json lists no image');
  let bytes = blob(members, desc.digest);
  const nested = indexSchema.safeParse(jsonOf(bytes, `manifest ${desc.digest}`));
  if (nested.success) {
    desc = nested.data.manifests.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64') ?? nested.data.manifests[0];
    if (!desc) throw new OciArchiveError('the image index lists no manifest');
    bytes = blob(members, desc.digest);
  }
  const manifest = parseDoc(manifestSchema, bytes, `manifest ${desc.digest}`);
  const config = parseDoc(configSchema, blob(members, manifest.config.digest), 'image config');
  const layers: OciLayerRef[] = manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, bytes: blob(members, l.digest) }));
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layers.length) throw new OciArchiveError(`the config lists ${diffIds.length} diff_ids for ${layers.length} layers`);
  return { config: (config.config ?? {}) as Record<string, unknown>, diffIds, layers };
}

/**
 * /etc/passwd and /etc/group as the layers leave them (for the in-memory backend, which extracts nothing). Later
 * layers win; a whiteout removes the file. Symlinked files are not followed (PVE resolves them inside a chroot).
 */
export async function etcFilesOf(layers: readonly OciLayerRef[]): Promise<{ passwd?: string; group?: string }> {
  const out: { passwd?: string; group?: string } = {};
  for (const layer of layers) {
    const tar = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const d = decompressor(compressionOf(layer.mediaType, layer.digest));
      d.on('data', (c: Buffer) => { chunks.push(c); });
      d.on('end', () => resolve(Buffer.concat(chunks)));
      d.on('error', reject);
      d.end(layer.bytes);
    });
    for (const [name, bytes] of await tarMembers(tar)) {
      for (const key of ['passwd', 'group'] as const) {
        if (name === `etc/${key}`) out[key] = bytes.toString('utf8');
        if (name === `etc/.wh.${key}` || name === 'etc/.wh..wh..opq') delete out[key];
      }
    }
  }
  return out;
}

/** Create.pm's `$has_ctrl_char` (its class skips \x09-\x0F, as PVE's does). */
const hasCtrl = (s: string) => /[\x00-\x08\x10-\x1F\x7F]/.test(s);

function checkedScalar(cfg: Record<string, unknown>, key: string): string | undefined {
  const v = cfg[key];
  if (v === undefined || v === null || v === '') return undefined;
  const s = String(v);
  if (hasCtrl(s)) throw new OciArchiveError(`OCI config value for '${key}' contains forbidden control characters!`);
  return s;
}

function checkedArray(cfg: Record<string, unknown>, key: string): string[] | undefined {
  const v = cfg[key];
  if (!Array.isArray(v)) return undefined;
  const a = v.map(String);
  if (a.some(hasCtrl)) throw new OciArchiveError(`OCI config array-value for '${key}' contains forbidden control characters!`);
  return a;
}

/** PVE::Tools::cmd2string: each argument shell-quoted unless it is plainly safe. */
export function cmd2string(argv: readonly string[]): string {
  return argv.map((a) => (/^[-_.a-zA-Z0-9/=:@+,%]+$/.test(a) ? a : `'${a.replace(/'/g, `'"'"'`)}'`)).join(' ');
}

/** Create.pm `resolve_oci_user`: [uid, gid, supplementary groups], each undefined where PVE leaves it undefined. */
export function resolveOciUser(userstr: string, passwd: string | undefined, group: string | undefined): { uid?: string; gid?: string; groups?: string } {
  const m = /^([^:]+)(?::([^:]+))?$/.exec(userstr);
  if (!m) throw new OciArchiveError(`OCI config value for 'User' has an invalid format`);
  const [, user, grp] = m as unknown as [string, string, string | undefined];
  const lookup = (file: string | undefined, matchIndex: number, value: string, retIndex: number): string | undefined => {
    for (const line of (file ?? '').split('\n')) {
      const fields = line.split(':');
      if (fields[matchIndex] !== undefined && fields[matchIndex] === value) return fields[retIndex];
    }
    return undefined;
  };
  let uid: string | undefined;
  let username: string | undefined;
  if (/^\d+$/.test(user)) {
    uid = user;
    username = lookup(passwd, 2, uid, 0);
  } else {
    username = user;
    uid = lookup(passwd, 0, username, 2);
  }
  let gid: string | undefined;
  let groups: string | undefined;
  if (grp !== undefined) gid = /^\d+$/.test(grp) ? grp : lookup(group, 0, grp, 2);
  else {
    if (uid !== undefined) gid = lookup(passwd, 2, uid, 3);
    if (username !== undefined && group !== undefined) {
      const ids: string[] = [];
      for (const line of group.split('\n')) {
        const [, , g, users] = line.split(':');
        if (g === undefined || users === undefined) continue;
        if (users.split(',').includes(username)) ids.push(g);
      }
      groups = ids.join(',');
    }
  }
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}), ...(groups !== undefined ? { groups } : {}) };
}

/**
 * Create.pm `restore_oci_archive`, after the extraction: maps the image config onto `conf` (returned as a new
 * object) and returns the raw `lxc` entries PVE pushes, plus the Volumes directories to create.
 */
export function applyOciConfig(
  conf: ConfigValues,
  cfg: Record<string, unknown>,
  etc: { passwd?: string; group?: string },
): { conf: ConfigValues; lxc: LxcEntries; volumes: string[]; log: string[] } {
  const out: ConfigValues = { ...conf };
  const lxc: LxcEntries = [];
  const log: string[] = [];
  const vols = cfg['Volumes'] && typeof cfg['Volumes'] === 'object' ? Object.keys(cfg['Volumes'] as object) : [];
  if (vols.some(hasCtrl)) throw new OciArchiveError('OCI config data-volumes path contains forbidden control characters!');
  const init = [...(checkedArray(cfg, 'Entrypoint') ?? []), ...(checkedArray(cfg, 'Cmd') ?? [])];
  if (init.length && init[0] !== '/sbin/init') {
    out['entrypoint'] = cmd2string(init);
    // "An entrypoint other than /sbin/init breaks the tty console mode."
    out['cmode'] = 'console';
    for (const key of Object.keys(out).filter((k) => /^net\d+$/.test(k))) {
      const net = parseKey(key, String(out[key]));
      if (net['host-managed'] === undefined) {
        log.push(`Auto-Enabling host-managed network for network device ${key}.`);
        net['host-managed'] = 1;
        out[key] = printKey(key, net);
      }
    }
  }
  const user = checkedScalar(cfg, 'User');
  if (user) {
    const { uid, gid, groups } = resolveOciUser(user, etc.passwd, etc.group);
    if (uid !== undefined) lxc.push(['lxc.init.uid', uid]);
    if (gid !== undefined) lxc.push(['lxc.init.gid', gid]);
    if (groups !== undefined) lxc.push(['lxc.init.groups', groups]);
  }
  const cwd = checkedScalar(cfg, 'WorkingDir');
  if (cwd) lxc.push(['lxc.init.cwd', cwd]);
  const env = checkedArray(cfg, 'Env');
  if (env?.length) out['env'] = env.join('\0');
  lxc.push(['lxc.signal.halt', checkedScalar(cfg, 'StopSignal') ?? 'SIGTERM']);
  return { conf: out, lxc, volumes: vols, log };
}
