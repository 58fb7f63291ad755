// ZFS layer chains for the benchmark: one dataset per chain (clone of the parent chain's @ready snapshot with the next
// layer applied), and the time a pod rootfs clone of the top snapshot takes. zfs-fuse with a file vdev this run
// creates and destroys; pools it did not create are never touched.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ApplyOptionsSchema, applyLayer } from '../provider/oci/unpack';

export interface ChainLayer { path: string; mediaType: string; digest: string; diffId: string; size: number }

export interface BenchPool { name: string; dir: string; destroy(): Promise<void> }

const zfs = (...args: string[]) => execa('zfs', args);

async function zpoolUp(): Promise<boolean> {
  return (await execa('zpool', ['list'], { reject: false })).exitCode === 0;
}

export async function createBenchPool(sizeGiB: number): Promise<BenchPool> {
  if (!(await zpoolUp())) {
    await execa('zfs-fuse', [], { reject: false });
    for (let i = 0; i < 50 && !(await zpoolUp()); i++) await new Promise((r) => setTimeout(r, 200));
    if (!(await zpoolUp())) throw new Error('zfs-fuse did not start (is /dev/fuse available?)');
  }
  const dir = await mkdtemp(join(tmpdir(), 'pp-bench-zfs-'));
  const name = `ppbench${process.pid}`;
  const vdev = join(dir, 'pool.img');
  await execa('truncate', ['-s', `${sizeGiB}G`, vdev]);
  await execa('zpool', ['create', '-m', join(dir, 'mnt'), name, vdev]);
  return {
    name, dir,
    async destroy() {
      await execa('zpool', ['destroy', '-f', name], { reject: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const hrms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function mountpoint(dataset: string): Promise<string> {
  return (await zfs('get', '-H', '-o', 'value', 'mountpoint', dataset)).stdout.trim();
}

/** Builds chains c1..cN (chain k = layers 0..k-1) under `<pool>/chains`; returns each chain's @ready snapshot. */
export async function buildChains(pool: string, layers: ChainLayer[]): Promise<{ snapshot: string; buildMs: number }[]> {
  await zfs('create', `${pool}/chains`);
  const out: { snapshot: string; buildMs: number }[] = [];
  const opts = ApplyOptionsSchema.parse({});
  let parent: string | undefined;
  for (const [i, layer] of layers.entries()) {
    const ds = `${pool}/chains/c${i + 1}`;
    const t0 = process.hrtime.bigint();
    if (parent) await zfs('clone', parent, ds);
    else await zfs('create', ds);
    await applyLayer(await mountpoint(ds), { stream: createReadStream(layer.path), mediaType: layer.mediaType, digest: layer.digest, diffId: layer.diffId, compressedSize: layer.size }, opts);
    await zfs('snapshot', `${ds}@ready`);
    parent = `${ds}@ready`;
    out.push({ snapshot: parent, buildMs: hrms(t0) });
  }
  return out;
}

/** zfs-fuse reports a freshly mounted dataset busy for a moment: retry briefly, then force the unmount. */
async function destroyWhenIdle(dataset: string): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const r = await execa('zfs', ['destroy', ...(i >= 20 ? ['-f'] : []), dataset], { reject: false });
    if (r.exitCode === 0) return;
    if (!/busy/.test(r.stderr)) throw new Error(`zfs destroy ${dataset}: ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`zfs destroy ${dataset}: still busy`);
}

/** Median time of `zfs clone -o refquota=… <snapshot> <pod>` (and the pod's destroy, not timed). */
export async function cloneTime(pool: string, snapshot: string, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const pod = `${pool}/subvol-${900 + r}-disk-0`;
    const t0 = process.hrtime.bigint();
    await zfs('clone', '-o', 'refquota=4G', snapshot, pod);
    times.push(hrms(t0));
    await destroyWhenIdle(pod);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function usedBytes(dataset: string): Promise<number> {
  return Number((await zfs('get', '-Hp', '-o', 'value', 'referenced', dataset)).stdout.trim());
}
