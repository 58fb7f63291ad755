// One-pass verification of a blob stream: counts bytes and hashes them as they pass. It fails the moment the
// stream exceeds the descriptor size, and compares size and digest when the stream ends.
import { Transform, type TransformCallback } from 'node:stream';
import type { Hash } from 'node:crypto';
import { newHash, parseDigest } from './digest';
import { DigestMismatchError, SizeMismatchError } from './errors';

export interface VerifyTarget { digest: string; size: number; what?: string }

export class VerifyingTransform extends Transform {
  private readonly hash: Hash;
  private count: number;
  private readonly what: string;
  private readonly algorithm;

  /** `seed` carries a hash and byte count already fed with a resumed partial download. */
  constructor(private readonly target: VerifyTarget, seed?: { hash: Hash; count: number }) {
    super();
    this.algorithm = parseDigest(target.digest).algorithm;
    this.hash = seed?.hash ?? newHash(this.algorithm);
    this.count = seed?.count ?? 0;
    this.what = target.what ?? `blob ${target.digest}`;
  }

  get bytes(): number { return this.count; }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.target.size) {
      callback(new SizeMismatchError(this.what, this.target.size, this.count, false));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.count < this.target.size) {
      callback(new SizeMismatchError(this.what, this.target.size, this.count, true));
      return;
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.target.digest) {
      callback(new DigestMismatchError(this.what, this.target.digest, actual));
      return;
    }
    callback();
  }
}

/** Verifies bytes already in memory (manifests, configs). */
export function verifyBuffer(bytes: Uint8Array, target: VerifyTarget): void {
  const what = target.what ?? `blob ${target.digest}`;
  const algorithm = parseDigest(target.digest).algorithm;
  if (bytes.byteLength !== target.size) throw new SizeMismatchError(what, target.size, bytes.byteLength, bytes.byteLength < target.size);
  const actual = `${algorithm}:${newHash(algorithm).update(bytes).digest('hex')}`;
  if (actual !== target.digest) throw new DigestMismatchError(what, target.digest, actual);
}
