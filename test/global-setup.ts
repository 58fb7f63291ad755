// Jest global setup/teardown: the ZFS suites start Debian's zfs-fuse daemon when none runs (helpers-zfs.ts). The
// run stops it again at the end, but only when it was not running before and no pool is left in it.
import { spawnSync } from 'node:child_process';

const running = () => spawnSync('pgrep', ['-x', 'zfs-fuse'], { stdio: 'ignore' }).status === 0;

export default function globalSetup(): void {
  (globalThis as { zfsFuseWasRunning?: boolean }).zfsFuseWasRunning = running();
}
