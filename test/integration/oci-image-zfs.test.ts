// OciImage with ZFS layer chains on a real zfs-fuse pool: one dataset per ChainID with an @ready snapshot, the
// unprivileged uid shift applied, chains shared between images with a common base, a pod clone from the top
// snapshot, and deletion deferred while a pod clone exists.
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
import { ZfsChains } from '../../provider/oci/convert/zfs';
import { ociImageModule, createOciImage, deleteOciImage, readOciImage, type OciImageInputs } from '../../provider/resources/oci-image';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';
import { withZfsPool } from '../oci/helpers-zfs';

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

  async function image(tag: string, app: string) {
    const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=pods\n' }]);
    const top = await makeTar([{ name: 'srv/', type: 'directory', uid: 1000, gid: 1000 }, { name: 'srv/app', content: app, uid: 1000, gid: 1000 }]);
    const img = await buildImage({ layers: [{ tar: base, compression: 'gzip' }, { tar: top, compression: 'gzip' }], runtime: { Cmd: ['/srv/app'] } });
    await pushImage(client, 'team/app', tag, img);
  }
  async function inputs(tag: string): Promise<OciImageInputs> {
    const r = await ociImageModule.check({}, { reference: `${reg.host}/team/app:${tag}`, insecureRegistries: [reg.host], store: join(dir, 'store'), zfs: { parentDataset: `${pool.name}/images` } });
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

    // A pod's rootfs is a clone of the top snapshot; while it exists, deleting the image keeps the chain.
    const chains = new ZfsChains(`${pool.name}/images`);
    const clone = await chains.clonePodRootfs(a.outs.zfsSnapshot!, `${pool.name}/subvol-100-disk-0`, 1);
    expect(await zfs('get', '-H', '-o', 'value', 'origin', clone)).toBe(a.outs.zfsSnapshot);
    await deleteOciImage(a.id, a.outs, ctx());
    expect(logs.join('\n')).toMatch(/layer chain .* is kept: pods were cloned from it/);
    expect(await zfs('list', '-H', '-o', 'name', top)).toBe(top);
    await chains.destroyDataset(clone);
    // Refresh: a chain destroyed behind Pulumi's back makes the image gone, so the next up rebuilds it.
    expect((await readOciImage(b.id, b.outs, ctx())).id).toBe(b.id);
    await execa('zfs', ['destroy', b.outs.zfsSnapshot!]);
    expect((await readOciImage(b.id, b.outs, ctx())).id).toBe('');
    await deleteOciImage(b.id, b.outs, ctx());
    expect((await execa('zfs', ['list', '-H', '-o', 'name', b.outs.zfsSnapshot!.replace(/@ready$/, '')], { reject: false })).exitCode).not.toBe(0);
  });

  test('an image of the same manifest without zfs keeps the template, not the chains or the scaffold', async () => {
    await image('c', 'three');
    const withZfs = await createOciImage(await inputs('c'), ctx());
    const { zfs: _none, ...plainInputs } = await inputs('c');
    const plain = await createOciImage(plainInputs, ctx());
    expect(plain.outs.templateVolid).toBe(withZfs.outs.templateVolid);
    const top = withZfs.outs.zfsSnapshot!.replace(/@ready$/, '');
    const vols = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid));
    expect(vols()).toEqual(expect.arrayContaining([withZfs.outs.templateVolid, withZfs.outs.scaffoldVolid]));
    await deleteOciImage(withZfs.id, withZfs.outs, ctx());
    expect((await execa('zfs', ['list', '-H', '-o', 'name', top], { reject: false })).exitCode).not.toBe(0);
    expect(vols()).toContain(plain.outs.templateVolid);
    expect(vols()).not.toContain(withZfs.outs.scaffoldVolid);
    await deleteOciImage(plain.id, plain.outs, ctx());
    expect(vols()).not.toContain(plain.outs.templateVolid);
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
