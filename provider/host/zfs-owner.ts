// Owner records on ZFS datasets, as ZFS user properties (`zfs set <module>:<name>=<value>`: lowercase letters,
// digits and : - . _ in the name, which must contain a colon; values are free text up to 8 KiB; zfs(8) "User
// Properties"). They travel with the dataset on every pool and are read with one `zfs get`:
//  - `proxmox-pods:owner`: the one owner of a dataset (a PersistentVolume);
//  - `proxmox-pods:claim.<owner tag>`: one per owner of a dataset several owners share (a ZFS layer chain).
// The value is the owner's id (provider/resources/common/owner.ts `ownerId`), so a human can read who it is.
import { ZfsError, type Zfs } from './zfs';

export const OWNER_USER_PROPERTY = 'proxmox-pods:owner';
export const CLAIM_PROPERTY_PREFIX = 'proxmox-pods:claim.';

/** Locally set user properties of `dataset` whose names start with `prefix`; undefined when the dataset does not exist. */
export async function userProperties(zfs: Zfs, dataset: string, prefix = 'proxmox-pods:'): Promise<Record<string, string> | undefined> {
  const all = await zfs.get(dataset, ['all']);
  if (!all) return undefined;
  const out: Record<string, string> = {};
  // Inherited values belong to a parent: a claim on the parent is not a claim on this dataset.
  for (const [name, v] of all) if (name.startsWith(prefix) && v.source === 'local') out[name] = v.value;
  return out;
}

export function setUserProperty(zfs: Zfs, dataset: string, property: string, value: string): Promise<void> {
  return zfs.set(dataset, property, value);
}

/** Removes a user property; a dataset that is gone has none left, which is success. */
export async function clearUserProperty(zfs: Zfs, dataset: string, property: string): Promise<void> {
  try {
    await zfs.inherit(dataset, property);
  } catch (err) {
    if (!(err instanceof ZfsError && err.saysAbsent(dataset))) throw err;
  }
}
