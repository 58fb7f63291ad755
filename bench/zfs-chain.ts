// ZFS layer chains for the benchmark, built by the provider's own ZfsChains (one dataset per ChainID, each a clone of
// the chain below with the next layer applied, `@ready` on top), and the time a pod's rootfs takes to appear: the
// same swap a Pod create does (a clone of the top snapshot put in place of the disk PVE allocated). zfs-fuse with a
// file vdev this run creates and destroys; pools it did not create are never touched.
import { createReadStream } from 'node:fs';
import { execa } from 'execa';
import { LocalExecutor } from '../provider/host/executor';
import { replaceWithClone, Zfs, ZfsChains } from '../provider/host/zfs';
import { ApplyOptionsSchema, applyLayer, PVE_UNPRIVILEGED_IDMAP } from '../provider/oci/unpack';
import { withZfsPool } from '../test/oci/helpers-zfs';
import { UNPRIVILEGED_VARIANT } from '../provider/resources/common/node-zfs';

export interface ChainLayer { path: string; mediaType: string; digest: string; diffId: string; size: number }

export interface BenchPool { name: string; dir: string; destroy(): Promise<void> }

export async function createBenchPool(sizeGiB: number): Promise<BenchPool> {
  const pool = withZfsPool(sizeGiB * 1024);
  return { name: pool.name, dir: pool.dir, destroy: async () => pool.destroy() };
}

const hrms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

const zfs = new Zfs(new LocalExecutor('bench'));
const chainsIn = (pool: string) => new ZfsChains(zfs, `${pool}/chains`, UNPRIVILEGED_VARIANT);

/** Chains for layers[0..k] for every k, as OciImage builds them (uid-shifted); each build only adds the new top. */
export async function buildChains(pool: string, layers: ChainLayer[]): Promise<{ snapshot: string; buildMs: number }[]> {
  const chains = chainsIn(pool);
  const opts = ApplyOptionsSchema.parse({ idmap: PVE_UNPRIVILEGED_IDMAP });
  const out: { snapshot: string; buildMs: number }[] = [];
  for (let k = 1; k <= layers.length; k++) {
    const t0 = process.hrtime.bigint();
    const result = await chains.ensureChain(layers.slice(0, k).map((l) => ({
      digest: l.digest,
      diffId: l.diffId,
      apply: async (mountpoint: string) => {
        await applyLayer(mountpoint, { stream: createReadStream(l.path), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId, compressedSize: l.size }, opts);
      },
    })));
    if (result.reused !== k - 1) throw new Error(`chain ${k}: expected ${k - 1} reused layers, got ${result.reused}`);
    out.push({ snapshot: result.snapshot, buildMs: hrms(t0) });
  }
  return out;
}

/**
 * Medians for a pod's rootfs from `snapshot`: `swapMs` is `replaceWithClone` onto a fresh 4 GiB disk, exactly what
 * a Pod create runs after PVE allocated the disk (clone, unmount + rename twice, mount, destroy the old disk);
 * `cloneMs` is the bare `zfs clone` inside it (both through the Zfs layer, so both hold the zfs host lock). The
 * disk's creation and the pod's destroy are not timed.
 */
export async function cloneTime(pool: string, snapshot: string, runs = 5): Promise<{ cloneMs: number; swapMs: number }> {
  await zfs.createPath(`${pool}/data`);
  const swaps: number[] = [];
  const clones: number[] = [];
  for (let r = 0; r < runs; r++) {
    const disk = `${pool}/data/subvol-${900 + r}-disk-0`;
    await zfs.create(disk, { refquota: String(4 * 1024 ** 3) });
    let t0 = process.hrtime.bigint();
    await replaceWithClone(zfs, snapshot, disk);
    swaps.push(hrms(t0));
    await zfs.destroy(disk, { force: true });
    t0 = process.hrtime.bigint();
    await zfs.clone(snapshot, disk, { refquota: String(4 * 1024 ** 3) });
    clones.push(hrms(t0));
    await zfs.destroy(disk, { force: true });
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { cloneMs: median(clones), swapMs: median(swaps) };
}

export async function usedBytes(dataset: string): Promise<number> {
  return Number((await execa('zfs', ['get', '-Hp', '-o', 'value', 'referenced', dataset])).stdout.trim());
}
