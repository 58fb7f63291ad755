// ZFS datasets on a node for persistent pod volumes: create with a quota and an owner property, read, resize,
// release, destroy. Every name is validated before it reaches `zfs`.
import { InputError } from '../errors';
import { HostCommandError, type Executor } from './executor';
import { zfsDatasetSchema } from './names';
export const OWNER_PROPERTY = 'pods:volume';
export const RELEASED_PROPERTY = 'pods:released';

export function assertDatasetName(field: string, name: string): void {
  // Under a pool (never the pool itself), and nothing zfs could read as an option.
  if (name.split('/').length < 2 || !zfsDatasetSchema.safeParse(name).success) {
    throw new InputError(field, `"${name}" is not a ZFS dataset name under a pool`, 'use pool/path/name with letters, digits and _ . : -');
  }
}

export interface DatasetInfo {
  name: string;
  mountpoint: string;
  refquotaGiB?: number;
  usedBytes: number;
  owner?: string;
  released?: string;
}

export async function readDataset(exec: Executor, dataset: string): Promise<DatasetInfo | undefined> {
  assertDatasetName('dataset', dataset);
  const args = ['get', '-H', '-p', '-o', 'property,value', `mountpoint,refquota,used,${OWNER_PROPERTY},${RELEASED_PROPERTY}`, dataset];
  const r = await exec.run('zfs', args, { allowFailure: true });
  if (r.exitCode !== 0) {
    if (/does not exist/i.test(r.stderr)) return undefined;
    throw new HostCommandError(exec.node, 'zfs', args, r);
  }
  const props = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]));
  const quota = Number(props.refquota);
  return {
    name: dataset,
    mountpoint: props.mountpoint ?? '',
    refquotaGiB: quota > 0 ? quota / 1024 ** 3 : undefined,
    usedBytes: Number(props.used ?? 0),
    owner: props[OWNER_PROPERTY] && props[OWNER_PROPERTY] !== '-' ? props[OWNER_PROPERTY] : undefined,
    released: props[RELEASED_PROPERTY] && props[RELEASED_PROPERTY] !== '-' ? props[RELEASED_PROPERTY] : undefined,
  };
}

export async function createDataset(exec: Executor, dataset: string, opts: { owner: string; quotaGiB: number; uid?: number; gid?: number }): Promise<DatasetInfo> {
  assertDatasetName('dataset', dataset);
  // Volumes of one StatefulSet are created in parallel: `zfs create -p` of a shared parent races ("dataset already
  // exists" for the parent), so make the parents first, tolerating a concurrent winner, then the volume itself.
  const parent = dataset.slice(0, dataset.lastIndexOf('/'));
  if (parent.includes('/')) {
    const args = ['create', '-p', parent];
    const r = await exec.run('zfs', args, { allowFailure: true });
    if (r.exitCode !== 0 && !/already exists/i.test(r.stderr)) throw new HostCommandError(exec.node, 'zfs', args, r);
  }
  await exec.run('zfs', ['create', '-o', `refquota=${opts.quotaGiB}G`, '-o', `${OWNER_PROPERTY}=${opts.owner}`, dataset]);
  const info = (await readDataset(exec, dataset))!;
  // Unprivileged containers see host uid 100000 as root: the volume's root must belong to it to be writable.
  if (opts.uid !== undefined && info.mountpoint.startsWith('/')) await exec.run('chown', [`${opts.uid}:${opts.gid ?? opts.uid}`, '--', info.mountpoint]);
  return info;
}

export async function setDatasetProperty(exec: Executor, dataset: string, property: string, value: string): Promise<void> {
  assertDatasetName('dataset', dataset);
  if (!/^[a-z:]+$/.test(property) || /[\0\n]/.test(value)) throw new InputError('property', `"${property}" is not a property this provider sets`);
  await exec.run('zfs', ['set', `${property}=${value}`, dataset]);
}

export async function clearDatasetProperty(exec: Executor, dataset: string, property: string): Promise<void> {
  assertDatasetName('dataset', dataset);
  await exec.run('zfs', ['inherit', property, dataset]);
}

export async function destroyDataset(exec: Executor, dataset: string): Promise<void> {
  assertDatasetName('dataset', dataset);
  const args = ['destroy', '-r', dataset];
  // An unmount right after the last file was closed can report "busy" for a moment: safe to retry.
  for (let attempt = 0; ; attempt++) {
    const r = await exec.run('zfs', args, { allowFailure: true });
    if (r.exitCode === 0 || /does not exist/i.test(r.stderr)) return;
    if (!/busy/i.test(r.stderr) || attempt >= 20) throw new HostCommandError(exec.node, 'zfs', args, r);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
