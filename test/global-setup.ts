// Jest global setup/teardown: the ZFS suites need Debian's zfs-fuse daemon. It is started here, once, before the
// workers run in parallel (two workers each starting one raced: two daemons, and mounts failing with I/O errors);
// the teardown stops it again when it was not running before.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ensureDaemon, zfsFuseRunning } from './oci/helpers-zfs';

export default function globalSetup(): void {
  (globalThis as { zfsFuseWasRunning?: boolean }).zfsFuseWasRunning = zfsFuseRunning();
  // Without the tool the ZFS suites report it themselves (and fail in CI): nothing to start here.
  if (spawnSync('which', ['zfs-fuse'], { stdio: 'ignore' }).status === 0 && existsSync('/dev/fuse')) ensureDaemon();
}
