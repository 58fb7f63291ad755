// Owner records on ZFS datasets, as ZFS user properties (`zfs set <module>:<name>=<value>`: lowercase letters,
// digits and : - . _ in the name, which must contain a colon; values are free text up to 8 KiB; zfs(8) "User
// Properties"). They travel with the dataset on every pool and are read with one `zfs get`:
//  - `proxmox-pods:owner`: the one owner of a dataset (a PersistentVolume);
//  - `proxmox-pods:claim.<owner tag>`: one per owner of a dataset several owners share (a ZFS layer chain).
// The value is the owner's id (provider/resources/common/owner.ts `ownerId`), so a human can read who it is.
import { InputError } from '../errors';
import { HostCommandError, type Executor } from './executor';
import { zfsDatasetSchema } from './names';

export const OWNER_USER_PROPERTY = 'proxmox-pods:owner';
export const CLAIM_PROPERTY_PREFIX = 'proxmox-pods:claim.';

const USER_PROPERTY_RE = /^[a-z0-9][a-z0-9:._-]{0,255}$/;

function assertArgs(dataset: string, property?: string, value?: string): void {
  if (!zfsDatasetSchema.safeParse(dataset).success) throw new InputError('dataset', `"${dataset}" is not a ZFS dataset name`);
  if (property !== undefined && (!USER_PROPERTY_RE.test(property) || !property.includes(':'))) throw new InputError('property', `"${property}" is not a ZFS user property name`);
  if (value !== undefined && (/[\0\n\t]/.test(value) || value.length > 8192)) throw new InputError('value', 'a ZFS user property value is one line of at most 8 KiB');
}

/** Locally set user properties of `dataset` whose names start with `prefix`; undefined when the dataset does not exist. */
export async function userProperties(exec: Executor, dataset: string, prefix = 'proxmox-pods:'): Promise<Record<string, string> | undefined> {
  assertArgs(dataset);
  const args = ['get', '-H', '-p', '-o', 'property,value,source', 'all', dataset];
  const r = await exec.run('zfs', args, { allowFailure: true });
  if (r.exitCode !== 0) {
    if (/does not exist/i.test(r.stderr)) return undefined;
    throw new HostCommandError(exec.node, 'zfs', args, r);
  }
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const [property, value, source] = line.split('\t');
    // Inherited values belong to a parent: a claim on the parent is not a claim on this dataset.
    if (property?.startsWith(prefix) && source === 'local' && value !== undefined) out[property] = value;
  }
  return out;
}

export async function setUserProperty(exec: Executor, dataset: string, property: string, value: string): Promise<void> {
  assertArgs(dataset, property, value);
  await exec.run('zfs', ['set', `${property}=${value}`, dataset]);
}

/** Removes a user property; a dataset that is gone has none left, which is success. */
export async function clearUserProperty(exec: Executor, dataset: string, property: string): Promise<void> {
  assertArgs(dataset, property);
  const args = ['inherit', property, dataset];
  const r = await exec.run('zfs', args, { allowFailure: true });
  if (r.exitCode !== 0 && !/does not exist/i.test(r.stderr)) throw new HostCommandError(exec.node, 'zfs', args, r);
}
