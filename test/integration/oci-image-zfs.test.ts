// OciImage with ZFS layer chains on a real zfs-fuse pool: one dataset per ChainID with an @ready snapshot, the
// unprivileged uid shift applied, chains shared between images with a common base, a pod clone from the top
// snapshot, deletion deferred while a pod clone exists, and release of shared layers: with the last chain that uses
// them, never before, also after concurrent or interrupted destroys.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { setStackConfig } from '../../provider/resources/common/connection';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar } from '../../provider/oci/layout/writer';
import { LocalExecutor } from '../../provider/host/executor';
import { replaceWithClone, Zfs } from '../../provider/host/zfs';
import { ociImageModule, createOciImage, deleteOciImage, readOciImage, type OciImageInputs } from '../../provider/resources/oci-image';
import { dropClaims } from '../../provider/resources/oci-image/chain-claims';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';
import { withZfsPool, zfsChange } from '../oci/helpers-zfs';

jest.setTimeout(120_000);

const ready = requireTools('OciImage ZFS chains', ['docker-registry', 'zfs', 'zpool']);
const d = ready ? describe : describe.skip;

d('OciImage ZFS layer chains (zfs-fuse)', () => {
  let reg: RunningRegistry;
  let emu: RunningEmulator;
  let pve: PveClient;
  let client: RegistryClient;
  let pool: ReturnType<typeof withZfsPool>;
  let dir: string;
  const logs: string[] = [];
  const ctx = () => ({ pve, log: (m: string) => logs.push(m) });
  const zfs = async (...args: string[]) => String((await execa('zfs', args)).stdout).trim();

  async function image(tag: string, app: string, distro = 'pods') {
    const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: `ID=${distro}\n` }]);
    const top = await makeTar([{ name: 'srv/', type: 'directory', uid: 1000, gid: 1000 }, { name: 'srv/app', content: app, uid: 1000, gid: 1000 }]);
    const img = await buildImage({ layers: [{ tar: base, compression: 'gzip' }, { tar: top, compression: 'gzip' }], runtime: { Cmd: ['/srv/app'] } });
    await pushImage(client, 'team/app', tag, img);
  }
  async function inputs(tag: string, over: Record<string, unknown> = {}): Promise<OciImageInputs> {
    const r = await ociImageModule.check({}, { reference: `${reg.host}/team/app:${tag}`, insecureRegistries: [reg.host], store: join(dir, 'store'), zfs: { parentDataset: `${pool.name}/images` }, ...over });
    expect(r.failures).toBeUndefined();
    return r.inputs!;
  }

  beforeAll(async () => {
    pool = withZfsPool();
    reg = await startRegistry();
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }));
    client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-ociimage-zfs-'));
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve: { local: true } }) });
  });
  afterAll(async () => {
    setStackConfig({});
    await client?.close();
    await pve?.close();
    await emu?.close();
    await reg?.close();
    pool?.destroy();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('chains per ChainID, shifted ownership, shared base, pod clone, deferred delete', async () => {
    await image('a', 'one');
    await image('b', 'two');
    const a = await createOciImage(await inputs('a'), ctx());
    expect(a.outs.zfsSnapshot).toMatch(new RegExp(`^${pool.name}/images/.+@ready$`));
    const top = a.outs.zfsSnapshot!.replace(/@ready$/, '');
    const mnt = await zfs('get', '-H', '-o', 'value', 'mountpoint', top);
    expect(String((await execa('stat', ['-c', '%u:%g', join(mnt, 'srv', 'app')])).stdout)).toBe('101000:101000');
    expect(String((await execa('stat', ['-c', '%u:%g', join(mnt, 'etc', 'os-release')])).stdout)).toBe('100000:100000');
    expect(await zfs('get', '-H', '-o', 'value', 'pods:chainid', top)).toMatch(/^sha256:[0-9a-f]{64}$/);

    // Same base layer: its chain is reused, only the top differs.
    const b = await createOciImage(await inputs('b'), ctx());
    expect(b.outs.zfsSnapshot).not.toBe(a.outs.zfsSnapshot);
    const datasets = (await zfs('list', '-H', '-o', 'name', '-r', `${pool.name}/images`)).split('\n').filter((n) => n !== `${pool.name}/images`);
    expect(datasets).toHaveLength(3); // base + two tops

    // A pod's rootfs becomes a clone of the top snapshot (the swap a Pod create runs on the disk PVE allocated);
    // while it exists, deleting the image keeps the chain.
    const host = new Zfs(new LocalExecutor('pve'));
    const clone = `${pool.name}/subvol-100-disk-0`;
    await zfs('create', '-o', `refquota=${1024 ** 3}`, clone);
    await replaceWithClone(host, a.outs.zfsSnapshot!, clone);
    expect(await zfs('get', '-H', '-o', 'value', 'origin', clone)).toBe(a.outs.zfsSnapshot);
    await deleteOciImage(a.id, a.outs, ctx());
    expect(logs.join('\n')).toMatch(/layer chain .* is kept: pods were cloned from it/);
    expect(await zfs('list', '-H', '-o', 'name', top)).toBe(top);
    await host.destroy(clone);
    // Refresh: a chain destroyed behind Pulumi's back makes the image gone, so the next up rebuilds it.
    expect((await readOciImage(b.id, b.outs, ctx()))!.id).toBe(b.id);
    await zfsChange('zfs', ['destroy', b.outs.zfsSnapshot!]);
    expect(await readOciImage(b.id, b.outs, ctx())).toBeUndefined();
    await deleteOciImage(b.id, b.outs, ctx());
    expect((await execa('zfs', ['list', '-H', '-o', 'name', b.outs.zfsSnapshot!.replace(/@ready$/, '')], { reject: false })).exitCode).not.toBe(0);
  });

  test('chains shared by two stacks carry a claim per owner and go, base included, with the last claim', async () => {
    // A base of their own: the first test leaves a chain on its base (kept while a pod was cloned from it).
    await image('c', 'three', 'shared');
    await image('d', 'four', 'shared');
    const dev = { project: 'shop', stack: 'dev', resource: 'app' };
    const staging = { project: 'shop', stack: 'staging', resource: 'app' };
    // Two stacks, each with its own content store: same image c; and dev also runs image d on the same base.
    const devC = await createOciImage(await inputs('c', { store: join(dir, 'store-dev'), owner: dev }), ctx());
    const stagingC = await createOciImage(await inputs('c', { store: join(dir, 'store-staging'), owner: staging }), ctx());
    const devD = await createOciImage(await inputs('d', { store: join(dir, 'store-dev'), owner: { ...dev, resource: 'other' } }), ctx());
    const topC = devC.outs.zfsSnapshot!.replace(/@ready$/, '');
    const topD = devD.outs.zfsSnapshot!.replace(/@ready$/, '');
    const base = (await zfs('get', '-H', '-o', 'value', 'origin', topC)).replace(/@ready$/, '');
    const claimsOn = async (ds: string) => (await zfs('get', '-H', '-o', 'property,value,source', 'all', ds)).split('\n').filter((l) => l.startsWith('proxmox-pods:claim.') && l.endsWith('\tlocal')).map((l) => l.split('\t')[1]).sort();
    expect(await claimsOn(topC)).toEqual(['shop/dev/OciImage/app', 'shop/staging/OciImage/app']);
    expect(await claimsOn(base)).toEqual(['shop/dev/OciImage/app', 'shop/dev/OciImage/other', 'shop/staging/OciImage/app']);

    logs.length = 0;
    await deleteOciImage(devC.id, devC.outs, ctx());
    expect(await claimsOn(topC)).toEqual(['shop/staging/OciImage/app']);
    expect(logs.join('\n')).toMatch(/layer chain .* is kept: still claimed by shop\/staging\/OciImage\/app/);
    expect((await readOciImage(stagingC.id, stagingC.outs, ctx()))!.id).toBe(stagingC.id);

    await deleteOciImage(stagingC.id, stagingC.outs, ctx());
    const exists = async (ds: string) => (await execa('zfs', ['list', '-H', '-o', 'name', ds], { reject: false })).exitCode === 0;
    expect(await exists(topC)).toBe(false);
    // The base stays: image d (dev/other) claims it and its chain is cloned from it.
    expect(await exists(base)).toBe(true);
    expect(await claimsOn(base)).toEqual(['shop/dev/OciImage/other']);
    await deleteOciImage(devD.id, devD.outs, ctx());
    expect(await exists(topD)).toBe(false);
    expect(await exists(base)).toBe(false);
  });

  // Three layers: base and middle shared, the top per tag. `pool/images2` keeps these chains apart from the tests above.
  async function image3(tag: string, app: string) {
    const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=three\n' }]);
    const mid = await makeTar([{ name: 'lib/', type: 'directory' }, { name: 'lib/shared', content: 'shared middle layer\n' }]);
    const top = await makeTar([{ name: 'srv/', type: 'directory' }, { name: 'srv/app', content: app }]);
    const img = await buildImage({ layers: [base, mid, top].map((tar) => ({ tar, compression: 'gzip' as const })), runtime: { Cmd: ['/srv/app'] } });
    await pushImage(client, 'team/three', tag, img);
  }
  const parent2 = () => `${pool.name}/images2`;
  const chainsLeft = async () => (await zfs('list', '-H', '-o', 'name', '-r', parent2())).split('\n').filter((n) => n && n !== parent2());
  const inputs3 = async (tag: string, resource: string, stack = 'dev') =>
    inputs('x', { reference: `${reg.host}/team/three:${tag}`, zfs: { parentDataset: parent2() }, store: join(dir, `store-${stack}`), owner: { project: 'shop', stack, resource } });

  test('two images sharing lower layers: one destroyed keeps the shared layers, the other destroyed leaves nothing; a replace of one resource keeps the new chain', async () => {
    await image3('p', 'p');
    await image3('q', 'q');
    await image3('r', 'r');
    // Two resources on a shared base + middle.
    const p = await createOciImage(await inputs3('p', 'p'), ctx());
    const q = await createOciImage(await inputs3('q', 'q'), ctx());
    expect(await chainsLeft()).toHaveLength(4); // base, middle, two tops
    const [topP, topQ] = [p, q].map((i) => i.outs.zfsSnapshot!.replace(/@ready$/, ''));
    await deleteOciImage(p.id, p.outs, ctx());
    const left = await chainsLeft();
    expect(left).toHaveLength(3);
    expect(left).not.toContain(topP);
    expect(left).toContain(topQ);
    // Image q still reads as existing and its chain still clones.
    expect((await readOciImage(q.id, q.outs, ctx()))?.id).toBe(q.id);

    // The resource q is replaced by image r (Pulumi creates the new one, then deletes the old): same owner key, so
    // the old release must not drop the new image's claims on the shared layers.
    const r = await createOciImage(await inputs3('r', 'q'), ctx());
    await deleteOciImage(q.id, q.outs, ctx());
    const afterReplace = await chainsLeft();
    expect(afterReplace).toHaveLength(3);
    expect(afterReplace).toContain(r.outs.zfsSnapshot!.replace(/@ready$/, ''));
    expect((await readOciImage(r.id, r.outs, ctx()))?.id).toBe(r.id);

    // A replacement on the very same chain and template (a changed templateStorage or platform): the old image's
    // delete leaves the new one's claims, so its chain and template stay.
    const r2 = await createOciImage(await inputs3('r', 'q'), ctx());
    expect(r2.outs.zfsSnapshot).toBe(r.outs.zfsSnapshot);
    expect(r2.outs.claimInstance! > r.outs.claimInstance!).toBe(true);
    await deleteOciImage(r.id, r.outs, ctx());
    expect(await chainsLeft()).toHaveLength(3);
    const reread = await readOciImage(r2.id, r2.outs, ctx());
    expect(reread?.id).toBe(r2.id);
    expect(reread?.props.claimed).toBeUndefined();

    await deleteOciImage(r2.id, r2.outs, ctx());
    expect(await chainsLeft()).toEqual([]);
  });

  test('concurrent destroys of two images on one base leave nothing; a destroy killed after its top went is finished by the next', async () => {
    const p = await createOciImage(await inputs3('p', 'p'), ctx());
    const q = await createOciImage(await inputs3('q', 'q', 'staging'), ctx());
    // Both at once (pulumi destroy deletes independent resources in parallel): each sees the other's top still there.
    await Promise.all([deleteOciImage(p.id, p.outs, ctx()), deleteOciImage(q.id, q.outs, ctx())]);
    expect(await chainsLeft()).toEqual([]);

    // A destroy killed between its steps: claims dropped and the top destroyed, the layers below not yet. Pulumi
    // still has the image (a delete is recorded only when it returns), so the next destroy runs it again.
    const a = await createOciImage(await inputs3('p', 'p'), ctx());
    const topA = a.outs.zfsSnapshot!;
    await dropClaims('pve', await chainsLeft(), { project: 'shop', stack: 'dev', kind: 'OciImage', name: 'p' }, topA, { upTo: a.outs.claimInstance! });
    // Through the project's Zfs: zfs-fuse answers "dataset is busy" for a moment after an unmount; it retries that.
    await new Zfs(new LocalExecutor('pve')).destroy(topA.replace(/@ready$/, ''));
    expect(await chainsLeft()).toHaveLength(2); // base and middle: no top left to walk down from
    await deleteOciImage(a.id, a.outs, ctx());
    expect(await chainsLeft()).toEqual([]);
  });

  test('zfs over SSH is refused with the fix', async () => {
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve: { ssh: { host: '127.0.0.1', port: 1 } } }) });
    try {
      await expect(createOciImage(await inputs('a'), ctx())).rejects.toThrow(/^zfs: layers are applied by the provider process/);
    } finally {
      setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve: { local: true } }) });
    }
  });
});
