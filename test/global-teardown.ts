// See global-setup.ts: stop the zfs-fuse daemon this run started, if it holds no pool. What it cannot stop it says,
// so a daemon left running is never a silent leak (a CI run once left one, with no trace of why).
import { spawnSync } from 'node:child_process';
import { zfsFuseRunning } from './oci/helpers-zfs';

/** The pools zfs-fuse holds, or undefined if it would not say: it refuses requests for a while under load. */
function pools(): string[] | undefined {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = spawnSync('zpool', ['list', '-H', '-o', 'name'], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.split('\n').filter(Boolean);
    spawnSync('sleep', ['1']);
  }
  return undefined;
}

export default function globalTeardown(): void {
  if ((globalThis as { zfsFuseWasRunning?: boolean }).zfsFuseWasRunning !== false) return;
  if (!zfsFuseRunning()) return;
  const held = pools();
  if (held === undefined || held.length > 0) {
    console.warn(`global teardown: zfs-fuse left running: ${held ? `pools still imported: ${held.join(', ')}` : '`zpool list` kept failing'}`);
    return;
  }
  spawnSync('pkill', ['-TERM', '-x', 'zfs-fuse']);
  // zfs-fuse takes a few seconds to exit (4.4 s measured here); the next run must not find it half-stopped.
  for (let i = 0; i < 300 && zfsFuseRunning(); i++) spawnSync('sleep', ['0.1']);
  if (zfsFuseRunning()) console.warn('global teardown: zfs-fuse did not exit within 30 s of SIGTERM; it is left running');
}
