// A host backend that makes the emulator's zfspool CT disks real ZFS datasets (`<pool>/subvol-<vmid>-disk-<n>` with
// a refquota, as PVE's ZFSPoolPlugin allocates them), so code that works on a pod's rootfs dataset — the ZFS clone
// swap — runs against real ZFS in tests. Other storage types stay in memory.
import { ZfsChains, type Run } from '../provider/oci/convert/zfs';
import type { HostBackend } from './core';
import type { StorageDef } from './cluster';

function datasetOf(storage: StorageDef, volid: string): string | undefined {
  if (storage.type !== 'zfspool' || !storage.pool) return undefined;
  // A linked clone's volid names its base first (`basevol-100-disk-0/subvol-101-disk-0`); the dataset is the last part.
  const name = volid.slice(volid.indexOf(':') + 1).replace(/^.*\//, '');
  return /^(subvol|basevol)-\d+-disk-\d+$/.test(name) ? `${storage.pool}/${name}` : undefined;
}

export function zfsVolumeBackend(run: Run): Required<Pick<HostBackend, 'allocateVolume' | 'freeVolume'>> {
  return {
    async allocateVolume(_node, storage, volid, bytes) {
      const ds = datasetOf(storage, volid);
      if (ds) await run('zfs', ['create', '-o', `refquota=${bytes}`, ds]);
    },
    async freeVolume(_node, storage, volid) {
      const ds = datasetOf(storage, volid);
      if (!ds) return;
      // destroyDataset waits out zfs-fuse's "busy" (as PVE's plugin retries too); a disk already gone is freed.
      await new ZfsChains(storage.pool!, run).destroyDataset(ds, true).catch((err: Error) => {
        if (!/does not exist/.test(err.message)) throw err;
      });
    },
  };
}
