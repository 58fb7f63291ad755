// ZFS layer chains: one dataset per layer chain, named by its ChainID, each a clone of the chain below
// (`<parent>@ready`) with one layer applied; `@ready` is taken only after the layer applied and verified,
// so a crash leaves a dataset without `@ready`, which the next attempt destroys and rebuilds. Pods get
// `zfs clone -o refquota=…` of the top `@ready`. Commands go through an injectable `Run` so the host
// executor (local or SSH) can be swapped in; every name is validated before it reaches a command.
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { InputError, ProxmoxPodsError } from '../../errors';
import { parseDigest } from '../digest';

export type Run = (cmd: string, args: string[]) => Promise<{ stdout: string }>;

export const localRun: Run = async (cmd, args) => {
  const r = await execa(cmd, args, { timeout: 300_000, stripFinalNewline: true });
  return { stdout: r.stdout };
};

export class ZfsError extends ProxmoxPodsError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`zfs: ${reason}`, 'E_ZFS', options);
  }
}

/** A chain still has dependants (pod clones or chains built on it). */
export class ChainInUseError extends ProxmoxPodsError {
  constructor(readonly dataset: string, readonly clones: string[]) {
    super(`zfs: ${dataset} is still used by ${clones.join(', ')}; delete those pods/images first`, 'E_ZFS_IN_USE');
  }
}

const COMPONENT = /^[A-Za-z0-9_.:-]+$/;

/** Properties PVE sets on a container disk that its replacement clone must keep. */
const CLONE_KEPT_PROPERTIES = ['refquota', 'acltype', 'xattr'] as const;

/** ZFS dataset name rules (pool/child/...), stricter than ZFS where ZFS allows surprises (spaces, leading '-'). */
export function validateDataset(name: string, field = 'dataset'): string {
  const parts = name.split('/');
  const bad = name.length === 0 || name.length >= 256 || parts.some((p) => !COMPONENT.test(p) || p === '.' || p === '..' || p.startsWith('-'))
    || !/^[A-Za-z]/.test(parts[0]!);
  if (bad) throw new InputError(field, `${JSON.stringify(name)} is not a valid ZFS dataset name`, 'use pool/path components of [A-Za-z0-9_.:-], the pool starting with a letter, under 256 characters');
  return name;
}

/** The same rules as validateSnapshot, as a predicate for schemas. */
export function isSnapshotName(name: string): boolean {
  try {
    validateSnapshot(name);
    return true;
  } catch {
    return false;
  }
}

/** `pool/a/b@s` → `pool`. */
export const poolOf = (name: string): string => name.split(/[/@]/)[0]!;

export function validateSnapshot(name: string, field = 'snapshot'): string {
  const at = name.indexOf('@');
  if (at <= 0 || !COMPONENT.test(name.slice(at + 1)) || name.slice(at + 1).startsWith('-')) throw new InputError(field, `${JSON.stringify(name)} is not a valid ZFS snapshot name`, 'use <dataset>@<name>');
  validateDataset(name.slice(0, at), field);
  return name;
}

/** ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)) (image-spec config.md). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, diffId] of diffIds.entries()) {
    parseDigest(diffId, `diffIds[${i}]`);
    out.push(i === 0 ? diffId : `sha256:${createHash('sha256').update(`${out[i - 1]} ${diffId}`).digest('hex')}`);
  }
  return out;
}

export interface ChainLayer {
  digest: string;
  diffId: string;
  /** Applies the layer onto the mounted dataset; must throw if the layer fails verification. */
  apply: (mountpoint: string) => Promise<void>;
}

export interface ChainResult {
  /** `<dataset>@ready` of the top chain: the clone source for pods. */
  snapshot: string;
  datasets: string[];
  /** Layers whose chain dataset already existed and was reused. */
  reused: number;
}

export interface ZfsFeatures { acltype: boolean }

export class ZfsChains {
  private features: Promise<ZfsFeatures> | undefined;

  /**
   * @param parent dataset holding the chains, e.g. `rpool/pods/chains`
   * @param variant suffix for datasets whose content depends on more than the layers (e.g. the id map `u100000`)
   */
  constructor(readonly parent: string, private readonly run: Run = localRun, readonly variant = '') {
    validateDataset(parent, 'zfs.parent');
    if (variant && !/^[A-Za-z0-9]{1,32}$/.test(variant)) throw new InputError('zfs.variant', `${JSON.stringify(variant)} is not a valid suffix`, 'use up to 32 letters/digits');
  }

  datasetFor(chainId: string): string {
    const { hex } = parseDigest(chainId, 'chainId');
    return validateDataset(`${this.parent}/${hex}${this.variant ? `-${this.variant}` : ''}`);
  }

  private async zfs(args: string[]): Promise<string> {
    try {
      return (await this.run('zfs', args)).stdout;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new ZfsError(`zfs ${args.join(' ')} failed: ${stderr || (err as Error).message}`, { cause: err });
    }
  }

  /**
   * A command retried while the dataset is busy: zfs-fuse (and a kernel mount still settling) reports EBUSY for a
   * moment after a create or the last write. Only for commands that are safe to repeat after a busy refusal.
   */
  private async zfsUntilNotBusy(args: string[]): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.zfs(args);
      } catch (err) {
        if (attempt >= 90 || !/busy/i.test((err as Error).message)) throw err;
        // Usually clear within tens of ms, but seconds on a loaded node: start short, back off to 250 ms (~20 s in all).
        await new Promise((r) => setTimeout(r, Math.min(250, 25 * 2 ** attempt)));
      }
    }
  }

  /**
   * `prop=value` for each of `names` set locally on `dataset` (what PVE gave its disk: refquota, acltype, xattr).
   * Asked one by one: zfs-fuse refuses a whole `zfs get` that names a property it lacks (acltype).
   */
  private async localProperties(dataset: string, names: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of names) {
      const row = await this.zfs(['get', '-Hp', '-o', 'value,source', name, dataset]).catch(() => '');
      const [value, source] = row.trim().split('\t');
      if (source === 'local' && value && value !== '-' && /^[\w.:-]+$/.test(value)) out.push(`${name}=${value}`);
    }
    return out;
  }

  /**
   * Unmount, rename, and mount again if wanted. zfs-fuse cannot rename a mounted dataset ("dataset is busy");
   * OpenZFS can, but doing it unmounted works on both and nothing uses the datasets renamed here.
   */
  private async renameUnmounted(from: string, to: string, mount: boolean): Promise<void> {
    await this.zfsUntilNotBusy(['umount', from]).catch((err: Error) => {
      if (!/not currently mounted/.test(err.message)) throw err;
    });
    try {
      await this.zfsUntilNotBusy(['rename', from, to]);
    } catch (err) {
      await this.zfs(['mount', from]).catch(() => undefined); // back as it was
      throw err;
    }
    if (mount) {
      await this.zfs(['mount', to]).catch((err: Error) => {
        if (!/already mounted/.test(err.message)) throw err;
      });
    }
  }

  /** `zfs destroy -r`, retried while the dataset is busy. */
  async destroyDataset(name: string, force = false): Promise<void> {
    validateDataset(name);
    await this.zfsUntilNotBusy(['destroy', '-r', ...(force ? ['-f'] : []), name]);
  }

  private async exists(name: string, type: 'filesystem' | 'snapshot'): Promise<boolean> {
    try {
      await this.run('zfs', ['list', '-H', '-o', 'name', '-t', type, name]);
      return true;
    } catch {
      return false;
    }
  }

  snapshotExists(name: string): Promise<boolean> {
    validateSnapshot(name);
    return this.exists(name, 'snapshot');
  }

  /** zfs-fuse (pool v23) has no `acltype`; OpenZFS has. Detected once, never assumed. */
  detectFeatures(): Promise<ZfsFeatures> {
    this.features ??= this.run('zfs', ['get', '-H', '-o', 'value', 'acltype', this.parent.split('/')[0]!])
      .then(() => ({ acltype: true }), () => ({ acltype: false }));
    return this.features;
  }

  /** Builds (or reuses) the chain datasets for `layers`, base first. */
  async ensureChain(layers: readonly ChainLayer[]): Promise<ChainResult> {
    if (layers.length === 0) throw new InputError('layers', 'an image needs at least one layer', 'check the image manifest');
    const ids = chainIds(layers.map((l) => l.diffId));
    if (!(await this.exists(this.parent, 'filesystem'))) await this.zfs(['create', '-p', this.parent]);
    const datasets: string[] = [];
    let reused = 0;
    for (const [i, layer] of layers.entries()) {
      parseDigest(layer.digest, `layers[${i}].digest`);
      const ds = this.datasetFor(ids[i]!);
      datasets.push(ds);
      if (await this.exists(`${ds}@ready`, 'snapshot')) { reused++; continue; }
      // A dataset without @ready is what a crash mid-unpack leaves: never trust it, rebuild it.
      if (await this.exists(ds, 'filesystem')) await this.destroyDataset(ds, true);
      const props = ['-o', `pods:chainid=${ids[i]}`, '-o', `pods:diffid=${layer.diffId}`, '-o', `pods:layer-digest=${layer.digest}`];
      if (i === 0) await this.zfs(['create', ...props, ds]);
      else await this.zfs(['clone', ...props, `${datasets[i - 1]}@ready`, ds]);
      try {
        const mountpoint = (await this.zfs(['get', '-H', '-o', 'value', 'mountpoint', ds])).trim();
        if (!mountpoint.startsWith('/')) throw new ZfsError(`${ds} is not mounted (mountpoint ${mountpoint}); chains need a mounted parent`);
        await layer.apply(mountpoint);
      } catch (err) {
        // -f: the half-applied dataset is ours alone; a lingering mount must not keep it alive.
        await this.destroyDataset(ds, true).catch(() => undefined);
        throw err;
      }
      await this.zfs(['snapshot', `${ds}@ready`]);
    }
    return { snapshot: `${datasets[datasets.length - 1]}@ready`, datasets, reused };
  }

  /** A pod's rootfs: an instant clone of the image's top snapshot, limited by refquota. */
  async clonePodRootfs(topSnapshot: string, target: string, refquotaGiB: number): Promise<string> {
    validateSnapshot(topSnapshot, 'image.zfsSnapshot');
    validateDataset(target, 'rootfs.dataset');
    if (!Number.isInteger(refquotaGiB) || refquotaGiB <= 0) throw new InputError('rootfs.size', `${refquotaGiB} is not a positive whole number of GiB`, 'use e.g. 8');
    const props = ['-o', `refquota=${refquotaGiB}G`];
    if ((await this.detectFeatures()).acltype) props.push('-o', 'acltype=posixacl');
    await this.zfs(['clone', ...props, topSnapshot, target]);
    return target;
  }

  /**
   * Puts a clone of `snapshot` in place of `target` — a container disk PVE has just allocated (and that nothing
   * uses yet) — keeping the properties PVE set on it (refquota, acltype, xattr). Clone beside it, rename the target away, rename the clone in, then
   * destroy the original: each step before the last is undone if the next one fails, so a failure leaves the target as it was.
   */
  async replaceWithClone(snapshot: string, target: string): Promise<void> {
    validateSnapshot(snapshot, 'image.zfsSnapshot');
    validateDataset(target, 'rootfs');
    if (poolOf(snapshot) !== poolOf(target)) throw new InputError('rootfs.storage', `${target} is in pool ${poolOf(target)}, the image's snapshot ${snapshot} in pool ${poolOf(snapshot)}`, 'ZFS clones only within a pool: use a storage on the image\'s pool');
    if (!(await this.exists(snapshot, 'snapshot'))) throw new ZfsError(`${snapshot} does not exist on this node; build the OciImage (zfs) on the pod's node`);
    const incoming = `${target}-pods-in`;
    const outgoing = `${target}-pods-out`;
    // Leftovers of an attempt that died midway (the names are ours alone).
    for (const ds of [incoming, outgoing]) if (await this.exists(ds, 'filesystem')) await this.destroyDataset(ds, true);
    const props = await this.localProperties(target, CLONE_KEPT_PROPERTIES);
    await this.zfs(['clone', ...props.flatMap((p) => ['-o', p]), snapshot, incoming]);
    try {
      await this.renameUnmounted(target, outgoing, false);
    } catch (err) {
      await this.destroyDataset(incoming, true).catch(() => undefined);
      throw err;
    }
    try {
      await this.renameUnmounted(incoming, target, true);
    } catch (err) {
      await this.renameUnmounted(outgoing, target, true).catch(() => undefined);
      await this.destroyDataset(incoming, true).catch(() => undefined);
      throw err;
    }
    await this.destroyDataset(outgoing, true);
  }

  /** Datasets cloned from `<dataset>@ready` (pods and child chains). */
  async clonesOf(dataset: string): Promise<string[]> {
    validateDataset(dataset);
    if (!(await this.exists(`${dataset}@ready`, 'snapshot'))) return [];
    // `zfs get clones` is missing on zfs-fuse; every dataset's `origin` is portable.
    const snapshot = `${dataset}@ready`;
    const pool = dataset.split('/')[0]!;
    const rows = (await this.zfs(['list', '-H', '-o', 'name,origin', '-t', 'filesystem,volume', '-r', pool])).split('\n');
    return rows.map((r) => r.split('\t')).filter(([, origin]) => origin === snapshot).map(([name]) => name!);
  }

  /** Destroys one chain dataset; refused while anything is cloned from it. Already gone = success. */
  async destroyChain(dataset: string): Promise<void> {
    validateDataset(dataset);
    if (!dataset.startsWith(`${this.parent}/`)) throw new InputError('dataset', `${dataset} is not a chain under ${this.parent}`, 'only chain datasets can be destroyed here');
    if (!(await this.exists(dataset, 'filesystem'))) return;
    const clones = await this.clonesOf(dataset);
    if (clones.length > 0) throw new ChainInUseError(dataset, clones);
    await this.destroyDataset(dataset);
  }
}
