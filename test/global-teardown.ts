// See global-setup.ts: stop the zfs-fuse daemon this run started. The run cleans up what it started, so pools its
// suites left behind (a suite that failed before its afterAll) are destroyed first, and a daemon that will not stop
// is killed and its mounts detached: a wedged zfs-fuse left running would hang the next run on this machine. Each
// step it had to force it says, so nothing is a silent leak.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { destroyPoolOnce, TEST_POOL_DIR, TEST_POOL_NAME, zfsFuseRunning } from './oci/helpers-zfs';

/** The pools zfs-fuse holds, or undefined if it would not say: it refuses requests for a while under load, or hangs. */
function pools(): string[] | undefined {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = spawnSync('zpool', ['list', '-H', '-o', 'name'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return r.stdout.split('\n').filter(Boolean);
    // A refusal is worth asking again; no answer in 30 s is a wedged daemon, and asking again would only wait again.
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') return undefined;
    spawnSync('sleep', ['1']);
  }
  return undefined;
}

function waitForExit(seconds: number): boolean {
  for (let i = 0; i < seconds * 10 && zfsFuseRunning(); i++) spawnSync('sleep', ['0.1']);
  return !zfsFuseRunning();
}

export default function globalTeardown(): void {
  if ((globalThis as { zfsFuseWasRunning?: boolean }).zfsFuseWasRunning !== false) return;
  if (!zfsFuseRunning()) return;
  const held = pools();
  if (held === undefined) console.warn('global teardown: `zpool list` failed or did not answer; stopping zfs-fuse anyway');
  for (const pool of held ?? []) {
    // Only pools the suites make (helpers-zfs withZfsPool); anything else would not be this run's to destroy.
    if (!TEST_POOL_NAME.test(pool)) continue;
    console.warn(`global teardown: destroying pool ${pool}, left by a suite that did not finish`);
    if (!destroyPoolOnce(pool, 60_000)) console.warn(`global teardown: zpool destroy ${pool} failed`);
  }
  spawnSync('pkill', ['-TERM', '-x', 'zfs-fuse']);
  // zfs-fuse takes a few seconds to exit (4.4 s measured here); the next run must not find it half-stopped.
  if (waitForExit(30)) return removeVdevDirs();
  console.warn('global teardown: zfs-fuse did not exit within 30 s of SIGTERM; killing it and detaching its mounts');
  spawnSync('pkill', ['-KILL', '-x', 'zfs-fuse']);
  // Killing the daemon fails every request still waiting on it; its mounts then only answer ENOTCONN until detached.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' - ')).filter(([, fs]) => fs?.startsWith('fuse.zfs '))
    .map(([head]) => head!.split(' ')[4]!.replace(/\\040/g, ' ')).reverse();
  for (const mp of mounts) spawnSync('umount', ['-l', mp], { stdio: 'ignore', timeout: 10_000 });
  if (!waitForExit(10)) console.warn('global teardown: zfs-fuse survived SIGKILL; it is left running');
  else removeVdevDirs();
}

/**
 * With the daemon gone no pool is imported, so the vdev directories of suites that never reached their destroy()
 * (withZfsPool: pods-zfs-<worker pid>-*) are garbage once that worker has exited. A live pid is another run's.
 */
function removeVdevDirs(): void {
  for (const dir of readdirSync(tmpdir())) {
    const pid = TEST_POOL_DIR.exec(dir)?.[1];
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    console.warn(`global teardown: removing ${dir}, the pool files of a suite that did not finish`);
    rmSync(join(tmpdir(), dir), { recursive: true, force: true });
  }
}
