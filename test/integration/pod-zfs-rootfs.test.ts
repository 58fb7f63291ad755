// Pods whose rootfs is a clone of an OciImage's ZFS chain, on a real zfs-fuse pool: the emulator's zfspool disks
// are real datasets (zfsVolumeBackend), so the provider's swap (PVE disk → clone of the image's @ready snapshot)
// runs against real ZFS. Checks fail before anything exists; a failed swap is a partial create that delete cleans.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startEmulator, zfsVolumeBackend, type RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { setStackConfig } from '../../provider/resources/common/connection';
import { PartialCreateError } from '../../provider/resources/common/partial';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar } from '../../provider/oci/layout/writer';
import { LocalExecutor } from '../../provider/host/executor';
import { Zfs, ZfsChains } from '../../provider/host/zfs';
import { ociImageModule, createOciImage, deleteOciImage, type OciImageOutputs } from '../../provider/resources/oci-image';
import { createPod, deletePod, readPod } from '../../provider/resources/pod/lifecycle';
import { podInputsSchema, type PodInputs } from '../../provider/resources/pod/schema';
import { InputError } from '../../provider/errors';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';
import { withZfsPool, zfsChange } from '../oci/helpers-zfs';

jest.setTimeout(120_000);

const ready = requireTools('Pod rootfs from a ZFS chain', ['docker-registry', 'zfs', 'zpool']);
const d = ready ? describe : describe.skip;

d('Pod rootfs cloned from the image\'s ZFS chain (zfs-fuse)', () => {
  let reg: RunningRegistry;
  let emu: RunningEmulator;
  let pve: PveClient;
  let pool: ReturnType<typeof withZfsPool>;
  let dir: string;
  let image: { id: string; outs: OciImageOutputs };
  /** vmids whose disk the backend must not create (simulates a storage that lost the dataset). */
  const breakDisk = new Set<number>();
  const zfs = async (...args: string[]) => String((await execa('zfs', args)).stdout).trim();
  const datasets = async () => (await zfs('list', '-H', '-o', 'name', '-r', pool.name)).split('\n');
  const spec = (over: Record<string, unknown> = {}): PodInputs =>
    podInputsSchema.parse({ name: 'app', image: image.outs.podImage, rootfs: { storage: 'local-zfs', sizeGiB: 1 }, ...over });

  beforeAll(async () => {
    pool = withZfsPool();
    await zfsChange('zfs', ['create', `${pool.name}/data`]);
    reg = await startRegistry();
    const backend = zfsVolumeBackend();
    emu = await startEmulator({
      nodes: 1, httpPort: false, taskDurationMs: 10, zfsPool: `${pool.name}/data`,
      hostBackend: {
        allocateVolume: async (node, st, volid, bytes) => {
          if (![...breakDisk].some((v) => volid.includes(`-${v}-disk-`))) await backend.allocateVolume(node, st, volid, bytes);
        },
        freeVolume: backend.freeVolume,
      },
    });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }));
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-pod-zfs-'));
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve: { local: true } }) });

    const client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=pods\n' }]);
    const top = await makeTar([{ name: 'srv/', type: 'directory', uid: 1000, gid: 1000 }, { name: 'srv/app', content: 'hello from the chain\n', uid: 1000, gid: 1000 }]);
    await pushImage(client, 'team/app', 'v1', await buildImage({ layers: [{ tar: base, compression: 'gzip' }, { tar: top, compression: 'gzip' }], runtime: { Cmd: ['/srv/app'] } }));
    await client.close();
    const checked = await ociImageModule.check({}, { reference: `${reg.host}/team/app:v1`, insecureRegistries: [reg.host], store: join(dir, 'store'), zfs: { parentDataset: `${pool.name}/images` } });
    expect(checked.failures).toBeUndefined();
    image = await createOciImage(checked.inputs!, { pve });
    expect(image.outs.podImage.zfsSnapshot).toBe(image.outs.zfsSnapshot);
  });
  afterEach(() => breakDisk.clear());
  afterAll(async () => {
    setStackConfig({});
    await pve?.close();
    await emu?.close();
    await reg?.close();
    pool?.destroy();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('create clones the chain into the disk PVE allocated; delete removes the clone, the chain stays the image\'s', async () => {
    const started = Date.now();
    const { id, outs } = await createPod(spec(), { pve });
    const createMs = Date.now() - started;
    expect(outs.status).toBe('running');
    const ds = `${pool.name}/data/subvol-${id}-disk-0`;
    expect(String(emu.state.containers()[0]!.config.rootfs)).toMatch(new RegExp(`^local-zfs:subvol-${id}-disk-0,size=1G`));
    expect(await zfs('get', '-H', '-o', 'value', 'origin', ds)).toBe(image.outs.zfsSnapshot);
    expect(await zfs('get', '-Hp', '-o', 'value', 'refquota', ds)).toBe(String(1024 ** 3));
    const mnt = await zfs('get', '-H', '-o', 'value', 'mountpoint', ds);
    expect(await fs.readFile(join(mnt, 'srv', 'app'), 'utf8')).toBe('hello from the chain\n');
    expect(String((await execa('stat', ['-c', '%u:%g', join(mnt, 'srv', 'app')])).stdout)).toBe('101000:101000');
    expect((await datasets()).filter((n) => /-pods-(in|out)$/.test(n))).toEqual([]);
    // The OciImage uploaded its scaffold (config + /etc files) once; the pod created from it, PVE mapped its config.
    expect(emu.state.storageContent('pve', 'local').filter((v) => String(v.volid).endsWith('.scaffold.tar'))).toHaveLength(1);
    expect(emu.state.containers().find((c) => String(c.vmid) === id)?.config).toMatchObject({ cmode: 'console', entrypoint: '/srv/app' });
    console.log(`pod create with a ZFS clone rootfs against the emulator: ${createMs} ms`);

    // Refresh keeps the clone source in the image input.
    expect((await readPod(id, outs, { pve }))!.props.image).toMatchObject({ zfsSnapshot: image.outs.zfsSnapshot });

    // A second pod clones the same snapshot; the scaffold is not uploaded again.
    const second = await createPod(spec({ name: 'app2' }), { pve });
    expect(await zfs('get', '-H', '-o', 'value', 'origin', `${pool.name}/data/subvol-${second.id}-disk-0`)).toBe(image.outs.zfsSnapshot);
    expect(emu.state.storageContent('pve', 'local').filter((v) => String(v.volid).endsWith('.scaffold.tar'))).toHaveLength(1);

    const chains = new ZfsChains(new Zfs(new LocalExecutor('pve')), `${pool.name}/images`);
    const top = image.outs.zfsSnapshot!.replace(/@ready$/, '');
    expect(await chains.clonesOf(top)).toEqual(expect.arrayContaining([ds]));
    await deletePod(id, outs, { pve });
    await deletePod(second.id, second.outs, { pve });
    expect((await datasets()).filter((n) => n.startsWith(`${pool.name}/data/`))).toEqual([]);
    expect(await chains.clonesOf(top)).toEqual([]);
  });

  test('a pod that cannot be cloned fails before anything exists, naming the field', async () => {
    const before = await datasets();
    const lvm = await createPod(spec({ rootfs: { storage: 'local-lvm', sizeGiB: 1 } }), { pve }).catch((e) => e);
    expect(lvm).toBeInstanceOf(InputError);
    expect(lvm.message).toMatch(/^rootfs\.storage: "local-lvm" is a lvmthin storage.*set rootfs\.storage to "local-zfs"/);
    const privileged = await createPod(spec({ unprivileged: false }), { pve }).catch((e) => e);
    expect(privileged.message).toMatch(/^unprivileged: /);
    const missing = await createPod(spec({ image: { ...image.outs.podImage, zfsSnapshot: `${pool.name}/images/nope@ready` } }), { pve }).catch((e) => e);
    expect(missing.message).toMatch(/^image\.zfsSnapshot: .*nope@ready does not exist on node pve/);
    expect(emu.state.containers()).toEqual([]);
    expect(await datasets()).toEqual(before);
  });

  test('a failed swap is a partial create (the container is reported, not lost) and delete leaves nothing', async () => {
    const vmid = 150;
    breakDisk.add(vmid);
    const err = await createPod(spec({ vmid }), { pve }).catch((e) => e);
    expect(err).toBeInstanceOf(PartialCreateError);
    expect(err.id).toBe(String(vmid));
    expect(String(err.message)).toMatch(/zfs/);
    expect((await datasets()).filter((n) => n.includes(`subvol-${vmid}-`))).toEqual([]);
    await deletePod(String(vmid), err.properties as never, { pve });
    expect(emu.state.containers()).toEqual([]);
  });

  test('deleting the image while pods are cloned from it keeps the chain', async () => {
    const { id, outs } = await createPod(spec(), { pve });
    const logs: string[] = [];
    await deleteOciImage(image.id, image.outs, { pve, log: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(/is kept: pods were cloned from it/);
    expect(await zfs('list', '-H', '-o', 'name', '-t', 'snapshot', image.outs.zfsSnapshot!)).toBe(image.outs.zfsSnapshot);
    await deletePod(id, outs, { pve });
  });
});
