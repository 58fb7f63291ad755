// unpackImage: layers applied in order into a private staging rootfs, which becomes `target` only when
// every layer verified (DiffID) and applied. Any failure removes the staging tree, so a half-unpacked
// image is never visible at `target`.
import { createReadStream } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { applyDecoded, decodeLayer, discardDecoded, mapId, type DecodedLayer, type LayerStats } from './apply-layer';
import { UnpackOptionsError } from './errors';
import { ApplyOptionsSchema, type ApplyOptionsInput } from './options';
import { compressionOf, type ByteBudget } from './decompress';

export { applyLayer, mapId, type LayerInput, type LayerStats } from './apply-layer';
export * from './errors';
export * from './options';
export { TarFraming, type TarRecord, type TarSink } from './tar-framing';
export { DiffIdHasher, decompressor, compressionOf } from './decompress';

export interface UnpackLayer {
  /** A blob file (e.g. in the content store) or an already open stream of it. */
  path?: string;
  stream?: Readable;
  mediaType: string;
  digest: string;
  diffId?: string;
  /** Compressed size, for the ratio limit; taken from the file when `path` is given. */
  size?: number;
}

export interface UnpackImageOptions extends ApplyOptionsInput {
  layers: UnpackLayer[];
  /** Directory to create; must not exist yet. */
  target: string;
}

export interface UnpackStats {
  layers: LayerStats[];
  bytes: number;
  entries: number;
  devicesSkipped: number;
  xattrsSkipped: number;
}

/**
 * Decompressed bytes of the next layer that may wait in memory while the current one is applied. Applying
 * small files is bound by syscalls on the main thread and big files by decompression in the threadpool, so
 * overlapping the two across layers hides much of the decompression.
 */
export const READ_AHEAD_BYTES = 64 * 1024 * 1024;

const TargetSchema = z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path');

async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Unpacks `layers` (base first) into `target`. The staging directory sits next to the target
 * (same filesystem, so the final rename is atomic) with mode 0700: setuid binaries of a half-unpacked
 * tree are never reachable by other users (umoci #181).
 */
export async function unpackImage(options: UnpackImageOptions): Promise<UnpackStats> {
  const { layers, target, ...rest } = options;
  const parsed = TargetSchema.safeParse(target);
  if (!parsed.success) throw new UnpackOptionsError('target', `${JSON.stringify(target)} ${parsed.error.issues[0]?.message}`, 'pass an absolute directory path');
  const opts = ApplyOptionsSchema.parse(rest);
  if (await exists(target)) throw new UnpackOptionsError('target', `${target} already exists`, 'remove it or choose a new directory');
  for (const [i, l] of layers.entries()) {
    if ((l.path === undefined) === (l.stream === undefined)) throw new UnpackOptionsError(`layers[${i}]`, 'needs exactly one of path or stream');
    compressionOf(l.mediaType, l.digest); // an unsupported layer type fails before anything is written
  }

  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.staging-`));
  await chmod(staging, 0o700);
  const rootfs = join(staging, 'rootfs');
  try {
    await mkdir(rootfs, { mode: 0o755 });
    if (process.getuid?.() === 0) await chown(rootfs, mapId(opts.idmap, 'uid', 0, ''), mapId(opts.idmap, 'gid', 0, ''));
    const budget: ByteBudget = { used: 0, max: opts.limits.maxImageBytes };
    const stats: LayerStats[] = [];
    const decode = async (layer: UnpackLayer, readAhead?: number): Promise<DecodedLayer> => {
      const size = layer.size ?? (layer.path !== undefined ? (await stat(layer.path)).size : undefined);
      const stream = layer.stream ?? createReadStream(layer.path!, { highWaterMark: 1024 * 1024 });
      return decodeLayer({ stream, mediaType: layer.mediaType, digest: layer.digest, diffId: layer.diffId, compressedSize: size }, opts, budget, readAhead);
    };
    // Layers are applied strictly in order; the next one is decompressed and hashed meanwhile (in the
    // threadpool, up to READ_AHEAD_BYTES ahead). Its verification still gates it: a DiffID mismatch fails
    // the unpack when that layer's turn comes, and nothing is renamed to `target` before every layer passed.
    let current: DecodedLayer | undefined;
    let next: DecodedLayer | undefined;
    try {
      for (let i = 0; i < layers.length; i++) {
        current = next ?? await decode(layers[i]!);
        next = undefined;
        if (i + 1 < layers.length) next = await decode(layers[i + 1]!, READ_AHEAD_BYTES);
        stats.push(await applyDecoded(rootfs, current, opts));
        current = undefined;
      }
    } catch (err) {
      for (const pending of [current, next]) if (pending) await discardDecoded(pending);
      throw err;
    }
    await rename(rootfs, target);
    await rm(staging, { recursive: true, force: true });
    return {
      layers: stats,
      bytes: budget.used,
      entries: stats.reduce((n, s) => n + s.entries, 0),
      devicesSkipped: stats.reduce((n, s) => n + s.devicesSkipped, 0),
      xattrsSkipped: stats.reduce((n, s) => n + s.xattrsSkipped, 0),
    };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}
