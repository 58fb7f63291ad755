// The ZFS layer on a real zfs-fuse pool (oci.md §7a case 40): layer chains reused across images sharing a base, a
// pod's rootfs swapped in as a clone of the top snapshot (the live path a Pod create runs), destroy refused while a
// clone exists, a crash mid-unpack leaves no @ready and is rebuilt; every failed undo is reported, not swallowed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalExecutor } from '../../../provider/host/executor';
import { chainIds, ChainInUseError, replaceWithClone, swapNames, Zfs, ZfsChains, zfsChanges, ZfsError, type ChainLayer } from '../../../provider/host/zfs';
import { applyLayer, ApplyOptionsSchema, MalformedLayerError } from '../../../provider/oci/unpack';
import { withOperation } from '../../../provider/diagnostics';
import { withZfsPool, type ZfsPool, zfsChangeSync } from '../../oci/helpers-zfs';
import { layerOf, packTar, rawTar, sha256, type EntrySpec } from '../../oci/unpack/layers';
import { toolsPresent } from '../../oci/unpack/support';
import { ScriptedExecutor } from './scripted-executor';

const ok = toolsPresent('zfs layer', ['zfs-fuse', 'zfs', 'zpool']) && existsSync('/dev/fuse');
if (!ok && (process.env.CI === 'true' || process.env.CI === '1')) throw new Error('zfs layer: /dev/fuse is missing');
const d = ok ? describe : describe.skip;

/** Reads run as they are; changes hold the zfs host lock, as the provider's own do. */
const zfs = (...args: string[]) => (zfsChanges(args) ? zfsChangeSync('zfs', args) : execFileSync('zfs', args).toString().trim());
const opts = ApplyOptionsSchema.parse({});
const local = new Zfs(new LocalExecutor('pve'));

async function layer(entries: EntrySpec[]): Promise<ChainLayer & { tar: Buffer }> {
  const tar = await packTar(entries);
  return { tar, digest: sha256(tar), diffId: sha256(tar), apply: async (mp) => { await applyLayer(mp, layerOf(tar), opts); } };
}

d('ZFS layer chains and the rootfs swap (zfs-fuse)', () => {
  let pool: ZfsPool;
  beforeAll(() => { pool = withZfsPool(); });
  afterAll(() => pool?.destroy());

  /** A disk as PVE's ZFSPoolPlugin allocates it (refquota; xattr set locally, acltype where zfs has it) with a file in it. */
  const disk = (ds: string) => {
    zfs('create', '-p', ds.slice(0, ds.lastIndexOf('/')));
    zfs('create', '-o', `refquota=${512 * 1024 ** 2}`, '-o', 'xattr=off', ds);
    writeFileSync(join(zfs('get', '-H', '-o', 'value', 'mountpoint', ds), 'scaffold'), 's');
    return ds;
  };
  const mp = (ds: string) => zfs('get', '-H', '-o', 'value', 'mountpoint', ds);

  test('chains reused across images, a pod rootfs swapped in, destroy refused while used', async () => {
    const chains = new ZfsChains(local, `${pool.name}/pods/chains`);
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

    expect(existsSync(join(mp(imageB.datasets[1]!), 'etc/os-release'))).toBe(false); // whiteout applied in the clone...
    expect(readFileSync(join(mp(imageA.datasets[0]!), 'etc/os-release'), 'utf8')).toBe('base'); // ...not in the base

    const pod = disk(`${pool.name}/data/subvol-100-disk-0`);
    await replaceWithClone(local, imageA.snapshot, pod);
    expect(zfs('get', '-H', '-p', '-o', 'value', 'refquota', pod)).toBe(String(512 * 1024 ** 2));
    expect(readFileSync(join(mp(pod), 'app-a'), 'utf8')).toBe('A');
    writeFileSync(join(mp(pod), 'pod-only'), 'x');
    expect(existsSync(join(mp(imageA.datasets[1]!), 'pod-only'))).toBe(false);

    await expect(chains.destroyChain(imageA.datasets[1]!)).rejects.toThrow(ChainInUseError);
    await expect(chains.destroyChain(imageA.datasets[0]!)).rejects.toThrow(/still used by/);
    expect(await local.destroy(pod)).toBe(true);
    expect(await local.destroy(pod)).toBe(false); // already gone
    await chains.destroyChain(imageA.datasets[1]!);
    expect(zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/pods/chains`)).not.toContain(imageA.datasets[1]);
    await chains.destroyChain(imageA.datasets[1]!); // already gone = success
  });

  test('a crash mid-unpack leaves no @ready; the partial dataset is destroyed and rebuilt', async () => {
    const chains = new ZfsChains(local, `${pool.name}/crash`, 'u100000');
    const good = await layer([{ name: 'ok', data: 'ok' }]);
    const truncated = rawTar([{ name: 'big', data: Buffer.alloc(4096, 1) }], false).subarray(0, 1024);
    const bad: ChainLayer = { digest: sha256(truncated), diffId: sha256(truncated), apply: async (m) => { await applyLayer(m, layerOf(truncated), opts); } };
    await expect(chains.ensureChain([good, bad])).rejects.toThrow(MalformedLayerError);
    const ids = chainIds([good.diffId, bad.diffId]);
    const badDs = chains.datasetFor(ids[1]!);
    expect(badDs.endsWith('-u100000')).toBe(true);
    const listing = zfs('list', '-H', '-o', 'name', '-t', 'all', '-r', `${pool.name}/crash`);
    expect(listing).not.toContain(badDs);
    expect(listing).toContain(`${chains.datasetFor(ids[0]!)}@ready`);

    // A process that died after `zfs clone` but before `@ready`: the dataset exists, half-filled.
    const next = await layer([{ name: 'next', data: 'n' }]);
    const nextDs = chains.datasetFor(chainIds([good.diffId, next.diffId])[1]!);
    zfs('clone', `${chains.datasetFor(ids[0]!)}@ready`, nextDs);
    writeFileSync(join(mp(nextDs), 'half-written'), 'junk');
    const rebuilt = await chains.ensureChain([good, next]);
    expect(rebuilt.reused).toBe(1);
    expect(existsSync(join(mp(nextDs), 'half-written'))).toBe(false);
    expect(readFileSync(join(mp(nextDs), 'next'), 'utf8')).toBe('n');
    expect(zfs('get', '-H', '-o', 'value', 'pods:diffid', nextDs)).toBe(next.diffId);
  });

  test('a layer that fails and a cleanup that fails too: the layer\'s error is thrown, the leftover is a warning', async () => {
    const exec = new ScriptedExecutor();
    exec.inject = (args) => (args[0] === 'destroy' && args.includes('-f') && exec.calls.some((c) => c[1] === 'create' && !c.includes('-p')) ? 'cannot destroy: injected failure' : undefined);
    const chains = new ZfsChains(new Zfs(exec), `${pool.name}/cleanup`);
    const failing: ChainLayer = { ...(await layer([{ name: 'x', data: 'x' }])), apply: async () => { throw new Error('layer verification failed'); } };
    const { result, warnings } = await withOperation('OciImage test', () => chains.ensureChain([failing]).then(() => 'built', (e: Error) => e.message));
    expect(result).toBe('layer verification failed');
    expect(warnings).toEqual([expect.stringMatching(/layer chain .* was left half-applied .*injected failure/)]);
    // What was left has no @ready: the next build (with a working destroy) replaces it.
    await expect(new ZfsChains(local, `${pool.name}/cleanup`).ensureChain([await layer([{ name: 'x', data: 'x' }])])).resolves.toMatchObject({ reused: 0 });
  });

  test('replaceWithClone keeps what PVE set, and undoes each step when the next one fails', async () => {
    const chains = new ZfsChains(local, `${pool.name}/swap/chains`);
    const img = await chains.ensureChain([await layer([{ name: 'from-image', data: 'img' }])]);
    const list = () => zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/swap/data`).split('\n');

    const done = disk(`${pool.name}/swap/data/subvol-200-disk-0`);
    await replaceWithClone(local, img.snapshot, done);
    expect(zfs('get', '-H', '-o', 'value', 'origin', done)).toBe(img.snapshot);
    expect(zfs('get', '-Hp', '-o', 'value', 'refquota', done)).toBe(String(512 * 1024 ** 2)); // PVE's size kept
    expect(zfs('get', '-H', '-o', 'value,source', 'xattr', done)).toBe('off\tlocal'); // and what else it set locally
    expect(readFileSync(join(mp(done), 'from-image'), 'utf8')).toBe('img');
    expect(existsSync(join(mp(done), 'scaffold'))).toBe(false);
    expect(list().filter((n) => /-pods-/.test(n))).toEqual([]);

    // Fail each mutating step in turn: the disk is back as it was (same content, no origin), no leftovers.
    for (const [i, failing] of [['clone'], ['rename', 'first'], ['rename', 'second']].entries()) {
      const ds = disk(`${pool.name}/swap/data/subvol-${201 + i}-disk-0`);
      // Chosen by what is renamed, not by count: a rename zfs-fuse refuses as busy is repeated (command.ts).
      const { incoming, outgoing } = swapNames(ds);
      const flaky = new Zfs(new ScriptedExecutor((args) => {
        if (args[0] === 'rename' && (failing[1] === 'first' ? args.at(-1) === outgoing : args.at(-2) === incoming)) return 'injected failure';
        if (failing[0] === 'clone' && args[0] === 'clone') return 'injected failure';
        return undefined;
      }));
      await expect(replaceWithClone(flaky, img.snapshot, ds)).rejects.toThrow(/injected failure/);
      expect(zfs('get', '-H', '-o', 'value', 'origin', ds)).toBe('-');
      expect(readFileSync(join(mp(ds), 'scaffold'), 'utf8')).toBe('s');
      expect(list().filter((n) => /-pods-/.test(n))).toEqual([]);
    }

    // A clone across pools is refused before any command; a missing snapshot says where to build it.
    await expect(replaceWithClone(local, img.snapshot, 'otherpool/subvol-300-disk-0')).rejects.toThrow(/^rootfs\.storage: .*clones only within a pool/);
    await expect(replaceWithClone(local, `${pool.name}/swap/chains/nope@ready`, done)).rejects.toThrow(/does not exist on this node/);
  });

  test('an undo that fails is part of the error, with what is left where', async () => {
    const chains = new ZfsChains(local, `${pool.name}/undo/chains`);
    const img = await chains.ensureChain([await layer([{ name: 'f', data: 'f' }])]);
    const ds = disk(`${pool.name}/undo/data/subvol-210-disk-0`);
    const { incoming, outgoing } = swapNames(ds);
    // The second rename (clone → disk name) fails, and so does renaming the disk back: every rename onto the disk's
    // name (chosen by name, not by count: a rename zfs-fuse refuses as busy is repeated, command.ts).
    const flaky = new Zfs(new ScriptedExecutor((args) => (args[0] === 'rename' && args.at(-1) === ds ? 'cannot rename: injected failure' : undefined)));
    const err = await replaceWithClone(flaky, img.snapshot, ds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZfsError);
    expect((err as Error).message).toMatch(/injected failure; undoing it failed too, fix by hand: rename .*-pods-out back to .*subvol-210-disk-0: .*injected failure/);
    expect((err as Error).cause).toBeInstanceOf(ZfsError);
    // The disk is under its away name, the clone is gone. The next attempt puts the disk back and swaps.
    expect(zfs('list', '-H', '-o', 'name', outgoing)).toBe(outgoing);
    expect(zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/undo/data`)).not.toContain(incoming);
    await replaceWithClone(local, img.snapshot, ds);
    expect(zfs('get', '-H', '-o', 'value', 'origin', ds)).toBe(img.snapshot);
    expect(zfs('get', '-Hp', '-o', 'value', 'refquota', ds)).toBe(String(512 * 1024 ** 2));
    expect(zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/undo/data`)).not.toMatch(/-pods-/);
  });

  test('a failed `zfs get` of what PVE set fails the swap instead of cloning without the quota', async () => {
    const chains = new ZfsChains(local, `${pool.name}/get/chains`);
    const img = await chains.ensureChain([await layer([{ name: 'f', data: 'f' }])]);
    const ds = disk(`${pool.name}/get/data/subvol-220-disk-0`);
    const exec = new ScriptedExecutor((args) => (args[0] === 'get' && args.includes('refquota') ? 'internal error: injected failure' : undefined));
    await expect(replaceWithClone(new Zfs(exec), img.snapshot, ds)).rejects.toThrow(/zfs get .*refquota.*injected failure/);
    expect(exec.calls.some((c) => c[1] === 'clone')).toBe(false);
    expect(zfs('get', '-H', '-o', 'value', 'origin', ds)).toBe('-');
  });
});

d('the ZFS command layer (zfs-fuse)', () => {
  let pool: ZfsPool;
  beforeAll(() => { pool = withZfsPool(); });
  afterAll(() => pool?.destroy());

  test('absence is a value; any other failure is an error', async () => {
    zfs('create', `${pool.name}/here`);
    zfs('snapshot', `${pool.name}/here@s`);
    expect(await local.exists(`${pool.name}/here`, 'filesystem')).toBe(true);
    expect(await local.exists(`${pool.name}/nope`, 'filesystem')).toBe(false);
    expect(await local.exists(`${pool.name}/here@s`, 'snapshot')).toBe(true);
    expect(await local.exists(`${pool.name}/here@nope`, 'snapshot')).toBe(false);
    expect(await local.get(`${pool.name}/nope`, ['refquota'])).toBeUndefined();
    expect((await local.get(`${pool.name}/here`, ['refquota', 'pods:none']))?.get('pods:none')).toEqual({ value: '-', source: '-' });
    // zfs answers, but not "does not exist": an error, never "absent".
    await expect(local.exists(`${pool.name}/here`, 'volume')).rejects.toThrow(/operation not applicable/);
    const broken = new Zfs(new ScriptedExecutor(() => 'internal error: failed to initialize ZFS library'));
    await expect(broken.exists(`${pool.name}/nope`, 'filesystem')).rejects.toThrow(ZfsError);
    await expect(broken.get(`${pool.name}/nope`, ['refquota'])).rejects.toThrow(/failed to initialize/);
    await expect(broken.destroy(`${pool.name}/nope`)).rejects.toThrow(/failed to initialize/);
    // "does not exist" about another name (here: the clone's origin) is not the target's absence.
    const err = await local.clone(`${pool.name}/nope@s`, `${pool.name}/c`).catch((e: ZfsError) => e);
    expect(err).toBeInstanceOf(ZfsError);
    expect((err as ZfsError).saysAbsent(`${pool.name}/c`)).toBe(false);
    expect((err as ZfsError).saysAbsent(`${pool.name}/nope@s`)).toBe(true);
  });

  test('properties this zfs lacks are left out; the rest are read', async () => {
    zfs('create', '-o', 'refquota=1G', `${pool.name}/props`);
    const props = await local.knownProperties(`${pool.name}/props`, ['refquota', 'acltype', 'xattr']);
    expect(props.get('refquota')).toEqual({ value: String(1024 ** 3), source: 'local' });
    expect(props.has('acltype')).toBe(false); // zfs-fuse (pool v23) has no acltype
    expect(props.get('xattr')?.source).toBe('default');
    await expect(local.knownProperties(`${pool.name}/gone`, ['refquota'])).rejects.toThrow(/does not exist/);
  });

  test('busy is retried within the policy, then reported', async () => {
    zfs('create', `${pool.name}/busy`);
    let refusals = 0;
    const settling = new Zfs(new ScriptedExecutor((args) => (args[0] === 'destroy' && refusals++ < 3 ? "cannot destroy 'x': dataset is busy" : undefined)));
    expect(await settling.destroy(`${pool.name}/busy`)).toBe(true);
    expect(refusals).toBeGreaterThanOrEqual(4); // 3 injected; zfs-fuse itself may answer busy right after a create
    const stuck = new Zfs(new ScriptedExecutor(() => "cannot destroy 'x': dataset is busy"), { busyRetry: { budgetMs: 200, firstDelayMs: 10, maxDelayMs: 50 } });
    const started = Date.now();
    await expect(stuck.destroy(`${pool.name}/busy2`)).rejects.toThrow(/dataset is busy/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    // Not retried: a create refused as busy is not known to be safe to repeat.
    let creates = 0;
    const once = new Zfs(new ScriptedExecutor((args) => (args[0] === 'create' && ++creates ? 'dataset is busy' : undefined)));
    await expect(once.create(`${pool.name}/c1`)).rejects.toThrow(/busy/);
    expect(creates).toBe(1);
  });

  test('createPath takes a concurrent winner as success', async () => {
    await Promise.all([1, 2, 3, 4].map((n) => local.createPath(`${pool.name}/shared/parent/v${n}`)));
    expect(zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/shared/parent`).split('\n')).toHaveLength(5);
  });
});

test('names are validated before any command', async () => {
  const exec = new ScriptedExecutor(() => 'must not run');
  const z = new Zfs(exec);
  expect(() => new ZfsChains(z, 'pool/../x')).toThrow(/not a valid ZFS dataset name/);
  await expect(z.destroy('-o/x')).rejects.toThrow(/not a valid ZFS dataset name/);
  await expect(z.create('pool/a b')).rejects.toThrow(/not a valid ZFS dataset name/);
  await expect(replaceWithClone(z, 'pool/x@ready; rm -rf /', 'pool/p')).rejects.toThrow(/not a valid ZFS snapshot name/);
  await expect(z.set('pool/x', 'refquota', '1G\n-o')).rejects.toThrow(/control character/);
  await expect(z.set('pool/x', '-o', 'x')).rejects.toThrow(/not a ZFS property name/);
  expect(() => chainIds(['sha256:ABC'])).toThrow();
  expect(exec.calls).toEqual([]);
});

test('chainIds follow the image-spec formula', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  const ids = chainIds([a, b]);
  expect(ids[0]).toBe(a);
  expect(ids[1]).toBe(sha256(Buffer.from(`${a} ${b}`)));
});
