// Content-addressed store: blobs/<alg>/<hex> (read-only, verified), ingest/ (partials + locks), refs/ (one
// record per image), leases/ (pulls in progress). Concurrent ingests of one blob share a download in-process
// and serialise across processes through a lock file.
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { isValidDigest, parseDigest } from '../digest';
import { StoreError } from '../errors';
import { warn } from '../../diagnostics';
import { MAX_JSON_BYTES, parseImageDocument } from '../manifest';
import type { BlobRange } from '../source';
import { verifyBuffer } from '../verify';
import { ingestBlob, type IngestOptions, type IngestTarget } from './ingest';
import { createLease, oldestLiveLease, type Lease } from './leases';
import { listRefs, readRef, removeRef, writeRef, type RefRecord } from './refs';

const isNotFound = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** $XDG_CACHE_HOME/proxmox-pods, else ~/.cache/proxmox-pods. */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(env.HOME || homedir(), '.cache');
  return join(base, 'proxmox-pods');
}

export interface GcResult { deleted: string[]; freedBytes: number; kept: number }

// In-process single-flight, shared by every ContentStore instance on the same root.
const inflight = new Map<string, Promise<void>>();

export class ContentStore {
  readonly root: string;
  private readonly documents = new LRUCache<string, Buffer>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.byteLength) });

  constructor(root: string = defaultStorePath()) {
    if (!root.startsWith('/')) throw new StoreError(`store path ${JSON.stringify(root)} must be absolute`);
    this.root = root;
  }

  static async open(root?: string): Promise<ContentStore> {
    const store = new ContentStore(root);
    await store.init();
    return store;
  }

  async init(): Promise<void> {
    for (const dir of ['blobs/sha256', 'blobs/sha512', 'ingest', 'refs', 'leases']) {
      await fs.mkdir(join(this.root, dir), { recursive: true, mode: 0o700 });
    }
  }

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  private ingestPaths(digest: string) {
    const { algorithm, hex } = parseDigest(digest);
    const base = join(this.root, 'ingest', `${algorithm}-${hex}`);
    return { blob: this.blobPath(digest), partial: `${base}.partial`, lock: `${base}.lock` };
  }

  async has(digest: string): Promise<boolean> {
    try { await fs.access(this.blobPath(digest)); return true; } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Marks a blob as used now, so a gc racing with a pull under lease keeps it. */
  async touch(digest: string): Promise<void> {
    const now = new Date();
    await fs.utimes(this.blobPath(digest), now, now).catch((err: unknown) => {
      // A blob a concurrent gc just removed: the pull that touches it finds it missing and fetches it again.
      if (!isNotFound(err)) throw err;
    });
  }

  /** Streams a blob into the store unless it is there; concurrent calls for one digest share one download. */
  async ingest(target: IngestTarget, open: (offset: number) => Promise<BlobRange>, options?: IngestOptions): Promise<string> {
    const path = this.blobPath(target.digest);
    const key = `${this.root}\0${target.digest}`;
    let job = inflight.get(key);
    if (!job) {
      job = ingestBlob(this.ingestPaths(target.digest), target, open, options).finally(() => inflight.delete(key));
      inflight.set(key, job);
    }
    await job;
    return path;
  }

  /** Commits bytes already in memory (manifests, configs) after verifying them. */
  async putBytes(target: IngestTarget, bytes: Buffer): Promise<string> {
    verifyBuffer(bytes, target);
    const path = this.blobPath(target.digest);
    if (await this.has(target.digest)) return path;
    const tmp = join(this.root, 'ingest', `${parseDigest(target.digest).hex}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    await fs.writeFile(tmp, bytes, { mode: 0o444 });
    await fs.rename(tmp, path);
    this.documents.set(target.digest, bytes);
    return path;
  }

  /** Reads a small blob (manifest/config), re-verifying it; cached since blobs are immutable. */
  async readDocument(digest: string, maxBytes = MAX_JSON_BYTES): Promise<Buffer> {
    const cached = this.documents.get(digest);
    if (cached) return cached;
    const path = this.blobPath(digest);
    const stat = await fs.stat(path);
    if (stat.size > maxBytes) throw new StoreError(`blob ${digest} is ${stat.size} bytes, more than the ${maxBytes} byte limit for documents`);
    const bytes = await fs.readFile(path);
    verifyBuffer(bytes, { digest, size: stat.size, what: `stored blob ${digest}` });
    this.documents.set(digest, bytes);
    return bytes;
  }

  async setRef(record: Omit<RefRecord, 'updatedAt'>): Promise<void> {
    await writeRef(join(this.root, 'refs'), { ...record, updatedAt: new Date().toISOString() });
  }
  getRef(name: string): Promise<RefRecord | undefined> { return readRef(join(this.root, 'refs'), name); }
  deleteRef(name: string): Promise<boolean> { return removeRef(join(this.root, 'refs'), name); }
  listRefs(): Promise<RefRecord[]> { return listRefs(join(this.root, 'refs')); }
  lease(): Promise<Lease> { return createLease(join(this.root, 'leases')); }

  /** Digests reachable from `roots` (index → manifests present in the store, manifest → config + layers). */
  async reachable(roots: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const root of roots) {
      const seen = new Set<string>();
      const walk = async (digest: string, depth: number): Promise<void> => {
        if (seen.has(digest) || depth > 8) return;
        seen.add(digest);
        if (!(await this.has(digest))) return;
        let doc;
        try { doc = parseImageDocument(await this.readDocument(digest), digest); } catch (err) {
          // Without the document its config and layers look unreferenced, and gc would delete what a ref still needs.
          throw new StoreError(`${digest} is referenced but cannot be read (${(err as Error).message}); nothing was collected: remove the ref that names it or pull the image again`);
        }
        if (doc.kind === 'index') {
          for (const d of doc.index.manifests) if (isValidDigest(d.digest)) await walk(d.digest, depth + 1);
        } else {
          seen.add(doc.manifest.config.digest);
          for (const l of doc.manifest.layers) seen.add(l.digest);
        }
      };
      await walk(root, 0);
      for (const d of seen) counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    return counts;
  }

  /** How many refs keep each blob alive. */
  async refCounts(): Promise<Map<string, number>> {
    const refs = await this.listRefs();
    return this.reachable(refs.flatMap((r) => [r.digest, r.manifestDigest]).filter((d, i, a) => a.indexOf(d) === i));
  }

  /** Deletes blobs nothing references (and nothing a live pull may be using); reports freed bytes. */
  async gc(options: { dryRun?: boolean } = {}): Promise<GcResult> {
    const counts = await this.refCounts();
    const leaseSince = await oldestLiveLease(join(this.root, 'leases'));
    const result: GcResult = { deleted: [], freedBytes: 0, kept: 0 };
    for (const algorithm of ['sha256', 'sha512']) {
      const dir = join(this.root, 'blobs', algorithm);
      let names: string[] = [];
      try { names = await fs.readdir(dir); } catch (err) {
        if (isNotFound(err)) continue; // no blob of this algorithm yet
        throw err;
      }
      for (const hex of names) {
        const digest = `${algorithm}:${hex}`;
        if (counts.has(digest)) { result.kept++; continue; }
        const path = join(dir, hex);
        let stat;
        try { stat = await fs.stat(path); } catch (err) {
          if (isNotFound(err)) continue; // removed by a concurrent gc
          throw err;
        }
        if (stat.mtimeMs >= leaseSince) { result.kept++; continue; }
        if (!options.dryRun) {
          try { await fs.unlink(path); } catch (err) {
            if (isNotFound(err)) continue; // removed by a concurrent gc
            // Kept, and said: one blob that cannot go must not fail the delete that ran this gc.
            warn(`content store: ${path} could not be removed (${(err as Error).message}); it stays until a later gc`);
            result.kept++;
            continue;
          }
          this.documents.delete(digest);
        }
        result.deleted.push(digest);
        result.freedBytes += stat.size;
      }
    }
    return result;
  }
}
