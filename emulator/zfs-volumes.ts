// A host backend that makes the emulator's zfspool CT disks real ZFS datasets (`<pool>/subvol-<vmid>-disk-<n>` with
// a refquota, as PVE's ZFSPoolPlugin allocates them), so code that works on a pod's rootfs dataset — the ZFS clone
// swap — runs against real ZFS in tests. Other storage types stay in memory.
import { LocalExecutor, type Executor } from '../provider/host/executor';
import { Zfs } from '../provider/host/zfs';
import type { HostBackend } from './core';
import type { StorageDef } from './cluster';

function datasetOf(storage: StorageDef, volid: string): string | undefined {
  if (storage.type !== 'zfspool' || !storage.pool) return undefined;
  // A linked clone's volid names its base first (`basevol-100-disk-0/subvol-101-disk-0`); the dataset is the last part.
  const name = volid.slice(volid.indexOf(':') + 1).replace(/^.*\//, '');
  return /^(subvol|basevol)-\d+-disk-\d+$/.test(name) ? `${storage.pool}/${name}` : undefined;
}

/** `exec` runs `zfs` where the datasets live: this machine unless given. */
export function zfsVolumeBackend(exec: Executor = new LocalExecutor('emulator')): Required<Pick<HostBackend, 'allocateVolume' | 'freeVolume'>> {
  const zfs = new Zfs(exec);
  return {
    async allocateVolume(_node, storage, volid, bytes) {
      const ds = datasetOf(storage, volid);
      if (ds) await zfs.create(ds, { refquota: String(bytes) });
    },
    async freeVolume(_node, storage, volid) {
      const ds = datasetOf(storage, volid);
      // destroy waits out zfs-fuse's "busy", and a disk already gone is freed (as pve-storage's zfs_delete_zvol).
      if (ds) await zfs.destroy(ds, { force: true });
    },
  };
}
