// Claims on ZFS layer chains. An image's chain is a line of datasets, each a clone of the one below (chains.ts); images
// with common lower layers share those datasets. Who uses a dataset is recorded on the dataset itself, so that any
// machine, any stack, and a destroy that was killed half-way all see the same answer:
//  - `proxmox-pods:claim.<owner tag>.<instance>` = owner id on EVERY dataset of a chain an image uses, where the
//    instance is the image's (claim-instance.ts): two images of one resource (a replace keeps the resource name, so
//    the owner) are two claims, and the old image's release never drops the new one's claims, on a shared layer or
//    on the very same chain;
//  - `proxmox-pods:chain` = `claimed` once a dataset has been claimed: from then on "no claim left" means garbage.
//    Datasets built before claims existed never carry it and are never swept (they keep the old top-only rule).
// A dataset goes when it is marked, no claim is left on it and nothing is cloned from it (pods, other chains); that is
// decided by a sweep of the whole chain parent (`sweepChains`), not by a walk down one chain, so a release that was
// killed after destroying the top of its chain leaves datasets that the next release or create (of any owner) finds
// and removes. Order that keeps this crash-safe: a create claims each dataset before relying on it (chains.ts
// ensureChain); a release marks, then drops its claims on all its datasets, then sweeps. A crash between any two
// steps leaves either a claim (the owner's state still has the image: its next destroy runs the release again) or an
// unclaimed marked dataset (the next sweep takes it). Residual race, documented: a sweep that read "unclaimed" a
// moment before a concurrent create re-claimed a reused dataset may still destroy it; that create then fails on its
// clone and its retry rebuilds the layer (a sweep re-reads the claims right before each destroy to keep this small).
import { createHash } from 'node:crypto';
import { CLAIM_PROPERTY_PREFIX, clearUserProperty, setUserProperty, userProperties } from '../../host/zfs-owner';
import { ChainInUseError, ZfsError, type PropertyValue, type Zfs } from '../../host/zfs';
import { messageOf } from '../../diagnostics';
import { nodeChains, nodeZfs } from '../common/node-zfs';
import { OWNER_TAG_PATTERN, ownerId, ownerTag, type OwnerKey } from '../common/owner';
import { CLAIM_INSTANCE_PATTERN, releases, type ReleaseScope } from './claim-instance';

/** Set on a chain dataset the first time it is claimed; never removed. */
export const CHAIN_MARK_PROPERTY = 'proxmox-pods:chain';
const CHAIN_MARK = 'claimed';

/**
 * The tag of the claims written before instances existed: `pp-<16 hex>` of the owner and the chain's top snapshot.
 * Still released (as the oldest claims of their owner), never written. Pure.
 */
export function chainClaimTag(owner: OwnerKey, topSnapshot: string): string {
  return `pp-${createHash('sha256').update(`${ownerId(owner)}\n${topSnapshot}`).digest('hex').slice(0, 16)}`;
}

/** `proxmox-pods:claim.<owner tag>.<instance>`: the claim of one image (claim-instance.ts) on a dataset. */
const claimProperty = (owner: OwnerKey, instance: string) => `${CLAIM_PROPERTY_PREFIX}${ownerTag(owner)}.${instance}`;
const INSTANCE_CLAIM_RE = new RegExp(`^${CLAIM_PROPERTY_PREFIX.replace('.', '\\.')}(${OWNER_TAG_PATTERN})\\.(${CLAIM_INSTANCE_PATTERN})$`);
/** Claims written before instances: one per (owner, chain top), and before that one per owner. */
const legacyClaimProperties = (owner: OwnerKey, topSnapshot: string) => [`${CLAIM_PROPERTY_PREFIX}${chainClaimTag(owner, topSnapshot)}`, `${CLAIM_PROPERTY_PREFIX}${ownerTag(owner)}`];

/** The user properties that claim a chain for one image of `owner` (given to ensureChain, set on every dataset). Pure. */
export function chainClaimProps(owner: OwnerKey, instance: string): Record<string, string> {
  return { [CHAIN_MARK_PROPERTY]: CHAIN_MARK, [claimProperty(owner, instance)]: ownerId(owner) };
}

/** Which of a dataset's claim properties `scope` takes for `owner` on the chain topped by `topSnapshot`. Pure. */
export function claimsReleased(properties: readonly string[], owner: OwnerKey, topSnapshot: string, scope: ReleaseScope): string[] {
  const tag = ownerTag(owner);
  const legacy = legacyClaimProperties(owner, topSnapshot);
  return properties.filter((p) => {
    const m = INSTANCE_CLAIM_RE.exec(p);
    if (m) return m[1] === tag && releases(scope, m[2]!);
    return legacy.includes(p) && releases(scope, '');
  });
}

export async function claimChain(node: string, datasets: readonly string[], owner: OwnerKey, instance: string): Promise<void> {
  const zfs = await nodeZfs(node);
  for (const ds of datasets) for (const [k, v] of Object.entries(chainClaimProps(owner, instance))) await setUserProperty(zfs, ds, k, v);
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

/**
 * Moves an image's claims on its chain from one owner to another (an owner recorded for the first time, a renamed
 * stack): the new owner's claim for `instance` first, then the old owner's claims that `from.scope` names.
 */
export async function reclaimChain(node: string, parent: string, topSnapshot: string, from: { owner: OwnerKey; scope: ReleaseScope } | undefined, to: OwnerKey, instance: string): Promise<void> {
  const datasets = await chainDatasets(node, parent, topSnapshot);
  await claimChain(node, datasets, to, instance);
  if (from && ownerId(from.owner) !== ownerId(to)) await dropClaims(node, datasets, from.owner, topSnapshot, from.scope);
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
 * Drops the claims of `owner` that `scope` takes (claim-instance.ts) from each of `datasets` that exists; each dataset
 * it held a claim on is marked first, so once unclaimed it is the sweep's.
 */
export async function dropClaims(node: string, datasets: readonly string[], owner: OwnerKey, topSnapshot: string, scope: ReleaseScope): Promise<void> {
  const zfs = await nodeZfs(node);
  for (const ds of datasets) {
    const claims = await chainClaims(zfs, ds);
    if (!claims) continue; // gone already
    const held = claimsReleased(Object.keys(claims), owner, topSnapshot, scope);
    if (!held.length) continue;
    await setUserProperty(zfs, ds, CHAIN_MARK_PROPERTY, CHAIN_MARK);
    for (const p of held) await clearUserProperty(zfs, ds, p);
  }
}

interface ChainRow { claims: string[]; marked: boolean }

function chainRows(all: Map<string, Map<string, PropertyValue>>, parent: string): Map<string, ChainRow> {
  const rows = new Map<string, ChainRow>();
  for (const [name, props] of all) {
    // Chains are the direct children of the parent (chains.ts datasetFor); anything deeper is not a chain of ours.
    if (!name.startsWith(`${parent}/`) || name.slice(parent.length + 1).includes('/')) continue;
    const claims: string[] = [];
    let marked = false;
    for (const [p, v] of props) {
      if (v.source !== 'local') continue; // inherited from the parent: not a claim on this dataset
      if (p.startsWith(CLAIM_PROPERTY_PREFIX)) claims.push(v.value);
      else if (p === CHAIN_MARK_PROPERTY && v.value === CHAIN_MARK) marked = true;
    }
    rows.set(name, { claims, marked });
  }
  return rows;
}

/**
 * Destroys every chain dataset under `parent` that was claimed once, is claimed no more and has nothing cloned from
 * it, leaves first, until none is left: what this release freed and whatever an earlier, interrupted release left.
 * Returns the datasets it destroyed. Datasets it cannot destroy (a clone appeared, busy) are logged and left to the
 * next sweep.
 */
export async function sweepChains(node: string, parent: string, log: (m: string) => void): Promise<string[]> {
  const zfs = await nodeZfs(node);
  const chains = await nodeChains(node, parent);
  const pool = parent.split('/')[0]!;
  const destroyed: string[] = [];
  const failed = new Set<string>();
  for (;;) {
    const all = await zfs.getRecursive(parent);
    if (!all) return destroyed;
    const rows = chainRows(all, parent);
    // Clones can live anywhere in the pool (pods' rootfs are under the storage's dataset): one listing of origins.
    const origins = new Set((await zfs.listRecursive(pool, ['name', 'origin'], ['filesystem', 'volume'])).map(([, o]) => o ?? '').filter((o) => o.endsWith('@ready')));
    const free = [...rows].filter(([name, r]) => r.marked && r.claims.length === 0 && !origins.has(`${name}@ready`) && !failed.has(name)).map(([name]) => name);
    if (!free.length) return destroyed;
    for (const ds of free) {
      // Read again right before destroying: a create may have claimed it since the listing.
      const claims = await chainClaims(zfs, ds);
      if (!claims || Object.keys(claims).length) {
        failed.add(ds);
        continue;
      }
      try {
        await chains.destroyChain(ds);
        destroyed.push(ds);
      } catch (err) {
        if (!(err instanceof ChainInUseError || err instanceof ZfsError)) throw err;
        // Someone cloned from it or holds it a moment (a concurrent create): it is theirs now, or the next sweep's.
        log(`layer chain ${ds} is kept for now: ${messageOf(err)}`);
        failed.add(ds);
      }
    }
  }
}

/**
 * Releases the claims of `owner` that `scope` takes on the chain whose top snapshot is `topSnapshot`, then sweeps the
 * parent (sweepChains).
 * Reports, for each dataset of this chain that stays, why. `owner` undefined (state written before owner records):
 * claims are left alone and only an unclaimed top dataset is destroyed, as older versions did, then the sweep runs.
 */
export async function releaseChain(node: string, parent: string, topSnapshot: string, owner: OwnerKey | undefined, scope: ReleaseScope, log: (m: string) => void): Promise<void> {
  const zfs = await nodeZfs(node);
  const datasets = await chainDatasets(node, parent, topSnapshot);
  if (owner) {
    await dropClaims(node, datasets, owner, topSnapshot, scope);
  } else if (datasets[0] && !Object.keys((await chainClaims(zfs, datasets[0])) ?? {}).length) {
    try {
      await (await nodeChains(node, parent)).destroyChain(datasets[0]);
    } catch (err) {
      if (!(err instanceof ChainInUseError)) throw err;
    }
  }
  await sweepChains(node, parent, log);
  await explainKept(node, zfs, parent, datasets, log);
}

/** One line per dataset of the released chain that is still there: who claims it, or what is cloned from it. */
async function explainKept(node: string, zfs: Zfs, parent: string, datasets: readonly string[], log: (m: string) => void): Promise<void> {
  const chains = await nodeChains(node, parent);
  for (const ds of datasets) {
    const claims = await chainClaims(zfs, ds);
    if (!claims) continue;
    const owners = [...new Set(Object.values(claims))].sort();
    if (owners.length) {
      log(`layer chain ${ds} is kept: still claimed by ${owners.join(', ')}`);
      continue;
    }
    const clones = await chains.clonesOf(ds);
    const outside = clones.filter((c) => !c.startsWith(`${parent}/`));
    if (outside.length) log(`layer chain ${ds} is kept: pods were cloned from it (${outside.join(', ')})`);
    else if (clones.length) log(`layer chain ${ds} is kept: the chains of other images are built on it (${clones.join(', ')})`);
    else log(`layer chain ${ds} is kept: no owner ever claimed it (built before owner records); destroy it by hand when no stack uses it`);
  }
}
