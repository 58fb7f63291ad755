// Cross-process lock on a path: created with O_EXCL, holding pid and host. A lock whose pid is gone (same
// host) or whose heartbeat is older than `staleMs` is broken. The holder refreshes the mtime while it works.
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../errors';

export interface LockOptions { staleMs?: number; pollMs?: number; timeoutMs?: number; heartbeatMs?: number }

export interface Lock { release(): Promise<void> }

interface LockContent { pid: number; host: string; token: string }

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

async function readLock(path: string): Promise<{ content?: LockContent; mtimeMs: number } | undefined> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(path, 'utf8'), fs.stat(path)]);
    // No content: the holder is still writing it (open wx, then write); the caller waits on its age instead.
    try { return { content: JSON.parse(text) as LockContent, mtimeMs: stat.mtimeMs }; } catch { return { mtimeMs: stat.mtimeMs }; }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function acquireLock(path: string, options: LockOptions = {}): Promise<Lock> {
  const staleMs = options.staleMs ?? 60_000;
  const pollMs = options.pollMs ?? 50;
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const heartbeatMs = options.heartbeatMs ?? Math.max(1000, Math.floor(staleMs / 4));
  const mine: LockContent = { pid: process.pid, host: hostname(), token: `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}` };
  for (;;) {
    try {
      const handle = await fs.open(path, 'wx', 0o600);
      await handle.writeFile(JSON.stringify(mine));
      await handle.close();
      // A missed heartbeat only makes the lock look older; a lock file that is gone is release()'s business.
      const timer = setInterval(() => { const now = new Date(); fs.utimes(path, now, now).catch(() => undefined); }, heartbeatMs);
      timer.unref();
      return {
        async release() {
          clearInterval(timer);
          const current = await readLock(path);
          if (current?.content?.token === mine.token) await fs.rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await readLock(path);
    if (held) {
      const deadHolder = held.content && held.content.host === mine.host && !alive(held.content.pid);
      const silent = Date.now() - held.mtimeMs > staleMs;
      if (deadHolder || silent || !held.content && Date.now() - held.mtimeMs > pollMs * 20) {
        // Break it by renaming (atomic: only one breaker wins), then make sure we took the stale one.
        const aside = `${path}.broken-${mine.token}`;
        try {
          await fs.rename(path, aside);
          const took = await readLock(aside);
          // Not the stale lock we meant to break: put it back, unless a new holder took the path meanwhile (EEXIST).
          if (took?.content?.token !== held.content?.token) {
            await fs.link(aside, path).catch((err: NodeJS.ErrnoException) => {
              if (err.code !== 'EEXIST') throw err;
            });
          }
          await fs.rm(aside, { force: true });
        } catch (err) {
          // ENOENT from the rename: someone else broke or released it first; look again.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        continue;
      }
    }
    if (Date.now() > deadline) throw new StoreError(`timed out waiting for lock ${path} held by pid ${held?.content?.pid ?? '?'}`);
    await sleep(pollMs);
  }
}
