// Pods whose rootfs is a clone of an image's ZFS layer chain. PVE's create API always extracts an `ostemplate` into
// a fresh disk, so the pod is created from a scaffold (an empty rootfs template of about 100 bytes) on a zfspool
// storage, and the disk PVE allocated is then replaced by a clone of the image's top `@ready` snapshot under the same
// name: the config never changes, PVE destroys the clone with the container, and the origin snapshot stays with the
// image. Checks come first so that a pod that cannot be cloned fails before anything exists.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { InputError } from '../../errors';
import type { PveClient } from '../../proxmox/client';
import type { StorageConfig } from '../../proxmox/schemas';
import { poolOf, replaceWithClone } from '../../host/zfs';
import { compressLayer, makeTar } from '../../oci/layout/writer';
import { nodeZfs } from '../common/node-zfs';
import type { Deadline } from '../common/duration';
import { parseMount } from '../../proxmox/properties';
import { templateOf, zfsSnapshotOf, type PodInputs } from './schema';

export interface ZfsRootfsPlan {
  snapshot: string;
  /** The zfspool storage the pod's disk is allocated on. */
  storage: string;
  /** Its dataset (storage.cfg `pool`), e.g. `rpool/data`. */
  pool: string;
}

/**
 * Pure: can this pod's rootfs be a clone of `snapshot`? The disk must be on a zfspool storage in the snapshot's
 * ZFS pool (clones never cross pools), and the pod unprivileged (the chains are uid-shifted 0 → 100000).
 */
export function planZfsRootfs(inputs: Pick<PodInputs, 'unprivileged' | 'rootfs'>, snapshot: string, defaultStorage: string, storages: readonly StorageConfig[]): ZfsRootfsPlan {
  const storage = inputs.rootfs.storage ?? defaultStorage;
  const want = poolOf(snapshot);
  const candidates = storages.filter((s) => s.type === 'zfspool' && s.pool && poolOf(s.pool) === want).map((s) => `"${s.storage}"`);
  const fix = candidates.length ? `set rootfs.storage to ${candidates.join(' or ')}` : `add a zfspool storage on pool "${want}" (pvesm add zfspool …) and use it as rootfs.storage`;
  if (!inputs.unprivileged) {
    throw new InputError('unprivileged', `the image's ZFS layer chain ${snapshot} is uid-shifted for unprivileged containers`, 'set unprivileged: true, or build the OciImage without zfs to use its template');
  }
  const cfg = storages.find((s) => s.storage === storage);
  if (!cfg) throw new InputError('rootfs.storage', `storage "${storage}" does not exist or this token may not see it (Datastore.Audit)`, fix);
  if (cfg.type !== 'zfspool' || !cfg.pool) {
    throw new InputError('rootfs.storage', `"${storage}" is a ${cfg.type} storage; a pod cloned from the image's ZFS snapshot ${snapshot} needs a zfspool storage`, `${fix}, or build the OciImage without zfs to use its template`);
  }
  if (poolOf(cfg.pool) !== want) {
    throw new InputError('rootfs.storage', `"${storage}" keeps its disks in pool ${poolOf(cfg.pool)}, the image's snapshot ${snapshot} is in pool ${want}`, `${fix}, or set the OciImage's zfs.parentDataset to a dataset in ${poolOf(cfg.pool)}`);
  }
  return { snapshot, storage, pool: cfg.pool };
}

/** Pure: the dataset behind a zfspool disk such as `local-zfs:subvol-101-disk-0`. */
export function datasetOfRootfs(rootfs: string, plan: ZfsRootfsPlan): string {
  const volume = parseMount(rootfs).volume;
  const m = /^([^:]+):((?:subvol)-\d+-disk-\d+)$/.exec(volume);
  if (!m || m[1] !== plan.storage) throw new InputError('rootfs', `PVE allocated ${volume}, not a subvol on ${plan.storage}`, 'report this: the storage did not behave like a zfspool storage');
  return `${plan.pool}/${m[2]}`;
}

let scaffold: { bytes: Buffer; filename: string; sha256: string } | undefined;

/** An empty rootfs (`./` only) as tar.zst; deterministic, so its name carries its hash and every node shares it. */
export async function scaffoldTemplate(): Promise<{ bytes: Buffer; filename: string; sha256: string }> {
  if (scaffold) return scaffold;
  const bytes = compressLayer(await makeTar([{ name: './', type: 'directory', mtime: new Date(0) }]), 'zstd');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  scaffold = { bytes, filename: `proxmox-pods-scaffold-${sha256.slice(0, 12)}.tar.zst`, sha256 };
  return scaffold;
}

/** Uploads the scaffold to `storage` on `node` unless it is there; returns its volid. */
export async function ensureScaffold(pve: PveClient, node: string, storage: string, deadline: Deadline): Promise<string> {
  const s = await scaffoldTemplate();
  const volid = `${storage}:vztmpl/${s.filename}`;
  if ((await pve.storageContent(node, storage, 'vztmpl')).some((c) => c.volid === volid)) return volid;
  return pve.uploadToStorage(node, storage, { content: 'vztmpl', filename: s.filename, data: Readable.from([s.bytes]), size: s.bytes.length, checksum: s.sha256, checksumAlgorithm: 'sha256' }, { deadlineMs: deadline.remaining() });
}

export interface ZfsRootfs {
  plan: ZfsRootfsPlan;
  /** What the create call takes instead of the image's template. */
  createOverrides: { ostemplate: string; ostype: 'unmanaged'; rootfs: string };
  /** After the create task: the allocated disk becomes a clone of the snapshot. */
  swap(rootfs: string): Promise<string>;
}

/**
 * Everything that can be checked before a container exists: the storage, the snapshot on the pod's node, the
 * scaffold on the template's storage. Undefined when the pod's image has no ZFS chain.
 */
export async function prepareZfsRootfs(pve: PveClient, inputs: PodInputs, node: string, defaultStorage: string, deadline: Deadline): Promise<ZfsRootfs | undefined> {
  const snapshot = zfsSnapshotOf(inputs.image);
  if (!snapshot) return undefined;
  const plan = planZfsRootfs(inputs, snapshot, defaultStorage, await pve.storageConfigs());
  // Only `zfs` runs on the node here (clone, rename, destroy): any executor will do, SSH included.
  const zfs = await nodeZfs(node);
  if (!(await zfs.exists(snapshot, 'snapshot'))) {
    throw new InputError('image.zfsSnapshot', `${snapshot} does not exist on node ${node}`, `build the OciImage on ${node} (its node input) or place the pod on the image's node`);
  }
  deadline.check();
  const templateStorage = templateOf(inputs.image).split(':')[0]!;
  // The OciImage's own scaffold carries the image config and /etc files, so PVE's OCI create maps them as for the
  // template; images built before it existed fall back to the empty one.
  const own = typeof inputs.image === 'string' ? undefined : inputs.image.scaffold;
  const ostemplate = own ?? (await ensureScaffold(pve, node, templateStorage, deadline));
  return {
    plan,
    createOverrides: { ostemplate, ostype: 'unmanaged', rootfs: `${plan.storage}:${inputs.rootfs.sizeGiB}` },
    async swap(rootfs) {
      const dataset = datasetOfRootfs(rootfs, plan);
      await replaceWithClone(zfs, snapshot, dataset);
      return dataset;
    },
  };
}
