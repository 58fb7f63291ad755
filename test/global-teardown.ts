// See global-setup.ts: stop the zfs-fuse daemon this run started, if it holds no pool.
import { spawnSync } from 'node:child_process';

export default function globalTeardown(): void {
  if ((globalThis as { zfsFuseWasRunning?: boolean }).zfsFuseWasRunning !== false) return;
  if (spawnSync('pgrep', ['-x', 'zfs-fuse'], { stdio: 'ignore' }).status !== 0) return;
  const pools = spawnSync('zpool', ['list', '-H', '-o', 'name'], { encoding: 'utf8' });
  if (pools.status !== 0 || pools.stdout.trim() !== '') return;
  spawnSync('pkill', ['-TERM', '-x', 'zfs-fuse']);
  // zfs-fuse takes a few seconds to exit (4.4 s measured here); the next run must not find it half-stopped.
  for (let i = 0; i < 200 && spawnSync('pgrep', ['-x', 'zfs-fuse'], { stdio: 'ignore' }).status === 0; i++) spawnSync('sleep', ['0.1']);
}
