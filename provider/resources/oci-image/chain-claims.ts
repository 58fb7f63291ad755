// Claims on ZFS layer chains: every chain dataset an OciImage uses carries `proxmox-pods:claim.<owner tag>` (a ZFS
// user property, provider/host/zfs-owner.ts), set after the chain is built. A delete releases its claims from the top
// of its chain down and destroys a dataset only when no claim is left on it and nothing is cloned from it (pods, or
// the chains of other images built on it); the first dataset that is still used ends the walk, since everything
// below it is its origin.
import { CLAIM_PROPERTY_PREFIX, clearUserProperty, setUserProperty, userProperties } from '../../host/zfs-owner';
import { ChainInUseError, type Zfs } from '../../host/zfs';
import { nodeChains, nodeZfs } from '../common/node-zfs';
import { ownerId, ownerTag, type OwnerKey } from '../common/owner';

const claimProperty = (owner: OwnerKey) => `${CLAIM_PROPERTY_PREFIX}${ownerTag(owner)}`;

export async function claimChain(node: string, datasets: readonly string[], owner: OwnerKey): Promise<void> {
  const zfs = await nodeZfs(node);
  for (const ds of datasets) await setUserProperty(zfs, ds, claimProperty(owner), ownerId(owner));
}

/** The chain's datasets from `topSnapshot` down to its base, following each dataset's `origin`; those that exist. */
export async function chainDatasets(node: string, parent: string, topSnapshot: string): Promise<string[]> {
  const zfs = await nodeZfs(node);
  const out: string[] = [];
  let ds: string | undefined = topSnapshot.replace(/@ready$/, '');
  while (ds) {
    const below = await originDataset(zfs, ds, parent);
    if (below === null) break;
    out.push(ds);
    ds = below;
  }
  return out;
}

/** Moves the claims on a chain from one owner to another (an owner recorded for the first time, a renamed stack). */
export async function reclaimChain(node: string, parent: string, topSnapshot: string, from: OwnerKey | undefined, to: OwnerKey): Promise<void> {
  const zfs = await nodeZfs(node);
  const datasets = await chainDatasets(node, parent, topSnapshot);
  await claimChain(node, datasets, to);
  if (from && claimProperty(from) !== claimProperty(to)) for (const ds of datasets) await clearUserProperty(zfs, ds, claimProperty(from));
}

/** The claims on one chain dataset (property → owner id); undefined when the dataset is gone. */
export async function chainClaims(zfs: Zfs, dataset: string): Promise<Record<string, string> | undefined> {
  return userProperties(zfs, dataset, CLAIM_PROPERTY_PREFIX);
}

/**
 * The chain dataset `dataset` was cloned from (its origin's dataset, when under `parent`); `null` when `dataset` does
 * not exist (already destroyed), undefined at the base of the chain.
 */
async function originDataset(zfs: Zfs, dataset: string, parent: string): Promise<string | undefined | null> {
  const props = await zfs.get(dataset, ['origin']);
  if (!props) return null;
  const m = /^(.+)@ready$/.exec(props.get('origin')?.value ?? '');
  // Only chains under the same parent are walked: an origin elsewhere is not ours to judge.
  return m && m[1]!.startsWith(`${parent}/`) ? m[1] : undefined;
}

/**
 * Releases `owner`'s claims on every dataset of the chain whose top snapshot is `topSnapshot`, then destroys, from
 * the top down, what no one claims any more and nothing is cloned from. `owner` undefined (state written before owner
 * records): claims are left alone and only an unclaimed top dataset is destroyed, as older versions did. Reports
 * what was kept, and why, through `log`.
 */
export async function releaseChain(node: string, parent: string, topSnapshot: string, owner: OwnerKey | undefined, log: (m: string) => void): Promise<void> {
  const zfs = await nodeZfs(node);
  const chains = await nodeChains(node, parent);
  const mine = owner ? claimProperty(owner) : undefined;
  // The whole chain first (origins are read before anything is destroyed), releasing this owner's claim on each.
  const datasets = await chainDatasets(node, parent, topSnapshot);
  const held = new Set<string>();
  for (const ds of datasets) {
    const claims = await chainClaims(zfs, ds);
    if (mine && claims && mine in claims) {
      await clearUserProperty(zfs, ds, mine);
      held.add(ds);
    }
  }
  for (const ds of owner ? datasets : datasets.slice(0, 1)) {
    const claims = await chainClaims(zfs, ds);
    if (!claims) continue; // already gone
    const others = Object.values(claims);
    if (others.length) {
      log(`layer chain ${ds} is kept: still claimed by ${others.join(', ')}`);
      return;
    }
    if (owner && !held.has(ds)) {
      log(`layer chain ${ds} is kept: this image holds no claim on it (built before owner records, or its claim was removed by hand)`);
      return;
    }
    try {
      await chains.destroyChain(ds);
    } catch (err) {
      if (!(err instanceof ChainInUseError)) throw err;
      log(`layer chain ${ds} is kept: pods were cloned from it (${err.clones.join(', ')})`);
      return;
    }
  }
}
