// A host backend that makes the emulator's zfspool CT disks real ZFS datasets (`<pool>/subvol-<vmid>-disk-<n>` with
// a refquota, as PVE's ZFSPoolPlugin allocates them), so code that works on a pod's rootfs dataset — the ZFS clone
// swap — runs against real ZFS in tests. Other storage types stay in memory.
import type { HostBackend } from './core';
import type { StorageDef } from './cluster';

export type ZfsRun = (cmd: string, args: string[]) => Promise<unknown>;

function datasetOf(storage: StorageDef, volid: string): string | undefined {
  if (storage.type !== 'zfspool' || !storage.pool) return undefined;
  const name = volid.slice(volid.indexOf(':') + 1);
  return /^(subvol|basevol)-\d+-disk-\d+$/.test(name) ? `${storage.pool}/${name}` : undefined;
}

export function zfsVolumeBackend(run: ZfsRun): Required<Pick<HostBackend, 'allocateVolume' | 'freeVolume'>> {
  return {
    async allocateVolume(_node, storage, volid, bytes) {
      const ds = datasetOf(storage, volid);
      if (ds) await run('zfs', ['create', '-o', `refquota=${bytes}`, ds]);
    },
    async freeVolume(_node, storage, volid) {
      const ds = datasetOf(storage, volid);
      if (!ds) return;
      // zfs-fuse answers "busy" for a while after the last unmount, longer on a loaded machine (PVE's plugin retries
      // too): back off up to about 20 s, forcing the unmount after the first attempts.
      for (let attempt = 0; ; attempt++) {
        try {
          await run('zfs', ['destroy', '-r', ...(attempt >= 4 ? ['-f'] : []), ds]);
          return;
        } catch (err) {
          const text = `${(err as { stderr?: string }).stderr ?? ''} ${(err as Error).message}`;
          if (/does not exist/.test(text)) return;
          if (attempt >= 90 || !/busy/i.test(text)) throw err;
          await new Promise((r) => setTimeout(r, Math.min(250, 25 * 2 ** attempt)));
        }
      }
    },
  };
}
