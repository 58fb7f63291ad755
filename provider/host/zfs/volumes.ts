// ZFS datasets for persistent pod volumes: created with a quota and an owner property, read back, released. Resize,
// release and destroy are plain property changes and `destroy` on the command layer.
import { ZfsError, type Zfs } from './command';
import { validateChildDataset } from './names';

/** The volume's name; a dataset without it (or with another) is not ours to touch. */
export const OWNER_PROPERTY = 'pods:volume';
/** Set (to an ISO time) when a Retain volume left the program; cleared when a volume of its name takes it back. */
export const RELEASED_PROPERTY = 'pods:released';

export interface VolumeInfo {
  name: string;
  mountpoint: string;
  refquotaGiB?: number;
  usedBytes: number;
  owner?: string;
  released?: string;
}

/** A user property that was never set reads as `-` with source `-`. */
const userProperty = (v: { value: string; source: string } | undefined) => (v && v.source !== '-' && v.value !== '-' ? v.value : undefined);

/** The volume's dataset, or undefined when it does not exist. */
export async function readVolume(zfs: Zfs, dataset: string): Promise<VolumeInfo | undefined> {
  validateChildDataset(dataset);
  const props = await zfs.get(dataset, ['mountpoint', 'refquota', 'used', OWNER_PROPERTY, RELEASED_PROPERTY]);
  if (!props) return undefined;
  const quota = Number(props.get('refquota')?.value);
  const used = Number(props.get('used')?.value);
  if (!Number.isFinite(quota) || !Number.isFinite(used)) throw new ZfsError(zfs.node, `${dataset}: refquota/used are not numbers (${props.get('refquota')?.value}, ${props.get('used')?.value})`);
  const owner = userProperty(props.get(OWNER_PROPERTY));
  const released = userProperty(props.get(RELEASED_PROPERTY));
  return {
    name: dataset,
    mountpoint: props.get('mountpoint')?.value ?? '',
    ...(quota > 0 ? { refquotaGiB: quota / 1024 ** 3 } : {}),
    usedBytes: used,
    ...(owner !== undefined ? { owner } : {}),
    ...(released !== undefined ? { released } : {}),
  };
}

export async function createVolume(zfs: Zfs, dataset: string, opts: { owner: string; quotaGiB: number; uid?: number; gid?: number }): Promise<VolumeInfo> {
  validateChildDataset(dataset);
  // Volumes of one StatefulSet are created in parallel: their shared parent is made first (createPath takes a
  // concurrent winner as success), then the volume itself, which must not exist yet.
  const parent = dataset.slice(0, dataset.lastIndexOf('/'));
  if (parent.includes('/')) await zfs.createPath(parent);
  await zfs.create(dataset, { refquota: `${opts.quotaGiB}G`, [OWNER_PROPERTY]: opts.owner });
  const info = await readVolume(zfs, dataset);
  if (!info) throw new ZfsError(zfs.node, `${dataset} was created but cannot be read back`);
  // Unprivileged containers see host uid 100000 as root: the volume's root must belong to it to be writable.
  if (opts.uid !== undefined) {
    if (!info.mountpoint.startsWith('/')) throw new ZfsError(zfs.node, `${dataset} is not mounted (mountpoint ${info.mountpoint}); its owner cannot be set`);
    await zfs.exec.run('chown', [`${opts.uid}:${opts.gid ?? opts.uid}`, '--', info.mountpoint]);
  }
  return info;
}
