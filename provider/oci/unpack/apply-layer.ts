// Applies one layer (an OCI changeset) onto a rootfs directory. The rules of oci.md §3.2 in order: names
// are normalised and `..` refused, parents resolved inside the root, the final component never followed
// (an existing symlink is replaced, never written through), files created O_EXCL|O_NOFOLLOW with metadata
// set on the fd, hardlinks resolved inside the root, whiteouts applied to lower content only, directory
// metadata applied last and deepest first. Assumes nobody else writes to the tree meanwhile (the staging
// parent is 0700 and not mounted anywhere).
import { constants as fsc } from 'node:fs';
import { chown, link, lutimes, lchown, mkdir, open, readdir, rename, rm, symlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import * as tar from 'tar-stream';
import { ProxmoxPodsError } from '../../errors';
import { asDecompressError, compressionOf, decompressor, DiffIdHasher, layerByteLimit, type ByteBudget } from './decompress';
import { IdMapError, LayerLimitError, MalformedLayerError, UnsafeLayerError } from './errors';
import type { ApplyOptions, IdMap } from './options';
import { entryComponents, fsPath, lstatOrUndefined, RootResolver } from './paths';
import { TarFraming, type TarRecord } from './tar-framing';
import { applyXattrs, xattrWanted, type PendingXattr } from './xattrs';

export interface LayerInput {
  /** The blob as stored (compressed per mediaType). */
  stream: Readable;
  mediaType: string;
  /** Layer digest, used in error messages. */
  digest?: string;
  /** Expected `sha256:` of the decompressed tar (config rootfs.diff_ids[i]). */
  diffId?: string;
  /** Compressed size, for the ratio limit. */
  compressedSize?: number;
}

export interface LayerStats {
  diffId: string;
  bytes: number;
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  whiteouts: number;
  /** AUFS metadata entries (.wh..wh.plnk...) ignored. */
  aufsSkipped: number;
  opaqueDirs: number;
  devicesCreated: number;
  devicesSkipped: number;
  fifosCreated: number;
  fifosSkipped: number;
  xattrsApplied: number;
  xattrsSkipped: number;
  /** False when not running as root: ownership stayed with the unpacking user. */
  ownershipApplied: boolean;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;

/** Maps an in-container id to the host id, or throws naming the file. */
export function mapId(idmap: IdMap | null, kind: 'uid' | 'gid', id: number, path: string, layer?: string): number {
  if (!idmap) return id;
  const range = idmap[kind];
  if (id < range.container || id >= range.container + range.size) throw new IdMapError(layer, path, kind, id, range.size);
  return range.host + (id - range.container);
}

interface DirMeta { rel: string; mode: number; uid: number; gid: number; mtime: number }

class LayerApplier {
  readonly stats: Omit<LayerStats, 'diffId' | 'bytes'>;
  private readonly resolver: RootResolver;
  /** Real relative paths this layer created or replaced: whiteouts never hide them. */
  private readonly upper = new Set<string>();
  private readonly upperAncestors = new Set<string>();
  private readonly opaqueDone = new Set<string>();
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly xattrs: PendingXattr[] = [];
  private readonly canChown = process.getuid?.() === 0;
  private tmpSeq = 0;

  constructor(private readonly root: string, private readonly opts: ApplyOptions, private readonly layer?: string) {
    this.resolver = new RootResolver(root, (rel) => this.createParent(rel), layer);
    this.stats = {
      entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, aufsSkipped: 0, opaqueDirs: 0,
      devicesCreated: 0, devicesSkipped: 0, fifosCreated: 0, fifosSkipped: 0, xattrsApplied: 0, xattrsSkipped: 0,
      ownershipApplied: this.canChown,
    };
  }

  private async createParent(rel: string): Promise<void> {
    const abs = this.resolver.abs(rel);
    await mkdir(fsPath(abs), { mode: 0o755 });
    if (this.canChown) await chown(fsPath(abs), mapId(this.opts.idmap, 'uid', 0, rel, this.layer), mapId(this.opts.idmap, 'gid', 0, rel, this.layer));
  }

  private markUpper(rel: string): void {
    this.upper.add(rel);
    let i = rel.lastIndexOf('/');
    while (i > 0) {
      const anc = rel.slice(0, i);
      if (this.upperAncestors.has(anc)) break;
      this.upperAncestors.add(anc);
      i = anc.lastIndexOf('/');
    }
  }

  async apply(rec: TarRecord, data: AsyncIterable<Buffer>): Promise<void> {
    this.stats.entries++;
    const parts = entryComponents(rec.name, this.layer);
    if (parts.length > this.opts.limits.maxDepth) throw new LayerLimitError(this.layer, 'maxDepth', this.opts.limits.maxDepth, `the depth of entry ${JSON.stringify(rec.name.slice(0, 80))}...`);
    if (parts.length === 0) {
      // Only a directory may stand for the root (umoci CVE-2021-29136: a root symlink redirected later layers).
      if (rec.type !== 'directory') throw new UnsafeLayerError(this.layer, rec.name, `the root entry is a ${rec.type}, only a directory may replace the rootfs root`);
      this.deferDir('', rec);
      return drain(data);
    }
    const base = parts[parts.length - 1]!;
    // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs and everything under them) is metadata, never content.
    if (parts.some((p, i) => p.startsWith(`${WH}${WH}`) && !(i === parts.length - 1 && p === OPAQUE))) {
      this.stats.aufsSkipped++;
      return drain(data);
    }
    if (base.startsWith(WH)) {
      await this.whiteout(parts, rec.name);
      return drain(data);
    }
    const parent = (await this.resolver.resolveDir(parts.slice(0, -1), true, rec.name))!;
    const rel = parent === '' ? base : `${parent}/${base}`;
    const abs = this.resolver.abs(rel);
    const uid = mapId(this.opts.idmap, 'uid', rec.uid, rec.name, this.layer);
    const gid = mapId(this.opts.idmap, 'gid', rec.gid, rec.name, this.layer);

    const existing = await lstatOrUndefined(abs);
    if (existing && !(existing.isDirectory() && rec.type === 'directory')) {
      await rm(fsPath(abs), { recursive: true, force: true });
      if (existing.isDirectory()) this.resolver.invalidate();
    }

    switch (rec.type) {
      case 'directory':
        if (!existing || !existing.isDirectory()) await mkdir(fsPath(abs), { mode: 0o700 });
        this.deferDir(rel, rec, uid, gid);
        this.stats.directories++;
        await drain(data);
        break;
      case 'file':
        await this.writeFile(abs, rec, data, uid, gid);
        this.stats.files++;
        break;
      case 'symlink':
        await drain(data);
        if (rec.linkname === '') throw new UnsafeLayerError(this.layer, rec.name, 'the symlink has an empty target');
        await symlink(fsPath(rec.linkname), fsPath(abs));
        await this.linkMeta(abs, uid, gid, rec.mtime);
        this.stats.symlinks++;
        break;
      case 'link':
        await drain(data);
        await this.hardlink(abs, rec);
        this.stats.hardlinks++;
        break;
      case 'character-device':
      case 'block-device':
        await drain(data);
        if (!this.opts.allowDevices || !this.canChown) { this.stats.devicesSkipped++; return; }
        await this.viaTemp(abs, (tmp) => execa('mknod', ['-m', modeArg(rec.mode), tmp, rec.type === 'block-device' ? 'b' : 'c', String(rec.devmajor), String(rec.devminor)]));
        await this.linkMeta(abs, uid, gid, rec.mtime);
        this.stats.devicesCreated++;
        break;
      case 'fifo':
        await drain(data);
        if (this.opts.fifos === 'skip') { this.stats.fifosSkipped++; return; }
        await this.viaTemp(abs, (tmp) => execa('mkfifo', ['-m', modeArg(rec.mode), tmp]));
        await this.linkMeta(abs, uid, gid, rec.mtime);
        this.stats.fifosCreated++;
        break;
    }
    this.markUpper(rel);
    this.queueXattrs(rel, rec);
  }

  private async writeFile(abs: string, rec: TarRecord, data: AsyncIterable<Buffer>, uid: number, gid: number): Promise<void> {
    const fh = await open(fsPath(abs), CREATE_FLAGS, 0o600);
    try {
      let written = 0;
      for await (const chunk of data) {
        await fh.write(chunk as Buffer);
        written += (chunk as Buffer).length;
      }
      if (written !== rec.size) throw new MalformedLayerError(this.layer, `entry ${JSON.stringify(rec.name)} ended after ${written} of ${rec.size} bytes`);
      if (this.canChown) await fh.chown(uid, gid);
      // chmod after chown: chown clears setuid/setgid.
      await fh.chmod(rec.mode);
      await fh.utimes(rec.mtime, rec.mtime);
    } finally {
      await fh.close();
    }
  }

  private async linkMeta(abs: string, uid: number, gid: number, mtime: number): Promise<void> {
    if (this.canChown) await lchown(fsPath(abs), uid, gid);
    await lutimes(fsPath(abs), mtime, mtime);
  }

  /** Creates a node with a helper tool under an ASCII temp name (argv can't carry arbitrary bytes), then renames it into place. */
  private async viaTemp(abs: string, make: (tmp: string) => Promise<unknown>): Promise<void> {
    const tmp = `${Buffer.from(this.root, 'latin1').toString('utf8')}/.pods-node-${process.pid}-${this.tmpSeq++}`;
    await make(tmp);
    await rename(tmp, fsPath(abs));
  }

  private async hardlink(abs: string, rec: TarRecord): Promise<void> {
    // Hardlink targets are relative to the archive root, not to the entry's directory.
    const parts = entryComponents(rec.linkname, this.layer);
    if (parts.length === 0) throw new UnsafeLayerError(this.layer, rec.name, 'the hardlink points at the root directory');
    const parent = await this.resolver.resolveDir(parts.slice(0, -1), false, rec.linkname);
    const targetRel = parent === undefined ? undefined : parent === '' ? parts[parts.length - 1]! : `${parent}/${parts[parts.length - 1]!}`;
    const st = targetRel === undefined ? undefined : await lstatOrUndefined(this.resolver.abs(targetRel));
    if (!st) throw new UnsafeLayerError(this.layer, rec.name, `the hardlink target ${JSON.stringify(rec.linkname)} does not exist in the rootfs`);
    if (st.isDirectory()) throw new UnsafeLayerError(this.layer, rec.name, `the hardlink target ${JSON.stringify(rec.linkname)} is a directory`);
    // link(2) does not follow a symlink target; no metadata is applied: it belongs to the shared inode.
    await link(fsPath(this.resolver.abs(targetRel!)), fsPath(abs));
  }

  private deferDir(rel: string, rec: TarRecord, uid?: number, gid?: number): void {
    this.dirMeta.set(rel, {
      rel, mode: rec.mode,
      uid: uid ?? mapId(this.opts.idmap, 'uid', rec.uid, rec.name, this.layer),
      gid: gid ?? mapId(this.opts.idmap, 'gid', rec.gid, rec.name, this.layer),
      mtime: rec.mtime,
    });
    if (rel !== '') this.markUpper(rel);
    this.queueXattrs(rel, rec);
  }

  private queueXattrs(rel: string, rec: TarRecord): void {
    for (const [name, value] of rec.xattrs) {
      // user.* is not permitted on symlinks by Linux; overlay bookkeeping is never wanted.
      if (this.opts.xattrs === 'skip' || !xattrWanted(name) || (rec.type === 'symlink' && name.startsWith('user.'))) { this.stats.xattrsSkipped++; continue; }
      this.xattrs.push({ path: rel, name, value });
    }
  }

  private async whiteout(parts: string[], shown: string): Promise<void> {
    const base = parts[parts.length - 1]!;
    if (base === OPAQUE) {
      const dir = await this.resolver.resolveDir(parts.slice(0, -1), false, shown);
      this.stats.opaqueDirs++;
      if (dir === undefined || this.opaqueDone.has(dir)) return;
      this.opaqueDone.add(dir);
      await this.pruneLower(dir);
      return;
    }
    const target = base.slice(WH.length);
    if (target === '' || target === '.' || target === '..') throw new UnsafeLayerError(this.layer, shown, `whiteout ${JSON.stringify(base)} names no removable entry (${target === '' ? 'empty name' : JSON.stringify(target)})`);
    this.stats.whiteouts++;
    const dir = await this.resolver.resolveDir(parts.slice(0, -1), false, shown);
    if (dir === undefined) return;
    const rel = dir === '' ? target : `${dir}/${target}`;
    if (this.upper.has(rel)) return; // same-layer entries are never hidden
    if (this.upperAncestors.has(rel)) { await this.pruneLower(rel); return; }
    const st = await lstatOrUndefined(this.resolver.abs(rel));
    if (!st) return;
    await rm(fsPath(this.resolver.abs(rel)), { recursive: true, force: true });
    this.dirMeta.delete(rel);
    if (st.isDirectory()) this.resolver.invalidate();
  }

  /** Removes everything under `dirRel` that this layer did not create; walks only the kept subtree. */
  private async pruneLower(dirRel: string): Promise<void> {
    const abs = this.resolver.abs(dirRel);
    let names: Buffer[];
    try {
      names = await readdir(fsPath(abs), { encoding: 'buffer' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    let removedDir = false;
    for (const nameBuf of names) {
      const name = nameBuf.toString('latin1');
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const childAbs = this.resolver.abs(rel);
      if (this.upper.has(rel) || this.upperAncestors.has(rel)) {
        const st = await lstatOrUndefined(childAbs);
        if (st?.isDirectory()) await this.pruneLower(rel);
        continue;
      }
      const st = await lstatOrUndefined(childAbs);
      await rm(fsPath(childAbs), { recursive: true, force: true });
      if (st?.isDirectory()) removedDir = true;
    }
    if (removedDir) this.resolver.invalidate();
  }

  /** Directory metadata last, deepest first, on an fd opened without following links; then the xattrs. */
  async finish(): Promise<void> {
    const dirs = [...this.dirMeta.values()].sort((a, b) => depth(b.rel) - depth(a.rel));
    for (const d of dirs) {
      if (!(await this.resolver.isCanonical(d.rel))) continue; // replaced meanwhile: its entry no longer exists
      let fh;
      try {
        fh = await open(fsPath(this.resolver.abs(d.rel)), DIR_FLAGS);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') continue;
        throw err;
      }
      try {
        if (this.canChown) await fh.chown(d.uid, d.gid);
        await fh.chmod(d.mode);
        await fh.utimes(d.mtime, d.mtime);
      } finally {
        await fh.close();
      }
    }
    const pending: PendingXattr[] = [];
    for (const x of this.xattrs) {
      if (!(await this.resolver.isCanonical(x.path)) || !(await lstatOrUndefined(this.resolver.abs(x.path)))) { this.stats.xattrsSkipped++; continue; }
      pending.push({ ...x, path: this.resolver.abs(x.path) });
    }
    try {
      await applyXattrs(pending);
    } catch (err) {
      throw new UnsafeLayerError(this.layer, undefined, `setting extended attributes failed: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`);
    }
    this.stats.xattrsApplied += pending.length;
  }
}

function depth(rel: string): number {
  return rel === '' ? 0 : rel.split('/').length;
}

function modeArg(mode: number): string {
  return (mode & 0o7777).toString(8);
}

async function drain(data: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of data) { /* discard */ }
}

function classify(err: unknown, layer?: string): unknown {
  const mapped = asDecompressError(err, layer);
  if (mapped instanceof ProxmoxPodsError) return mapped;
  const message = (err as Error)?.message ?? String(err);
  if (/Invalid tar header|Unexpected end of data|Header exceeds max size/.test(message)) return new MalformedLayerError(layer, message, { cause: err });
  return err;
}

/**
 * Decompresses, hashes and applies one layer onto `root` (a plain string path). Fails on a DiffID
 * mismatch after the last byte: the caller must then discard the rootfs (unpackImage does).
 */
export async function applyLayer(root: string, layer: LayerInput, opts: ApplyOptions, imageBudget?: ByteBudget): Promise<LayerStats> {
  const id = layer.digest;
  const compression = compressionOf(layer.mediaType, id);
  const hasher = new DiffIdHasher({ layer: id, expectedDiffId: layer.diffId, maxBytes: layerByteLimit(opts.limits, layer.compressedSize), imageBudget });
  const framing = new TarFraming(opts.limits, id);
  // Names are taken from the framing's raw bytes; latin1 only keeps tar-stream's own decoding lossless.
  const extract = tar.extract({ filenameEncoding: 'latin1' } as Parameters<typeof tar.extract>[0]);
  const applier = new LayerApplier(Buffer.from(root, 'utf8').toString('latin1'), opts, id);
  const flow = pipeline(layer.stream, decompressor(compression), hasher, framing, extract as unknown as NodeJS.WritableStream).then(() => undefined, (e: unknown) => e ?? new Error('layer stream failed'));

  let consumerError: unknown;
  try {
    for await (const entry of extract) {
      const rec = framing.shift();
      if (!rec || rec.size !== entry.header.size) throw new MalformedLayerError(id, `tar framing lost step at entry ${JSON.stringify(entry.header.name)}`);
      await applier.apply(rec, entry as AsyncIterable<Buffer>);
    }
  } catch (err) {
    consumerError = err;
    extract.destroy();
  }
  const flowError = await flow;
  if (flowError !== undefined || consumerError !== undefined) {
    // The stream stage that failed first is the root cause (a bomb or DiffID error destroys the entry streams).
    if (flowError instanceof ProxmoxPodsError) throw flowError;
    if (consumerError instanceof ProxmoxPodsError) throw consumerError;
    throw classify(flowError ?? consumerError, id);
  }
  await applier.finish();
  return { ...applier.stats, diffId: hasher.diffId!, bytes: hasher.bytes };
}
