// A holder of a host lock (executor.ts HostLock) in other processes, for tests of what waits for it.
import { execa, type ResultPromise } from 'execa';
import type { HostLock } from '../../../provider/host/executor';

/** Holds `lock` from other processes until stop(): flock(1) and its sleep, in their own group so stop() ends both. */
export async function holdLock(lock: HostLock): Promise<{ stop(): Promise<void> }> {
  const holder: ResultPromise = execa('flock', [lock.path, 'sleep', '60'], { reject: false, detached: true });
  // flock takes the lock before it starts sleep: wait until `flock -n` is refused.
  for (let i = 0; (await execa('flock', ['-n', lock.path, 'true'], { reject: false })).exitCode === 0; i++) {
    if (i > 100) throw new Error('the holder never took the lock');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { async stop() { process.kill(-holder.pid!, 'SIGKILL'); await holder; } };
}
