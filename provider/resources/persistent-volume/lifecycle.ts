// The PersistentVolume's I/O: a ZFS dataset on a node, bind-mounted into a pod. It has its own lifecycle so that it
// outlives every replacement of the pod that uses it; its reclaim policy decides what happens when it leaves the
// program. Only a dataset this resource owns is changed or destroyed.
import { InputError } from '../../errors';
import { createVolume, OWNER_PROPERTY, readVolume, RELEASED_PROPERTY, type VolumeInfo, type Zfs } from '../../host/zfs';
import { OWNER_USER_PROPERTY, setUserProperty, userProperties } from '../../host/zfs-owner';
import { warn } from '../../diagnostics';
import { onlineNodes, pveClient, stackSetting } from '../common/connection';
import { nodeZfs } from '../common/node-zfs';
import { NotOwnedError, ownerId, parseOwnerId, scopedOwnerKey, type OwnerKey } from '../common/owner';
import { spreadNode } from '../statefulset-pod/identity';
import type { ReadOutcome } from '../types';
import { refreshedInputs } from '../common/refresh';
import { HostCommandError } from '../../host/executor';
import type { PersistentVolumeInputs, PersistentVolumeOutputs } from './schema';

/**
 * The uid that owns the volume's root on the node; undefined when there is no root to ask (a dataset without a
 * mountpoint, or not mounted). Any other failure of `stat` (the node unreachable) is an error, never "as recorded".
 */
async function rootOwner(zfs: Zfs, mountpoint: string): Promise<number | undefined> {
  if (!mountpoint.startsWith('/')) return undefined;
  const args = ['-c', '%u', '--', mountpoint];
  const r = await zfs.exec.run('stat', args, { allowFailure: true });
  if (r.exitCode === 0 && /^\d+$/.test(r.stdout.trim())) return Number(r.stdout.trim());
  if (/No such file or directory/.test(r.stderr)) return undefined;
  throw new HostCommandError(zfs.exec.node, 'stat', args, r);
}

function parentOf(inputs: PersistentVolumeInputs): string {
  const parent = inputs.parentDataset ?? stackSetting('volumeDataset');
  if (!parent) throw new InputError('parentDataset', 'is not set', 'give parentDataset or set proxmox-pods:volumeDataset (e.g. rpool/data/proxmox-pods)');
  return parent;
}

async function nodeFor(inputs: PersistentVolumeInputs): Promise<string> {
  if (inputs.node) return inputs.node;
  const pve = pveClient();
  if (inputs.ordinal === undefined) return pve.defaultNode();
  return spreadNode(await onlineNodes(pve), inputs.ordinal);
}

const volumeOwner = (i: Pick<PersistentVolumeInputs, 'owner' | 'name'>) => scopedOwnerKey(i.owner, 'PersistentVolume', i.name);

/**
 * Who a volume dataset belongs to, from what is on it: `owner` (proxmox-pods:owner, written since owner records),
 * `legacy` (only the older `pods:volume` name: made before owner records), or `foreign` (neither: not ours at all).
 */
type Holder = { kind: 'owner'; owner: OwnerKey | undefined; id: string } | { kind: 'legacy' } | { kind: 'foreign' };

async function holderOf(zfs: Zfs, info: VolumeInfo, volumeName: string): Promise<Holder> {
  const id = (await userProperties(zfs, info.name))?.[OWNER_USER_PROPERTY];
  if (id) return { kind: 'owner', owner: parseOwnerId(id), id };
  return info.owner === volumeName ? { kind: 'legacy' } : { kind: 'foreign' };
}

/** Not this resource's: another owner's dataset, or foreign data under the volume's name. */
const notMine = (holder: Holder, mine: OwnerKey | undefined) => holder.kind === 'foreign' || (holder.kind === 'owner' && !!mine && holder.id !== ownerId(mine));

/**
 * Whether `wanted` may use the dataset. Ours: yes. Made before owner records (legacy) under this volume name: yes,
 * as older versions allowed (a volume of that name took a retained one back); the owner is recorded from then on.
 * Anything else: NotOwnedError.
 */
function assertMayUse(holder: Holder, wanted: OwnerKey | undefined, what: string): void {
  if (!notMine(holder, wanted)) return;
  throw new NotOwnedError(what, holder.kind === 'owner' ? holder.owner : undefined, wanted, 'choose another name or parentDataset; proxmox-pods never takes over foreign data');
}

export async function createPersistentVolume(inputs: PersistentVolumeInputs): Promise<{ id: string; outs: PersistentVolumeOutputs }> {
  const node = await nodeFor(inputs);
  const zfs = await nodeZfs(node);
  const dataset = `${parentOf(inputs)}/${inputs.name}`;
  const owner = volumeOwner(inputs);
  // Find-or-create: the dataset is named by the volume, so a create that was cut short is found here and finished.
  const existing = await readVolume(zfs, dataset);
  let reused = false;
  let info = existing;
  if (existing) {
    assertMayUse(await holderOf(zfs, existing, inputs.name), owner, `dataset ${dataset} on ${node}`);
    // A volume retained at scale-down comes back to its successor with its data.
    reused = true;
    if (owner) await setUserProperty(zfs, dataset, OWNER_USER_PROPERTY, ownerId(owner));
    await zfs.inherit(dataset, RELEASED_PROPERTY);
    if (existing.refquotaGiB !== inputs.sizeGiB) await zfs.set(dataset, 'refquota', `${inputs.sizeGiB}G`);
  } else {
    info = await createVolume(zfs, dataset, { owner: inputs.name, quotaGiB: inputs.sizeGiB, uid: inputs.ownerUid });
    // Cut short before this line, the dataset reads as made before owner records: the retry adopts it (above).
    if (owner) await setUserProperty(zfs, dataset, OWNER_USER_PROPERTY, ownerId(owner));
  }
  return { id: `${node}/${dataset}`, outs: { ...inputs, node, dataset, hostPath: info!.mountpoint, reused } };
}

export async function readPersistentVolume(id: string, props: PersistentVolumeOutputs): Promise<ReadOutcome<PersistentVolumeInputs, PersistentVolumeOutputs>> {
  const zfs = await nodeZfs(props.node);
  const info = await readVolume(zfs, props.dataset);
  // Another owner's dataset now (or not ours at all): ours is gone; the next `up` says so when it tries to create.
  const holder = info ? await holderOf(zfs, info, props.name) : undefined;
  if (info && holder && notMine(holder, volumeOwner(props))) {
    warn(`dataset ${props.dataset} on ${props.node} is no longer this volume's (${holder.kind === 'owner' ? `owned by ${holder.id}` : `its ${OWNER_PROPERTY} is ${info.owner ?? 'unset'}`}): dropped from state, the data is left alone`);
    return undefined;
  }
  if (!info || info.released) return undefined;
  const now: Partial<PersistentVolumeInputs> = { sizeGiB: Math.round(info.refquotaGiB ?? props.sizeGiB), ownerUid: (await rootOwner(zfs, info.mountpoint)) ?? props.ownerUid };
  const inputs = refreshedInputs<PersistentVolumeOutputs, PersistentVolumeInputs>(props, ['dataset', 'hostPath', 'reused'], now);
  return { id, props: { ...props, ...now, hostPath: info.mountpoint }, ...(inputs ? { inputs } : {}) };
}

export async function updatePersistentVolume(olds: PersistentVolumeOutputs, news: PersistentVolumeInputs): Promise<{ outs: PersistentVolumeOutputs }> {
  const zfs = await nodeZfs(olds.node);
  const owner = volumeOwner(news);
  if (owner) {
    const info = await readVolume(zfs, olds.dataset);
    if (!info) throw new InputError('name', `dataset ${olds.dataset} on ${olds.node} is gone`, 'run `pulumi refresh`, then `pulumi up` creates it again');
    assertMayUse(await holderOf(zfs, info, olds.name), volumeOwner(olds) ?? owner, `dataset ${olds.dataset} on ${olds.node}`);
    // Recorded now for a volume made before owner records, or moved to a renamed stack.
    await setUserProperty(zfs, olds.dataset, OWNER_USER_PROPERTY, ownerId(owner));
  }
  if (news.sizeGiB !== olds.sizeGiB) {
    const info = await readVolume(zfs, olds.dataset);
    if (info && info.usedBytes > news.sizeGiB * 1024 ** 3) {
      throw new InputError('sizeGiB', `volume ${olds.name} already holds ${(info.usedBytes / 1024 ** 3).toFixed(1)} GiB`, 'free space in the pod first or keep a larger size');
    }
    await zfs.set(olds.dataset, 'refquota', `${news.sizeGiB}G`);
  }
  // The volume root's owner, as createVolume sets it (a chown by hand shows on refresh and is put back here).
  if (news.ownerUid !== olds.ownerUid || (await rootOwner(zfs, olds.hostPath)) !== news.ownerUid) {
    await zfs.exec.run('chown', [`${news.ownerUid}:${news.ownerUid}`, '--', olds.hostPath]);
  }
  return { outs: { ...olds, ...news, node: olds.node, dataset: olds.dataset, hostPath: olds.hostPath, reused: olds.reused } };
}

export async function deletePersistentVolume(props: PersistentVolumeOutputs): Promise<void> {
  const zfs = await nodeZfs(props.node);
  const info = await readVolume(zfs, props.dataset);
  if (!info) return; // gone: nothing to do
  const holder = await holderOf(zfs, info, props.name);
  // Not ours (another owner's, or foreign data under our name): never touched, and said; this resource is gone.
  if (notMine(holder, volumeOwner(props))) {
    warn(new NotOwnedError(`dataset ${props.dataset} on ${props.node}`, holder.kind === 'owner' ? holder.owner : undefined, volumeOwner(props), 'left alone; this volume leaves the stack').message);
    return;
  }
  if (props.reclaimPolicy === 'Delete') await zfs.destroy(props.dataset);
  else await zfs.set(props.dataset, RELEASED_PROPERTY, new Date().toISOString());
}
