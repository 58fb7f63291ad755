// Applies one layer (an OCI changeset) onto a rootfs directory. The rules of oci.md §3.2 in order: names
// are normalised and `..` refused, parents resolved inside the root, the final component never followed
// (an existing symlink is replaced, never written through), files created O_EXCL|O_NOFOLLOW with metadata
// set on the fd, hardlinks resolved inside the root, whiteouts applied to lower content only, directory
// metadata applied last and deepest first. Assumes nobody else writes to the tree meanwhile (the staging
// parent is 0700 and not mounted anywhere).
//
// Speed: entries are applied with synchronous fs calls on the main thread, straight from the tar parser
// (no per-entry stream, no promise round trip through libuv's threadpool per syscall: on small files that
// round trip costs more than the syscall). Decompression keeps running in the threadpool meanwhile. Only
// helper processes (mknod, mkfifo, setfattr) are awaited.
import { constants as fsc } from 'node:fs';
import {
  chownSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, mkdirSync, openSync,
  readdirSync, renameSync, rmSync, symlinkSync, writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { ProxmoxPodsError } from '../../errors';
import { asDecompressError, compressionOf, decompressor, DiffIdHasher, layerByteLimit, type ByteBudget } from './decompress';
import { IdMapError, LayerLimitError, MalformedLayerError, UnsafeLayerError } from './errors';
import type { ApplyOptions, IdMap } from './options';
import { entryComponents, fsPath, lstatOrUndefined, RootResolver } from './paths';
import { TarFraming, type TarRecord, type TarSink } from './tar-framing';
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

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** The regular file being written: its data arrives through data() between entry() and end(). */
interface OpenFile { fd: number; rec: TarRecord; rel: string; uid: number; gid: number; written: number }

class LayerApplier implements TarSink {
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
  private file: OpenFile | undefined;

  constructor(private readonly root: string, private readonly opts: ApplyOptions, private readonly layer?: string) {
    this.resolver = new RootResolver(root, (rel) => this.createParent(rel), layer);
    this.stats = {
      entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, aufsSkipped: 0, opaqueDirs: 0,
      devicesCreated: 0, devicesSkipped: 0, fifosCreated: 0, fifosSkipped: 0, xattrsApplied: 0, xattrsSkipped: 0,
      ownershipApplied: this.canChown,
    };
  }

  private createParent(rel: string): void {
    const abs = fsPath(this.resolver.abs(rel));
    mkdirSync(abs, { mode: 0o755 });
    if (this.canChown) chownSync(abs, mapId(this.opts.idmap, 'uid', 0, rel, this.layer), mapId(this.opts.idmap, 'gid', 0, rel, this.layer));
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

  /** Removes whatever is at `abs` (never following a final symlink); forgets cached directories when it was one. */
  private removeExisting(abs: string): void {
    const existing = lstatOrUndefined(abs);
    if (!existing) return;
    rmSync(fsPath(abs), { recursive: true, force: true });
    if (existing.isDirectory()) this.resolver.invalidate();
  }

  /**
   * Runs `create`, an exclusive creation (it fails with EEXIST when the name is taken, whatever is there,
   * a symlink included); on EEXIST removes the existing entry and creates again. Same effect as checking
   * first, one system call less for the usual new name.
   */
  private createReplacing<T>(abs: string, create: () => T): T {
    try {
      return create();
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
    this.removeExisting(abs);
    return create();
  }

  entry(rec: TarRecord): void | Promise<void> {
    this.stats.entries++;
    const parts = entryComponents(rec.name, this.layer);
    if (parts.length > this.opts.limits.maxDepth) throw new LayerLimitError(this.layer, 'maxDepth', this.opts.limits.maxDepth, `the depth of entry ${JSON.stringify(rec.name.slice(0, 80))}...`);
    if (parts.length === 0) {
      // Only a directory may stand for the root (umoci CVE-2021-29136: a root symlink redirected later layers).
      if (rec.type !== 'directory') throw new UnsafeLayerError(this.layer, rec.name, `the root entry is a ${rec.type}, only a directory may replace the rootfs root`);
      this.deferDir('', rec);
      return;
    }
    const base = parts[parts.length - 1]!;
    // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs and everything under them) is metadata, never content.
    if (parts.some((p, i) => p.startsWith(`${WH}${WH}`) && !(i === parts.length - 1 && p === OPAQUE))) {
      this.stats.aufsSkipped++;
      return;
    }
    if (base.startsWith(WH)) {
      this.whiteout(parts, rec.name);
      return;
    }
    parts.pop();
    const parent = this.resolver.resolveDir(parts, true, rec.name)!;
    const rel = parent === '' ? base : `${parent}/${base}`;
    const abs = this.resolver.abs(rel);
    const uid = mapId(this.opts.idmap, 'uid', rec.uid, rec.name, this.layer);
    const gid = mapId(this.opts.idmap, 'gid', rec.gid, rec.name, this.layer);

    switch (rec.type) {
      case 'file': {
        const fd = this.createReplacing(abs, () => openSync(fsPath(abs), CREATE_FLAGS, 0o600));
        this.file = { fd, rec, rel, uid, gid, written: 0 };
        return; // data() and end() follow
      }
      case 'directory':
        this.makeDir(abs);
        this.deferDir(rel, rec, uid, gid);
        this.stats.directories++;
        break;
      case 'symlink':
        if (rec.linkname === '') throw new UnsafeLayerError(this.layer, rec.name, 'the symlink has an empty target');
        this.createReplacing(abs, () => symlinkSync(fsPath(rec.linkname), fsPath(abs)));
        this.linkMeta(abs, uid, gid, rec.mtime);
        this.stats.symlinks++;
        break;
      case 'link':
        this.removeExisting(abs);
        this.hardlink(abs, rec);
        this.stats.hardlinks++;
        break;
      case 'character-device':
      case 'block-device':
        this.removeExisting(abs);
        if (!this.opts.allowDevices || !this.canChown) { this.stats.devicesSkipped++; return; }
        return this.viaTemp(abs, (tmp) => execa('mknod', ['-m', modeArg(rec.mode), tmp, rec.type === 'block-device' ? 'b' : 'c', String(rec.devmajor), String(rec.devminor)])).then(() => {
          this.linkMeta(abs, uid, gid, rec.mtime);
          this.stats.devicesCreated++;
          this.markUpper(rel);
          this.queueXattrs(rel, rec);
        });
      case 'fifo':
        this.removeExisting(abs);
        if (this.opts.fifos === 'skip') { this.stats.fifosSkipped++; return; }
        return this.viaTemp(abs, (tmp) => execa('mkfifo', ['-m', modeArg(rec.mode), tmp])).then(() => {
          this.linkMeta(abs, uid, gid, rec.mtime);
          this.stats.fifosCreated++;
          this.markUpper(rel);
          this.queueXattrs(rel, rec);
        });
    }
    this.markUpper(rel);
    this.queueXattrs(rel, rec);
  }

  data(piece: Buffer): void {
    const file = this.file;
    if (!file) return; // data of a non-file entry (or of a skipped one) is discarded
    let off = 0;
    while (off < piece.length) off += writeSync(file.fd, piece, off, piece.length - off);
    file.written += piece.length;
  }

  end(): void {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    const { fd, rec } = file;
    try {
      if (file.written !== rec.size) throw new MalformedLayerError(this.layer, `entry ${JSON.stringify(rec.name)} ended after ${file.written} of ${rec.size} bytes`);
      if (this.canChown) fchownSync(fd, file.uid, file.gid);
      // chmod after chown: chown clears setuid/setgid.
      fchmodSync(fd, rec.mode);
      futimesSync(fd, rec.mtime, rec.mtime);
    } finally {
      closeSync(fd);
    }
    this.stats.files++;
    this.markUpper(file.rel);
    this.queueXattrs(file.rel, rec);
  }

  /** Closes the file being written, if any (the layer failed mid-entry). */
  abort(): void {
    if (this.file) {
      try { closeSync(this.file.fd); } catch { /* already failing */ }
      this.file = undefined;
    }
  }

  /** mkdir, or keep an existing directory (its metadata is replaced later); anything else there is replaced. */
  private makeDir(abs: string): void {
    try {
      mkdirSync(fsPath(abs), { mode: 0o700 });
      return;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
    if (lstatOrUndefined(abs)?.isDirectory()) return;
    this.removeExisting(abs);
    mkdirSync(fsPath(abs), { mode: 0o700 });
  }

  private linkMeta(abs: string, uid: number, gid: number, mtime: number): void {
    if (this.canChown) lchownSync(fsPath(abs), uid, gid);
    lutimesSync(fsPath(abs), mtime, mtime);
  }

  /** Creates a node with a helper tool under an ASCII temp name (argv can't carry arbitrary bytes), then renames it into place. */
  private async viaTemp(abs: string, make: (tmp: string) => Promise<unknown>): Promise<void> {
    const tmp = `${Buffer.from(this.root, 'latin1').toString('utf8')}/.pods-node-${process.pid}-${this.tmpSeq++}`;
    await make(tmp);
    renameSync(tmp, fsPath(abs));
  }

  private hardlink(abs: string, rec: TarRecord): void {
    // Hardlink targets are relative to the archive root, not to the entry's directory.
    const parts = entryComponents(rec.linkname, this.layer);
    if (parts.length === 0) throw new UnsafeLayerError(this.layer, rec.name, 'the hardlink points at the root directory');
    const parent = this.resolver.resolveDir(parts.slice(0, -1), false, rec.linkname);
    const targetRel = parent === undefined ? undefined : parent === '' ? parts[parts.length - 1]! : `${parent}/${parts[parts.length - 1]!}`;
    const st = targetRel === undefined ? undefined : lstatOrUndefined(this.resolver.abs(targetRel));
    if (!st) throw new UnsafeLayerError(this.layer, rec.name, `the hardlink target ${JSON.stringify(rec.linkname)} does not exist in the rootfs`);
    if (st.isDirectory()) throw new UnsafeLayerError(this.layer, rec.name, `the hardlink target ${JSON.stringify(rec.linkname)} is a directory`);
    // link(2) does not follow a symlink target; no metadata is applied: it belongs to the shared inode.
    linkSync(fsPath(this.resolver.abs(targetRel!)), fsPath(abs));
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
    if (rec.xattrs.size === 0) return;
    for (const [name, value] of rec.xattrs) {
      // user.* is not permitted on symlinks by Linux; overlay bookkeeping is never wanted.
      if (this.opts.xattrs === 'skip' || !xattrWanted(name) || (rec.type === 'symlink' && name.startsWith('user.'))) { this.stats.xattrsSkipped++; continue; }
      this.xattrs.push({ path: rel, name, value });
    }
  }

  private whiteout(parts: string[], shown: string): void {
    const base = parts[parts.length - 1]!;
    if (base === OPAQUE) {
      const dir = this.resolver.resolveDir(parts.slice(0, -1), false, shown);
      this.stats.opaqueDirs++;
      if (dir === undefined || this.opaqueDone.has(dir)) return;
      this.opaqueDone.add(dir);
      this.pruneLower(dir);
      return;
    }
    const target = base.slice(WH.length);
    if (target === '' || target === '.' || target === '..') throw new UnsafeLayerError(this.layer, shown, `whiteout ${JSON.stringify(base)} names no removable entry (${target === '' ? 'empty name' : JSON.stringify(target)})`);
    this.stats.whiteouts++;
    const dir = this.resolver.resolveDir(parts.slice(0, -1), false, shown);
    if (dir === undefined) return;
    const rel = dir === '' ? target : `${dir}/${target}`;
    if (this.upper.has(rel)) return; // same-layer entries are never hidden
    if (this.upperAncestors.has(rel)) { this.pruneLower(rel); return; }
    const st = lstatOrUndefined(this.resolver.abs(rel));
    if (!st) return;
    rmSync(fsPath(this.resolver.abs(rel)), { recursive: true, force: true });
    this.dirMeta.delete(rel);
    if (st.isDirectory()) this.resolver.invalidate();
  }

  /** Removes everything under `dirRel` that this layer did not create; walks only the kept subtree. */
  private pruneLower(dirRel: string): void {
    const abs = this.resolver.abs(dirRel);
    let names: Buffer[];
    try {
      names = readdirSync(fsPath(abs), { encoding: 'buffer' });
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
      throw err;
    }
    let removedDir = false;
    for (const nameBuf of names) {
      const name = nameBuf.toString('latin1');
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const childAbs = this.resolver.abs(rel);
      if (this.upper.has(rel) || this.upperAncestors.has(rel)) {
        const st = lstatOrUndefined(childAbs);
        if (st?.isDirectory()) this.pruneLower(rel);
        continue;
      }
      const st = lstatOrUndefined(childAbs);
      rmSync(fsPath(childAbs), { recursive: true, force: true });
      if (st?.isDirectory()) removedDir = true;
    }
    if (removedDir) this.resolver.invalidate();
  }

  /** Directory metadata last, deepest first, on an fd opened without following links; then the xattrs. */
  async finish(): Promise<void> {
    const dirs = [...this.dirMeta.values()].sort((a, b) => depth(b.rel) - depth(a.rel));
    for (const d of dirs) {
      if (!this.resolver.isCanonical(d.rel)) continue; // replaced meanwhile: its entry no longer exists
      let fd: number;
      try {
        fd = openSync(fsPath(this.resolver.abs(d.rel)), DIR_FLAGS);
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') continue;
        throw err;
      }
      try {
        if (this.canChown) fchownSync(fd, d.uid, d.gid);
        fchmodSync(fd, d.mode);
        futimesSync(fd, d.mtime, d.mtime);
      } finally {
        closeSync(fd);
      }
    }
    const pending: PendingXattr[] = [];
    for (const x of this.xattrs) {
      if (!this.resolver.isCanonical(x.path) || !lstatOrUndefined(this.resolver.abs(x.path))) { this.stats.xattrsSkipped++; continue; }
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

function classify(err: unknown, layer?: string): unknown {
  const mapped = asDecompressError(err, layer);
  if (mapped instanceof ProxmoxPodsError) return mapped;
  return err ?? new Error('layer stream failed');
}

/** A layer blob being decompressed and hashed, possibly ahead of its turn (see unpackImage). */
export interface DecodedLayer {
  readonly digest?: string;
  /** Decompressed bytes, hashed and counted; its diffId is set once the last byte went through. */
  readonly hasher: DiffIdHasher;
  /** Settles when the blob was read, decoded and verified; resolves to the error of a failed stage. */
  readonly done: Promise<unknown>;
}

/**
 * Starts reading, decompressing and hashing `layer`. Decompression runs in the threadpool and stops once
 * `readAhead` decompressed bytes wait unread, so the next layer can be decoded while this one is applied.
 */
export function decodeLayer(layer: LayerInput, opts: ApplyOptions, imageBudget?: ByteBudget, readAhead?: number): DecodedLayer {
  const id = layer.digest;
  const compression = compressionOf(layer.mediaType, id);
  const hasher = new DiffIdHasher({ layer: id, expectedDiffId: layer.diffId, maxBytes: layerByteLimit(opts.limits, layer.compressedSize), imageBudget, readAhead });
  // The last stage is only written to here: this settles when the hasher has seen (and verified) every byte.
  const done = pipeline(layer.stream, decompressor(compression), hasher).then(() => undefined, (e: unknown) => e ?? new Error('layer stream failed'));
  return { digest: id, hasher, done };
}

/** Stops a decoded layer that will not be applied (an earlier layer failed) and waits for its streams to close. */
export async function discardDecoded(decoded: DecodedLayer): Promise<void> {
  decoded.hasher.destroy();
  await decoded.done;
}

/**
 * Applies a decoded layer onto `root` (a plain string path). Fails on a DiffID mismatch after the last byte:
 * the caller must then discard the rootfs (unpackImage does).
 */
export async function applyDecoded(root: string, decoded: DecodedLayer, opts: ApplyOptions): Promise<LayerStats> {
  const id = decoded.digest;
  const applier = new LayerApplier(Buffer.from(root, 'utf8').toString('latin1'), opts, id);
  const framing = new TarFraming(opts.limits, applier, id);
  const applied = pipeline(decoded.hasher, framing).then(() => undefined, (e: unknown) => e ?? new Error('layer stream failed'));
  const [applyError, decodeError] = await Promise.all([applied, decoded.done]);
  if (applyError !== undefined || decodeError !== undefined) {
    applier.abort();
    // A failing stage destroys the others, which then report a premature close: the project error is the cause
    // (a bomb or DiffID error in the hasher, an unsafe entry in the applier, a corrupt stream in the decoder).
    const errors = [applyError, decodeError].filter((e) => e !== undefined).map((e) => classify(e, id));
    throw errors.find((e) => e instanceof ProxmoxPodsError)
      ?? errors.find((e) => !['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED'].includes(errno(e) ?? ''))
      ?? errors[0];
  }
  await applier.finish();
  return { ...applier.stats, diffId: decoded.hasher.diffId!, bytes: decoded.hasher.bytes };
}

/**
 * Decompresses, hashes and applies one layer onto `root` (a plain string path). Fails on a DiffID
 * mismatch after the last byte: the caller must then discard the rootfs (unpackImage does).
 */
export async function applyLayer(root: string, layer: LayerInput, opts: ApplyOptions, imageBudget?: ByteBudget): Promise<LayerStats> {
  return applyDecoded(root, decodeLayer(layer, opts, imageBudget), opts);
}
