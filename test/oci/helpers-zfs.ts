// A real ZFS pool for tests: Debian's zfs-fuse with a file vdev. Starts the zfs-fuse daemon when none is
// running (it needs /dev/fuse) and destroys only the pool it created. Pool changes hold the provider's zfs host lock
// (ZFS_HOST_LOCK) as every change the provider and the emulator make does: zfs-fuse once wedged for good under
// concurrent changes. Every command has a deadline, so a wedged daemon fails the suite instead of hanging the run.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { hostLockArgv } from '../../provider/host/executor';
import { ZFS_HOST_LOCK } from '../../provider/host/zfs';

/** Longer than any zfs change takes here; short enough that a wedged zfs-fuse fails the suite, not the CI run. */
const COMMAND_TIMEOUT_MS = 280_000;

/** A zfs/zpool change from a test, holding the zfs host lock. */
export async function zfsChange(cmd: 'zfs' | 'zpool', args: string[]): Promise<string> {
  const [file, argv] = hostLockArgv(ZFS_HOST_LOCK, cmd, args);
  return String((await execa(file, argv, { timeout: COMMAND_TIMEOUT_MS })).stdout).trim();
}

/** zfsChange, synchronously. */
export function zfsChangeSync(cmd: 'zfs' | 'zpool', args: string[]): string {
  const [file, argv] = hostLockArgv(ZFS_HOST_LOCK, cmd, args);
  return execFileSync(file, argv, { timeout: COMMAND_TIMEOUT_MS }).toString().trim();
}

export interface ZfsPool { name: string; mountpoint: string; dir: string; destroy(): void }

/** withZfsPool's names, `podstest<worker pid>x<n>`, and its vdev directories in tmpdir, `pods-zfs-<worker pid>-*`. */
export const TEST_POOL_NAME = /^podstest(\d+)x\d+$/;
export const TEST_POOL_DIR = /^pods-zfs-(\d+)-/;

/** One `zpool destroy -f`, holding the zfs host lock; whether it succeeded. */
export function destroyPoolOnce(name: string, timeoutMs = COMMAND_TIMEOUT_MS): boolean {
  const [file, argv] = hostLockArgv(ZFS_HOST_LOCK, 'zpool', ['destroy', '-f', name]);
  return spawnSync(file, argv, { stdio: 'ignore', timeout: timeoutMs }).status === 0;
}

/** Whether a zfs-fuse daemon runs (answering or not). */
export function zfsFuseRunning(): boolean {
  return spawnSync('pgrep', ['-x', 'zfs-fuse'], { stdio: 'ignore' }).status === 0;
}

function zpoolWorks(): boolean {
  return spawnSync('zpool', ['list', '-H'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/** Starts zfs-fuse unless it answers. The Jest global setup calls it once, before workers run in parallel. */
export function ensureDaemon(): void {
  if (zpoolWorks()) return;
  const r = spawnSync('zfs-fuse', [], { stdio: 'ignore' });
  if (r.error) throw new Error(`cannot start zfs-fuse: ${r.error.message}`);
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (zpoolWorks()) return;
    spawnSync('sleep', ['0.2']);
  }
  throw new Error('zfs-fuse did not come up within 15 s (is /dev/fuse available?)');
}

/** Creates a fresh file-backed pool with a unique name. Call `destroy()` in afterAll. */
export function withZfsPool(sizeMiB = 512): ZfsPool {
  ensureDaemon();
  const dir = mkdtempSync(join(tmpdir(), `pods-zfs-${process.pid}-`));
  const name = `podstest${process.pid}x${Math.floor(Math.random() * 1e6)}`;
  const img = join(dir, 'pool.img');
  const mountpoint = join(dir, 'mnt');
  execFileSync('truncate', ['-s', `${sizeMiB}M`, img]);
  // cachefile=none: a pool left behind by a killed run must not come back when zfs-fuse next starts.
  zfsChangeSync('zpool', ['create', '-o', 'cachefile=none', '-m', mountpoint, name, img]);
  let destroyed = false;
  return {
    name, mountpoint, dir,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      // zfs-fuse reports "busy" for a moment after the last unmount: retry, and keep the vdev until the pool is gone.
      const until = Date.now() + 20_000;
      while (spawnSync('zpool', ['list', name], { stdio: 'ignore', timeout: 30_000 }).status === 0) {
        if (destroyPoolOnce(name)) break;
        if (Date.now() > until) throw new Error(`zpool destroy ${name} kept failing; destroy it by hand`);
        spawnSync('sleep', ['0.25']);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
