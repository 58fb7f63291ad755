// A lease marks a pull in progress so a concurrent gc() keeps what that pull has fetched or reused. A lease
// protects every blob whose mtime is not older than the lease; pulls touch blobs they reuse.
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface Lease { readonly since: number; release(): Promise<void> }

export async function createLease(dir: string): Promise<Lease> {
  await fs.mkdir(dir, { recursive: true });
  const since = Date.now() - 1000;
  const file = join(dir, `${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  await fs.writeFile(file, JSON.stringify({ pid: process.pid, host: hostname(), since }));
  return { since, release: () => fs.rm(file, { force: true }) };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The oldest live lease's start time (Infinity when none); leases of dead processes are removed. */
export async function oldestLiveLease(dir: string): Promise<number> {
  let files: string[];
  try { files = await fs.readdir(dir); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Infinity; // no pull ever leased
    throw err;
  }
  let oldest = Infinity;
  for (const f of files) {
    const path = join(dir, f);
    let text: string;
    let mtimeMs: number;
    try {
      [text, mtimeMs] = await Promise.all([fs.readFile(path, 'utf8'), fs.stat(path).then((s) => s.mtimeMs)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released since readdir
      throw err;
    }
    let lease: { pid: number; host: string; since: number } | undefined;
    try {
      lease = JSON.parse(text) as { pid: number; host: string; since: number };
    } catch {
      // Still being written (writeFile is not atomic): it protects from about when it was made, as a lease does.
      lease = undefined;
    }
    if (!lease || typeof lease.since !== 'number') { oldest = Math.min(oldest, mtimeMs - 1000); continue; }
    if (lease.host === hostname() && !alive(lease.pid)) { await fs.rm(path, { force: true }); continue; }
    oldest = Math.min(oldest, lease.since);
  }
  return oldest;
}
