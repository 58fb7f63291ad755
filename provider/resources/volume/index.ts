// PersistentVolume: a ZFS dataset on a node, bind-mounted into a pod. It has its own lifecycle so that it outlives
// every replacement of the pod that uses it; its reclaim policy decides what happens when it leaves the program.
import { InputError } from '../../errors';
import { createVolume, OWNER_PROPERTY, readVolume, RELEASED_PROPERTY } from '../../host/zfs';
import { warn } from '../../diagnostics';
import { checkWithSchema } from '../common/check';
import { onlineNodes, pveClient, stackSetting } from '../common/connection';
import { nodeZfs } from '../common/node-zfs';
import { spreadNode } from '../statefulset/identity';
import type { ResourceModule } from '../types';
import { persistentVolumeInputsSchema, type PersistentVolumeInputs, type PersistentVolumeOutputs } from './schema';

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

export const persistentVolumeModule: ResourceModule<PersistentVolumeInputs, PersistentVolumeOutputs> = {
  kind: 'PersistentVolume',
  schema: persistentVolumeInputsSchema,
  check: (_olds, news) => checkWithSchema(persistentVolumeInputsSchema, news),
  diff(_id, olds, news) {
    const replaces: string[] = [];
    if (olds.name !== news.name) replaces.push('name');
    if (news.parentDataset !== undefined && news.parentDataset !== olds.parentDataset) replaces.push('parentDataset');
    if (news.node !== undefined && news.node !== olds.node) replaces.push('node');
    const changed = [...replaces];
    for (const k of ['sizeGiB', 'reclaimPolicy', 'ownerUid', 'timeouts'] as const) if (JSON.stringify(olds[k]) !== JSON.stringify(news[k])) changed.push(k);
    // Same name, same dataset: the old one must be gone (or released) before the new one takes the name.
    return { changes: changed.length > 0, replaces, changed, deleteBeforeReplace: replaces.length > 0 };
  },
  async create(inputs) {
    const node = await nodeFor(inputs);
    const zfs = await nodeZfs(node);
    const dataset = `${parentOf(inputs)}/${inputs.name}`;
    const existing = await readVolume(zfs, dataset);
    let reused = false;
    let info = existing;
    if (existing) {
      if (existing.owner !== inputs.name) {
        throw new InputError('name', `dataset ${dataset} on ${node} exists and is not a proxmox-pods volume named "${inputs.name}"`, 'choose another name or parentDataset; proxmox-pods never takes over foreign data');
      }
      // A volume retained at scale-down comes back to its successor with its data.
      reused = true;
      await zfs.inherit(dataset, RELEASED_PROPERTY);
      if (existing.refquotaGiB !== inputs.sizeGiB) await zfs.set(dataset, 'refquota', `${inputs.sizeGiB}G`);
    } else {
      info = await createVolume(zfs, dataset, { owner: inputs.name, quotaGiB: inputs.sizeGiB, uid: inputs.ownerUid });
    }
    return { id: `${node}/${dataset}`, outs: { ...inputs, node, dataset, hostPath: info!.mountpoint, reused } };
  },
  async read(id, props) {
    const info = await readVolume(await nodeZfs(props.node), props.dataset);
    if (info && info.owner !== props.name) warn(`dataset ${props.dataset} on ${props.node} is no longer this volume's (its ${OWNER_PROPERTY} is ${info.owner ?? 'unset'}): dropped from state, the data is left alone`);
    if (!info || info.owner !== props.name || info.released) return { id: '', props: {} as PersistentVolumeOutputs };
    const sizeGiB = Math.round(info.refquotaGiB ?? props.sizeGiB);
    const { dataset: _d, hostPath: _h, reused: _r, ...inputs } = props;
    return { id, props: { ...props, sizeGiB, hostPath: info.mountpoint }, inputs: { ...inputs, sizeGiB } };
  },
  async update(_id, olds, news) {
    const zfs = await nodeZfs(olds.node);
    if (news.sizeGiB !== olds.sizeGiB) {
      const info = await readVolume(zfs, olds.dataset);
      if (info && info.usedBytes > news.sizeGiB * 1024 ** 3) {
        throw new InputError('sizeGiB', `volume ${olds.name} already holds ${(info.usedBytes / 1024 ** 3).toFixed(1)} GiB`, 'free space in the pod first or keep a larger size');
      }
      await zfs.set(olds.dataset, 'refquota', `${news.sizeGiB}G`);
    }
    return { outs: { ...olds, ...news, node: olds.node, dataset: olds.dataset, hostPath: olds.hostPath, reused: olds.reused } };
  },
  async delete(_id, props) {
    const zfs = await nodeZfs(props.node);
    const info = await readVolume(zfs, props.dataset);
    if (!info) return; // gone: nothing to do
    if (info.owner !== props.name) {
      warn(`dataset ${props.dataset} on ${props.node} is no longer this volume's (its ${OWNER_PROPERTY} is ${info.owner ?? 'unset'}): left alone`);
      return;
    }
    if (props.reclaimPolicy === 'Delete') await zfs.destroy(props.dataset);
    else await zfs.set(props.dataset, RELEASED_PROPERTY, new Date().toISOString());
  },
};

