// ZFS layer chains: one dataset per layer chain, named by its ChainID, each a clone of the chain below
// (`<parent>@ready`) with one layer applied; `@ready` is taken only after the layer applied and verified, so a crash
// leaves a dataset without `@ready`, which the next attempt destroys and rebuilds. Pods get their rootfs from the top
// `@ready` (clone-swap.ts).
import { createHash } from 'node:crypto';
import { InputError } from '../../errors';
import { warn, messageOf } from '../../diagnostics';
import { parseDigest } from '../../oci/digest';
import { ChainInUseError, ZfsError, type Zfs } from './command';
import { validateDataset, validateSnapshot } from './names';

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

export const READY = 'ready';

export class ZfsChains {
  /**
   * @param parent dataset holding the chains, e.g. `rpool/pods/chains`
   * @param variant suffix for datasets whose content depends on more than the layers (e.g. the id map `u100000`)
   */
  constructor(readonly zfs: Zfs, readonly parent: string, readonly variant = '') {
    validateDataset(parent, 'zfs.parent');
    if (variant && !/^[A-Za-z0-9]{1,32}$/.test(variant)) throw new InputError('zfs.variant', `${JSON.stringify(variant)} is not a valid suffix`, 'use up to 32 letters/digits');
  }

  datasetFor(chainId: string): string {
    const { hex } = parseDigest(chainId, 'chainId');
    return validateDataset(`${this.parent}/${hex}${this.variant ? `-${this.variant}` : ''}`);
  }

  snapshotExists(name: string): Promise<boolean> {
    validateSnapshot(name);
    return this.zfs.exists(name, 'snapshot');
  }

  /** The top dataset the chain of these DiffIDs has (or will have), without touching ZFS. */
  topDatasetFor(diffIds: readonly string[]): string {
    const ids = chainIds(diffIds);
    if (ids.length === 0) throw new InputError('layers', 'an image needs at least one layer', 'check the image manifest');
    return this.datasetFor(ids[ids.length - 1]!);
  }

  /** Every dataset name of the chain of these DiffIDs, base first (whether they exist or not). */
  datasetsFor(diffIds: readonly string[]): string[] {
    return chainIds(diffIds).map((id) => this.datasetFor(id));
  }

  /**
   * Builds (or reuses) the chain datasets for `layers`, base first. `claim`: user properties every dataset of the
   * chain carries before it is used: set on a reused dataset before its `@ready` is checked, given to `zfs
   * create`/`clone` for a new one, so no dataset of this chain is ever unclaimed while this build relies on it (a
   * concurrent release's sweep destroys only unclaimed datasets; see resources/oci-image/chain-claims.ts).
   */
  async ensureChain(layers: readonly ChainLayer[], claim: Record<string, string> = {}): Promise<ChainResult> {
    if (layers.length === 0) throw new InputError('layers', 'an image needs at least one layer', 'check the image manifest');
    const ids = chainIds(layers.map((l) => l.diffId));
    await this.zfs.createPath(this.parent);
    const datasets: string[] = [];
    let reused = 0;
    for (const [i, layer] of layers.entries()) {
      parseDigest(layer.digest, `layers[${i}].digest`);
      const ds = this.datasetFor(ids[i]!);
      datasets.push(ds);
      for (const [property, value] of Object.entries(claim)) {
        try {
          await this.zfs.set(ds, property, value);
        } catch (err) {
          // Not there (never built, or destroyed by a sweep a moment ago): built below with the claim from birth.
          if (!(err instanceof ZfsError && err.saysAbsent(ds))) throw err;
          break;
        }
      }
      if (await this.zfs.exists(`${ds}@${READY}`, 'snapshot')) {
        reused++;
        continue;
      }
      // A dataset without @ready is what a crash mid-unpack leaves: never trust it, rebuild it. (-f: it is ours
      // alone, a lingering mount must not keep it alive; already gone is fine.)
      await this.zfs.destroy(ds, { force: true });
      const props = { ...claim, 'pods:chainid': ids[i]!, 'pods:diffid': layer.diffId, 'pods:layer-digest': layer.digest };
      if (i === 0) await this.zfs.create(ds, props);
      else await this.zfs.clone(`${datasets[i - 1]}@${READY}`, ds, props);
      try {
        const mountpoint = (await this.zfs.get(ds, ['mountpoint']))?.get('mountpoint')?.value ?? '';
        if (!mountpoint.startsWith('/')) throw new ZfsError(this.zfs.node, `${ds} is not mounted (mountpoint ${mountpoint || 'unknown'}); chains need a mounted parent`);
        await layer.apply(mountpoint);
      } catch (err) {
        // The layer's own failure is what the user must see; a half-applied dataset left behind has no @ready, so
        // the next build destroys it anyway: say so, but do not let it hide the cause.
        await this.zfs.destroy(ds, { force: true }).catch((cleanup: unknown) => {
          warn(`layer chain ${ds} was left half-applied (no @${READY}; the next build replaces it): destroying it failed: ${messageOf(cleanup)}`);
        });
        throw err;
      }
      await this.zfs.snapshot(`${ds}@${READY}`);
    }
    return { snapshot: `${datasets[datasets.length - 1]}@${READY}`, datasets, reused };
  }

  /** Datasets cloned from `<dataset>@ready` (pods and child chains). */
  async clonesOf(dataset: string): Promise<string[]> {
    validateDataset(dataset);
    const snapshot = `${dataset}@${READY}`;
    if (!(await this.zfs.exists(snapshot, 'snapshot'))) return [];
    // `zfs get clones` is missing on zfs-fuse; every dataset's `origin` is portable.
    const rows = await this.zfs.listRecursive(dataset.split('/')[0]!, ['name', 'origin'], ['filesystem', 'volume']);
    return rows.filter(([, origin]) => origin === snapshot).map(([name]) => name!);
  }

  /** Destroys one chain dataset; refused while anything is cloned from it. Already gone = success. */
  async destroyChain(dataset: string): Promise<void> {
    validateDataset(dataset);
    if (!dataset.startsWith(`${this.parent}/`)) throw new InputError('dataset', `${dataset} is not a chain under ${this.parent}`, 'only chain datasets can be destroyed here');
    if (!(await this.zfs.exists(dataset, 'filesystem'))) return;
    const clones = await this.clonesOf(dataset);
    if (clones.length > 0) throw new ChainInUseError(this.zfs.node, dataset, clones);
    await this.zfs.destroy(dataset);
  }
}
