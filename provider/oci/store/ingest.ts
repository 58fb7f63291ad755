// ingest → verify → commit for one blob (containerd content/local is the model). Bytes land in
// ingest/<alg>-<hex>.partial while they are hashed; only a verified file is renamed into blobs/. A short read
// leaves the partial for the next attempt (resumed with Range); any other mismatch removes it.
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { finished, pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { newHash, parseDigest } from '../digest';
import { DigestMismatchError, RegistryAuthError, RegistryError, SizeMismatchError, SourceError } from '../errors';
import type { BlobRange } from '../source';
import { VerifyingTransform } from '../verify';
import { acquireLock, type LockOptions } from './lock';

export interface IngestTarget { digest: string; size: number; what?: string }

export interface IngestOptions {
  /** Attempts after the first one when the stream breaks off (each resumes where the last stopped). */
  retries?: number;
  backoffMs?: number;
  onBytes?: (bytesSoFar: number, total: number) => void;
  lock?: LockOptions;
}

export interface IngestPaths { blob: string; partial: string; lock: string }

/** Errors that a new attempt cannot fix. */
function permanent(err: unknown): boolean {
  if (err instanceof DigestMismatchError || err instanceof RegistryAuthError || err instanceof SourceError) return true;
  if (err instanceof SizeMismatchError) return !err.short;
  if (err instanceof RegistryError) return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
  return false;
}

async function fileSize(path: string): Promise<number> {
  try { return (await fs.stat(path)).size; } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await fileSize(path)) >= 0;
}

/** Re-hashes a partial download so verification continues over the whole blob. */
async function seedFrom(partial: string, algorithm: 'sha256' | 'sha512', length: number) {
  const hash = newHash(algorithm);
  if (length > 0) {
    for await (const chunk of createReadStream(partial, { end: length - 1 })) hash.update(chunk as Buffer);
  }
  return { hash, count: length };
}

export async function ingestBlob(paths: IngestPaths, target: IngestTarget, open: (offset: number) => Promise<BlobRange>, options: IngestOptions = {}): Promise<void> {
  const { algorithm } = parseDigest(target.digest);
  if (await exists(paths.blob)) return;
  const lock = await acquireLock(paths.lock, options.lock);
  try {
    if (await exists(paths.blob)) return;
    const retries = options.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      let have = await fileSize(paths.partial);
      if (have > target.size) { await fs.rm(paths.partial, { force: true }); have = -1; }
      let range: BlobRange | undefined;
      try {
        range = await open(Math.max(have, 0));
        let seed;
        if (range.offset === 0 || have <= 0) {
          // A server that answers 200 to a Range request sends everything again: start over cleanly.
          await fs.writeFile(paths.partial, '', { mode: 0o600 });
          seed = { hash: newHash(algorithm), count: 0 };
        } else if (range.offset === have) {
          seed = await seedFrom(paths.partial, algorithm, have);
        } else {
          range.stream.destroy();
          throw new RegistryError(target.what ?? target.digest, 0, `source resumed at byte ${range.offset} instead of ${have}`);
        }
        const verifier = new VerifyingTransform(target, seed);
        if (options.onBytes) {
          const onBytes = options.onBytes;
          verifier.on('data', () => onBytes(verifier.bytes, target.size));
        }
        // The partial must keep every byte that reached it even when the source fails mid-way (so the next
        // attempt resumes from there): on a source error the file stream is ended, not destroyed.
        const out = createWriteStream(paths.partial, { flags: 'a' });
        const written = finished(out);
        verifier.pipe(out);
        let failure: unknown;
        try { await pipeline(range.stream, verifier); } catch (err) { failure = err; verifier.unpipe(out); out.end(); }
        await written;
        if (failure !== undefined) throw failure;
      } catch (err) {
        range?.stream.destroy();
        if (permanent(err)) {
          await fs.rm(paths.partial, { force: true });
          throw err;
        }
        if (attempt >= retries) throw err;
        await sleep((options.backoffMs ?? 200) * 2 ** attempt);
        continue;
      }
      const handle = await fs.open(paths.partial, 'r');
      try { await handle.sync(); } finally { await handle.close(); }
      await fs.chmod(paths.partial, 0o444);
      await fs.rename(paths.partial, paths.blob);
      return;
    }
  } finally {
    await lock.release();
  }
}
