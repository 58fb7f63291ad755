// `npm run bench:image`: a ≥200 MiB multi-layer image on a local docker-registry, then in one run
//   (a) our pull + verify + unpack, (b) skopeo copy + umoci raw unpack of the same image (ratio b/a; medians of
//   BENCH_ROUNDS alternating rounds),
//   (c) a cached re-pull, (d) ZFS: layer chains and the pod clone time as the image grows (zfs-fuse file pool),
// plus the tar.zst template pack. Prints a table and writes bench/results/latest.json (BENCH_RESULTS: elsewhere).
// BENCH_SCALE (0, 1] shrinks the image; `npm test` runs it at a small scale as a smoke test (test/package), never
// writing the committed results.
import { promises as fs } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { buildImage, ContentStore, makeTar, pullImage, pushImage, RegistryClient } from '../provider/oci';
import { unpackImage } from '../provider/oci/unpack';
import { packTemplate } from '../provider/oci/convert/template';
import { startRegistry } from '../test/oci/helpers/registry';
import { layerEntries, scaledLayers } from './image-data';
import { freshExt4, type Scratch } from './fresh-fs';
import { buildChains, cloneTime, createBenchPool, usedBytes, type ChainLayer } from './zfs-chain';

const MiB = 1024 * 1024;
const hrms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: hrms(t0), value };
}

async function main(): Promise<number> {
  for (const tool of ['docker-registry', 'skopeo', 'umoci', 'zstd', 'tar']) {
    if ((await execa('which', [tool], { reject: false })).exitCode !== 0) throw new Error(`bench:image needs ${tool} (apt-get install -y ${tool})`);
  }
  const dir = await fs.mkdtemp(join(tmpdir(), 'pp-bench-image-'));
  const reg = await startRegistry();
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  const plans = scaledLayers(scale);
  const results: Record<string, unknown> = { date: new Date().toISOString(), cpus: cpus().length, node: process.version, scale };
  const rows: [string, string][] = [];
  const scratches: Scratch[] = [];
  try {
    // ---------------------------------------------------------------- the image
    process.stderr.write('building the image…\n');
    const built = await timed(async () => {
      const layers = [];
      for (const [i, plan] of plans.entries()) layers.push({ tar: await makeTar(layerEntries(plan, 1000 + i)), compression: 'gzip' as const });
      return buildImage({ layers, runtime: { Entrypoint: ['/app/run'], Env: ['PATH=/usr/bin:/bin'] } });
    });
    const image = built.value;
    const uncompressed = plans.reduce((n, p) => n + p.files * p.fileBytes, 0);
    const compressed = image.layers.reduce((n, l) => n + l.size, 0);
    const entries = plans.reduce((n, p) => n + p.files + p.dirs + 1, 0);
    const client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    try { await pushImage(client, 'bench/big', 'v1', image); } finally { await client.close(); }
    const ref = `${reg.host}/bench/big:v1`;
    results.image = { layers: image.layers.length, uncompressedBytes: uncompressed, compressedBytes: compressed, entries, buildMs: Math.round(built.ms) };
    rows.push(['image', `${image.layers.length} layers, ${(uncompressed / MiB).toFixed(0)} MiB in files (${(compressed / MiB).toFixed(0)} MiB gzip), ${entries} entries`]);

    // ---------------------------------------------------------------- (a) ours vs (b) skopeo + umoci
    // BENCH_ROUNDS rounds (default 3), alternating which side goes first, each into fresh directories (nothing is
    // deleted until the end: on ext4, inodes freed moments ago make the next file creations slower, which would
    // penalise whoever runs after a delete). `sync` before each side so neither pays for the other's writeback.
    // Figures are the medians over the rounds; each round is in results.rounds.
    const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
    // Each unpack target on its own fresh ext4 (see fresh-fs.ts) when this machine allows loop mounts.
    let freshFs = true;
    const targetDir = async (name: string) => {
      const scratch = freshFs ? await freshExt4(dir, name) : undefined;
      if (!scratch) { freshFs = false; return join(dir, name); }
      scratches.push(scratch);
      return join(scratch.path, 'rootfs');
    };
    const layerInputs = (pulled: Awaited<ReturnType<typeof pullImage>>, st: ContentStore) =>
      pulled.layers.map((l) => ({ path: st.blobPath(l.digest), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId, size: l.size }));
    const runOurs = async (r: number) => {
      const st = await ContentStore.open(join(dir, `store-${r}`));
      await execa('sync');
      const pull = await timed(() => pullImage(ref, { store: st, insecureRegistries: [reg.host], dockerConfig: false, refName: 'bench' }));
      const root = await targetDir(`ours-rootfs-${r}`);
      await execa('sync');
      const unpack = await timed(() => unpackImage({ target: root, idmap: null, layers: layerInputs(pull.value, st) }));
      return { store: st, pulled: pull.value, root, pullMs: pull.ms, unpackMs: unpack.ms, unpackedBytes: unpack.value.bytes };
    };
    const runTheirs = async (r: number) => {
      const layout = join(dir, `skopeo-layout-${r}`);
      await execa('sync');
      const copy = await timed(() => execa('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:v1`]));
      const root = await targetDir(`umoci-rootfs-${r}`);
      await execa('sync');
      const unpack = await timed(() => execa('umoci', ['raw', 'unpack', '--image', `${layout}:v1`, root]));
      return { layout, root, copyMs: copy.ms, unpackMs: unpack.ms };
    };
    const oursRuns: Awaited<ReturnType<typeof runOurs>>[] = [];
    const theirsRuns: Awaited<ReturnType<typeof runTheirs>>[] = [];
    const roundRows = [];
    for (let r = 0; r < rounds; r++) {
      const oursFirst = r % 2 === 0;
      process.stderr.write(`round ${r + 1}/${rounds}: ${oursFirst ? '(a) proxmox-pods pull + verify + unpack, then (b) skopeo copy + umoci raw unpack' : '(b) then (a)'}…\n`);
      if (oursFirst) { oursRuns.push(await runOurs(r)); theirsRuns.push(await runTheirs(r)); } else { theirsRuns.push(await runTheirs(r)); oursRuns.push(await runOurs(r)); }
      const o = oursRuns[r]!;
      const t = theirsRuns[r]!;
      roundRows.push({
        first: oursFirst ? 'ours' : 'skopeoUmoci',
        ours: { pullMs: Math.round(o.pullMs), unpackMs: Math.round(o.unpackMs), totalMs: Math.round(o.pullMs + o.unpackMs) },
        skopeoUmoci: { skopeoCopyMs: Math.round(t.copyMs), umociUnpackMs: Math.round(t.unpackMs), totalMs: Math.round(t.copyMs + t.unpackMs) },
        ratio: Number(((t.copyMs + t.unpackMs) / (o.pullMs + o.unpackMs)).toFixed(2)),
      });
    }
    const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
    const ourPull = { ms: median(oursRuns.map((o) => o.pullMs)), value: oursRuns[0]!.pulled };
    const ourUnpack = { ms: median(oursRuns.map((o) => o.unpackMs)), value: { bytes: oursRuns[0]!.unpackedBytes } };
    const oursMs = median(oursRuns.map((o) => o.pullMs + o.unpackMs));
    const skopeo = { ms: median(theirsRuns.map((t) => t.copyMs)) };
    const umoci = { ms: median(theirsRuns.map((t) => t.unpackMs)) };
    const theirsMs = median(theirsRuns.map((t) => t.copyMs + t.unpackMs));
    const store = oursRuns[0]!.store;
    const ourRoot = oursRuns[0]!.root;
    const umociRoot = theirsRuns[0]!.root;
    const roundRatio = median(roundRows.map((r) => r.ratio));
    results.method = {
      rounds, order: 'alternating, round 1 ours first', sync: 'before each side', figures: 'medians over rounds',
      unpackTarget: freshFs ? 'a fresh loop-mounted ext4 per side and round' : 'directories under the same /tmp filesystem (no loop mounts here)',
    };
    results.rounds = roundRows;

    // Same tree? A cheap check: same number of entries and the same bytes in regular files.
    const count = async (root: string) => Number((await execa('sh', ['-c', 'find . | wc -l'], { cwd: root })).stdout.trim());
    const duBytes = async (root: string) => Number((await execa('du', ['-sb', '--apparent-size', root])).stdout.split('\t')[0]);
    const same = (await count(ourRoot)) === (await count(umociRoot)) && (await duBytes(ourRoot)) === (await duBytes(umociRoot));

    // ---------------------------------------------------------------- (c) cached re-pull
    process.stderr.write('(c) cached re-pull…\n');
    const cached = await timed(() => pullImage(ref, { store, insecureRegistries: [reg.host], dockerConfig: false, refName: 'bench' }));

    // ---------------------------------------------------------------- template pack
    process.stderr.write('template pack (GNU tar + zstd)…\n');
    const pack = await timed(() => packTemplate({ rootfs: ourRoot, outDir: dir, name: 'template' }));

    results.ours = { pullMs: Math.round(ourPull.ms), unpackMs: Math.round(ourUnpack.ms), totalMs: Math.round(oursMs), unpackedBytes: ourUnpack.value.bytes };
    results.skopeoUmoci = { skopeoCopyMs: Math.round(skopeo.ms), umociUnpackMs: Math.round(umoci.ms), totalMs: Math.round(theirsMs), sameTree: same };
    results.ratio = Number((theirsMs / oursMs).toFixed(2));
    results.medianRoundRatio = roundRatio;
    results.cachedRepullMs = Math.round(cached.ms);
    results.template = { packMs: Math.round(pack.ms), bytes: pack.value.size };
    rows.push(['rounds', `${rounds} (alternating order; medians below); unpack onto ${freshFs ? 'a fresh ext4 per side and round' : 'the shared /tmp filesystem'}`]);
    rows.push(['(a) ours: pull + verify', `${(ourPull.ms / 1000).toFixed(2)} s`]);
    rows.push(['(a) ours: unpack', `${(ourUnpack.ms / 1000).toFixed(2)} s`]);
    rows.push(['(a) ours: total', `${(oursMs / 1000).toFixed(2)} s`]);
    rows.push(['(b) skopeo copy', `${(skopeo.ms / 1000).toFixed(2)} s`]);
    rows.push(['(b) umoci raw unpack', `${(umoci.ms / 1000).toFixed(2)} s`]);
    rows.push(['(b) total', `${(theirsMs / 1000).toFixed(2)} s (same tree: ${same ? 'yes' : 'NO'})`]);
    rows.push(['ratio (b)/(a)', `${(theirsMs / oursMs).toFixed(2)}× ${theirsMs > oursMs ? '(ours faster)' : '(ours slower)'}; per round ${roundRows.map((r) => `${r.ratio}×`).join(', ')} (median ${roundRatio}×)`]);
    rows.push(['(c) cached re-pull', `${cached.ms.toFixed(0)} ms`]);
    rows.push(['template pack', `${(pack.ms / 1000).toFixed(2)} s → ${(pack.value.size / MiB).toFixed(1)} MiB tar.zst`]);
    for (const t of theirsRuns) {
      await fs.rm(t.root, { recursive: true, force: true });
      await fs.rm(t.layout, { recursive: true, force: true });
    }

    // ---------------------------------------------------------------- (d) ZFS chains + clone
    process.stderr.write('(d) ZFS layer chains and pod clones (zfs-fuse)…\n');
    try {
      const pool = await createBenchPool(3);
      try {
        const layers: ChainLayer[] = ourPull.value.layers.map((l) => ({ path: store.blobPath(l.digest), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId, size: l.size }));
        const chains = await buildChains(pool.name, layers);
        const zfsRows = [];
        for (const [i, c] of chains.entries()) {
          const t = await cloneTime(pool.name, c.snapshot);
          const bytes = await usedBytes(c.snapshot);
          zfsRows.push({ layers: i + 1, chainBytes: bytes, chainBuildMs: Math.round(c.buildMs), podRootfsMedianMs: Number(t.swapMs.toFixed(1)), zfsCloneMedianMs: Number(t.cloneMs.toFixed(1)) });
          rows.push([`(d) pod rootfs from ${i + 1}-layer chain`, `${t.swapMs.toFixed(1)} ms swap, of which zfs clone ${t.cloneMs.toFixed(1)} ms (image ${(bytes / MiB).toFixed(0)} MiB; chain built in ${(c.buildMs / 1000).toFixed(1)} s)`]);
        }
        results.zfs = zfsRows;
      } finally {
        await pool.destroy();
      }
    } catch (err) {
      results.zfs = { error: (err as Error).message };
      rows.push(['(d) zfs', `not measured: ${(err as Error).message.split('\n')[0]}`]);
    }
  } finally {
    await reg.close();
    for (const s of scratches) await s.release();
    await fs.rm(dir, { recursive: true, force: true });
  }

  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\nproxmox-pods image benchmark (${cpus().length} CPUs, Node ${process.version})\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  const out = process.env.BENCH_RESULTS ?? join(resolve(__dirname, '..', '..', 'bench', 'results'), 'latest.json');
  await fs.mkdir(dirname(out), { recursive: true });
  await fs.writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${out}\n`);
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`bench:image: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
