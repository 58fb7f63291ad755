// oci.md §7a case 40 on a real zfs-fuse pool: chains reused across images sharing a base, pod clone with
// refquota, destroy refused while a pod exists, a crash mid-unpack leaves no @ready and is rebuilt.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainIds, ChainInUseError, localRun, validateDataset, ZfsChains, type ChainLayer } from '../../../provider/oci/convert/zfs';
import { applyLayer, ApplyOptionsSchema, MalformedLayerError } from '../../../provider/oci/unpack';
import { withZfsPool, type ZfsPool } from '../helpers-zfs';
import { layerOf, packTar, rawTar, sha256, type EntrySpec } from '../unpack/layers';
import { toolsPresent } from '../unpack/support';

const ok = toolsPresent('oci zfs chains', ['zfs-fuse', 'zfs', 'zpool']) && existsSync('/dev/fuse');
if (!ok && (process.env.CI === 'true' || process.env.CI === '1')) throw new Error('oci zfs chains: /dev/fuse is missing');
const d = ok ? describe : describe.skip;

const zfs = (...args: string[]) => execFileSync('zfs', args).toString().trim();
const opts = ApplyOptionsSchema.parse({});

async function layer(entries: EntrySpec[]): Promise<ChainLayer & { tar: Buffer }> {
  const tar = await packTar(entries);
  return { tar, digest: sha256(tar), diffId: sha256(tar), apply: async (mp) => { await applyLayer(mp, layerOf(tar), opts); } };
}

d('ZFS layer chains (zfs-fuse)', () => {
  let pool: ZfsPool;
  beforeAll(() => { pool = withZfsPool(); });
  afterAll(() => pool?.destroy());

  test('chains reused across images, pod clone with refquota, destroy refused while used', async () => {
    const chains = new ZfsChains(`${pool.name}/pods/chains`);
    const base = await layer([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', data: 'base' }]);
    const a2 = await layer([{ name: 'app-a', data: 'A' }]);
    const b2 = await layer([{ name: 'app-b', data: 'B' }, { name: 'etc/.wh.os-release' }]);
    const imageA = await chains.ensureChain([base, a2]);
    expect(imageA.reused).toBe(0);
    const imageB = await chains.ensureChain([base, b2]);
    expect(imageB.reused).toBe(1);
    expect(imageB.datasets[0]).toBe(imageA.datasets[0]);
    const ids = chainIds([base.diffId, b2.diffId]);
    expect(imageB.datasets[1]).toBe(`${pool.name}/pods/chains/${ids[1]!.slice(7)}`);
    expect(zfs('get', '-H', '-o', 'value', 'pods:chainid', imageB.datasets[1]!)).toBe(ids[1]);
    expect(zfs('get', '-H', '-o', 'value', 'pods:diffid', imageB.datasets[1]!)).toBe(b2.diffId);
    expect(zfs('get', '-H', '-o', 'value', 'pods:layer-digest', imageB.datasets[1]!)).toBe(b2.digest);
    // base chain is the origin of both images' second chains
    expect((await chains.clonesOf(imageA.datasets[0]!)).sort()).toEqual([imageA.datasets[1], imageB.datasets[1]].sort());

    const mpB = zfs('get', '-H', '-o', 'value', 'mountpoint', imageB.datasets[1]!);
    expect(existsSync(join(mpB, 'etc/os-release'))).toBe(false); // whiteout applied in the clone...
    const mpBase = zfs('get', '-H', '-o', 'value', 'mountpoint', imageA.datasets[0]!);
    expect(readFileSync(join(mpBase, 'etc/os-release'), 'utf8')).toBe('base'); // ...not in the base

    expect((await chains.detectFeatures()).acltype).toBe(false); // zfs-fuse has no acltype: detected, not fatal
    const pod = await chains.clonePodRootfs(imageA.snapshot, `${pool.name}/subvol-100-disk-0`, 1);
    expect(zfs('get', '-H', '-p', '-o', 'value', 'refquota', pod)).toBe(String(1024 ** 3));
    const podMp = zfs('get', '-H', '-o', 'value', 'mountpoint', pod);
    expect(readFileSync(join(podMp, 'app-a'), 'utf8')).toBe('A');
    writeFileSync(join(podMp, 'pod-only'), 'x');
    expect(existsSync(join(zfs('get', '-H', '-o', 'value', 'mountpoint', imageA.datasets[1]!), 'pod-only'))).toBe(false);

    await expect(chains.destroyChain(imageA.datasets[1]!)).rejects.toThrow(ChainInUseError);
    await expect(chains.destroyChain(imageA.datasets[0]!)).rejects.toThrow(/still used by/);
    await chains.destroyDataset(pod);
    await chains.destroyChain(imageA.datasets[1]!);
    expect(execFileSync('zfs', ['list', '-H', '-o', 'name', '-r', `${pool.name}/pods/chains`]).toString()).not.toContain(imageA.datasets[1]);
    await chains.destroyChain(imageA.datasets[1]!); // already gone = success
  });

  test('a crash mid-unpack leaves no @ready; the partial dataset is destroyed and rebuilt', async () => {
    const chains = new ZfsChains(`${pool.name}/crash`, undefined, 'u100000');
    const good = await layer([{ name: 'ok', data: 'ok' }]);
    const truncated = rawTar([{ name: 'big', data: Buffer.alloc(4096, 1) }], false).subarray(0, 1024);
    const bad: ChainLayer = { digest: sha256(truncated), diffId: sha256(truncated), apply: async (mp) => { await applyLayer(mp, layerOf(truncated), opts); } };
    await expect(chains.ensureChain([good, bad])).rejects.toThrow(MalformedLayerError);
    const ids = chainIds([good.diffId, bad.diffId]);
    const badDs = chains.datasetFor(ids[1]!);
    expect(badDs.endsWith('-u100000')).toBe(true);
    const listing = execFileSync('zfs', ['list', '-H', '-o', 'name', '-t', 'all', '-r', `${pool.name}/crash`]).toString();
    expect(listing).not.toContain(badDs);
    expect(listing).toContain(`${chains.datasetFor(ids[0]!)}@ready`);

    // A process that died after `zfs clone` but before `@ready`: the dataset exists, half-filled.
    const next = await layer([{ name: 'next', data: 'n' }]);
    const nextDs = chains.datasetFor(chainIds([good.diffId, next.diffId])[1]!);
    zfs('clone', `${chains.datasetFor(ids[0]!)}@ready`, nextDs);
    writeFileSync(join(zfs('get', '-H', '-o', 'value', 'mountpoint', nextDs), 'half-written'), 'junk');
    const rebuilt = await chains.ensureChain([good, next]);
    expect(rebuilt.reused).toBe(1);
    const mp = zfs('get', '-H', '-o', 'value', 'mountpoint', nextDs);
    expect(existsSync(join(mp, 'half-written'))).toBe(false);
    expect(readFileSync(join(mp, 'next'), 'utf8')).toBe('n');
    expect(zfs('get', '-H', '-o', 'value', 'pods:diffid', nextDs)).toBe(next.diffId);
  });

  test('replaceWithClone puts a clone in place of a disk and undoes each step when the next one fails', async () => {
    const chains = new ZfsChains(`${pool.name}/swap/chains`);
    const img = await chains.ensureChain([await layer([{ name: 'from-image', data: 'img' }])]);
    zfs('create', '-p', `${pool.name}/swap/data`);
    const disk = (n: number) => {
      const ds = `${pool.name}/swap/data/subvol-${n}-disk-0`;
      zfs('create', '-o', `refquota=${512 * 1024 ** 2}`, '-o', 'xattr=off', ds);
      writeFileSync(join(zfs('get', '-H', '-o', 'value', 'mountpoint', ds), 'scaffold'), 's');
      return ds;
    };
    const list = () => zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/swap/data`).split('\n');
    const mp = (ds: string) => zfs('get', '-H', '-o', 'value', 'mountpoint', ds);

    const ok = disk(200);
    await chains.replaceWithClone(img.snapshot, ok);
    expect(zfs('get', '-H', '-o', 'value', 'origin', ok)).toBe(img.snapshot);
    expect(zfs('get', '-Hp', '-o', 'value', 'refquota', ok)).toBe(String(512 * 1024 ** 2)); // PVE's size kept
    expect(zfs('get', '-H', '-o', 'value,source', 'xattr', ok)).toBe('off\tlocal'); // and what else it set locally
    expect(readFileSync(join(mp(ok), 'from-image'), 'utf8')).toBe('img');
    expect(existsSync(join(mp(ok), 'scaffold'))).toBe(false);
    expect(list().filter((n) => /-pods-/.test(n))).toEqual([]);

    // Fail each mutating step in turn: the disk is back as it was (same content, no origin), no leftovers.
    for (const [i, failing] of [['clone'], ['rename', 'first'], ['rename', 'second']].entries()) {
      const ds = disk(201 + i);
      let renames = 0;
      const flaky = new ZfsChains(`${pool.name}/swap/chains`, async (cmd, args) => {
        if (args[0] === 'rename' && ++renames === (failing[1] === 'first' ? 1 : 2)) throw Object.assign(new Error('injected'), { stderr: 'injected failure' });
        if (failing[0] === 'clone' && args[0] === 'clone') throw Object.assign(new Error('injected'), { stderr: 'injected failure' });
        return localRun(cmd, args);
      });
      await expect(flaky.replaceWithClone(img.snapshot, ds)).rejects.toThrow(/injected failure/);
      expect(zfs('get', '-H', '-o', 'value', 'origin', ds)).toBe('-');
      expect(readFileSync(join(mp(ds), 'scaffold'), 'utf8')).toBe('s');
      expect(list().filter((n) => /-pods-/.test(n))).toEqual([]);
    }

    // A clone across pools is refused before any command.
    await expect(chains.replaceWithClone(img.snapshot, 'otherpool/subvol-300-disk-0')).rejects.toThrow(/^rootfs\.storage: .*clones only within a pool/);
    await expect(chains.replaceWithClone(`${pool.name}/swap/chains/nope@ready`, ok)).rejects.toThrow(/does not exist on this node/);
  });

  test('names are validated before any command', async () => {
    let calls = 0;
    const counting = async () => { calls++; return { stdout: '' }; };
    expect(() => new ZfsChains('pool/../x', counting)).toThrow(/not a valid ZFS dataset name/);
    expect(() => validateDataset('-o/x')).toThrow();
    expect(() => validateDataset('pool/a b')).toThrow();
    const chains = new ZfsChains(`${pool.name}/v`, counting);
    await expect(chains.clonePodRootfs('pool/x@ready; rm -rf /', `${pool.name}/p`, 1)).rejects.toThrow(/not a valid ZFS snapshot name/);
    await expect(chains.clonePodRootfs(`${pool.name}/x@ready`, `${pool.name}/p`, 1.5)).rejects.toThrow(/positive whole number/);
    expect(() => chainIds(['sha256:ABC'])).toThrow();
    expect(calls).toBe(0);
  });
});

test('chainIds follow the image-spec formula', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  const ids = chainIds([a, b]);
  expect(ids[0]).toBe(a);
  expect(ids[1]).toBe(sha256(Buffer.from(`${a} ${b}`)));
});
