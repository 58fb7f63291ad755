// Decompression stages for a layer blob, chosen by media type, plus the hashing stage that turns the
// decompressed stream into its DiffID in the same pass and enforces the byte budget (the bomb guard:
// a layer fails as soon as one byte too many arrives, so disk use stays bounded by the limit).
import { Transform, PassThrough, type Duplex, type TransformCallback } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { execa } from 'execa';
import { layerCompression, type LayerCompression } from '../media-types';
import { ProxmoxPodsError } from '../../errors';
import { DecompressError, DiffIdMismatchError, LayerLimitError } from './errors';

/** Shared across the layers of one image so `maxImageBytes` counts all of them. */
export interface ByteBudget { used: number; readonly max: number }

export function compressionOf(mediaType: string, layer?: string): LayerCompression {
  const compression = layerCompression(mediaType);
  if (!compression) throw new DecompressError(layer, `unsupported layer media type ${JSON.stringify(mediaType)} (expected an OCI/Docker tar, tar+gzip or tar+zstd layer)`);
  return compression;
}

/**
 * The stage that decodes `compression`. zstd runs as the `zstd` binary (Node 24's zlib zstd is still
 * experimental); its default decoder window cap (128 MiB, no `--long`/`--memory`) doubles as a bomb guard.
 */
/** Output chunk of the gunzip stage: each chunk is one threadpool round trip, so fewer, larger ones. */
const GUNZIP_CHUNK = 256 * 1024;
/** How far decompression may run ahead of the (main-thread) tar application, per stage. */
export const STAGE_BUFFER = 4 * 1024 * 1024;

export function decompressor(compression: LayerCompression): Duplex {
  switch (compression) {
    case 'gzip': return createGunzip({ chunkSize: GUNZIP_CHUNK, highWaterMark: STAGE_BUFFER } as ZlibOptions); // Transform options pass through
    case 'zstd': return execa('zstd', ['-d', '-c', '-q'], { buffer: false, stderr: 'pipe', stripFinalNewline: true }).duplex();
    case 'none': return new PassThrough();
  }
}

/** Maps a stage's raw error (zlib code, execa failure) to a DecompressError naming the layer. */
export function asDecompressError(err: unknown, layer?: string): unknown {
  if (err instanceof ProxmoxPodsError) return err;
  const e = err as { code?: unknown; name?: unknown; stderr?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) return new DecompressError(layer, `gzip: ${String(e.message)}`, { cause: err });
  if (e?.name === 'ExecaError') {
    const detail = typeof e.stderr === 'string' && e.stderr.trim() ? e.stderr.trim().split('\n').slice(-1)[0] : String(e.message).split('\n')[0];
    return new DecompressError(layer, `zstd: ${detail}`, { cause: err });
  }
  return err;
}

export interface DiffIdHasherOptions {
  layer?: string;
  /** `sha256:<hex>` from the image config; omitted = compute only. */
  expectedDiffId?: string;
  maxBytes: number;
  imageBudget?: ByteBudget;
  /** Decompressed bytes the hasher may hold for a consumer that is not reading yet (layer read-ahead). */
  readAhead?: number;
}

/** Passes bytes through, hashing and counting them; checks the DiffID when the stream ends. */
export class DiffIdHasher extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  diffId: string | undefined;

  constructor(private readonly opts: DiffIdHasherOptions) {
    super({ writableHighWaterMark: STAGE_BUFFER, readableHighWaterMark: Math.max(STAGE_BUFFER, opts.readAhead ?? 0) });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.opts.maxBytes) return cb(new LayerLimitError(this.opts.layer, 'maxLayerBytes', this.opts.maxBytes, 'decompressed size'));
    const budget = this.opts.imageBudget;
    if (budget) {
      budget.used += chunk.length;
      if (budget.used > budget.max) return cb(new LayerLimitError(this.opts.layer, 'maxImageBytes', budget.max, 'decompressed size of the image'));
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.diffId = `sha256:${this.hash.digest('hex')}`;
    const expected = this.opts.expectedDiffId;
    if (expected !== undefined && expected !== this.diffId) return cb(new DiffIdMismatchError(this.opts.layer, expected, this.diffId));
    cb();
  }
}

/** Byte limit for one layer: the absolute cap, tightened by the ratio when the compressed size is known. */
export function layerByteLimit(limits: { maxLayerBytes: number; maxRatio: number; ratioFloorBytes: number }, compressedSize?: number): number {
  if (compressedSize === undefined) return limits.maxLayerBytes;
  return Math.min(limits.maxLayerBytes, Math.max(limits.ratioFloorBytes, Math.floor(compressedSize * limits.maxRatio)));
}
