// OciImage + Pod through the real Pulumi CLI: the image comes from Debian's docker-registry on loopback (token auth,
// credentials as a Pulumi secret), the pod from the emulator. up → the CT's ostemplate is the uploaded template and its
// env/entrypoint come from the image; the tag moves → preview --diff replaces image and pod; destroy cleans up.
// Run twice: with the template, and with ZFS layer chains on a real zfs-fuse pool where the pod's rootfs is a clone
// of the image's top snapshot (the emulator's zfspool disks are real datasets).
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar } from '../../provider/oci/layout/writer';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';
import { programPath, requirePulumiCli } from '../helpers/pulumi';
import { execa } from 'execa';
import { zfsVolumeBackend } from '../../emulator';
import { withZfsPool, type ZfsPool, zfsChange } from '../oci/helpers-zfs';

jest.setTimeout(300_000);

const PASSWORD = 'e2e-registry-pw-5b1f0c';

async function webImage(version: string) {
  const rootfs = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/server', content: `#!/bin/sh\necho ${version}\n`, mode: 0o755 },
    { name: 'www/', type: 'directory' },
    { name: 'www/index.html', content: `<h1>${version}</h1>\n` },
  ]);
  return buildImage({
    layers: [{ tar: rootfs }],
    runtime: { Entrypoint: ['/bin/server'], Cmd: ['--port', '8080'], Env: ['PATH=/bin', `APP_VERSION=${version}`], WorkingDir: '/www' },
  });
}

describe.each([{ zfs: false }, { zfs: true }])('OciImage and Pod through the real pulumi CLI (zfs: $zfs)', ({ zfs }) => {
  let emu: RunningEmulator;
  let pool: ZfsPool | undefined;
  let reg: RunningRegistry;
  let client: RegistryClient;
  let ws: PulumiWorkspace;
  let dir: string;
  let v1: Awaited<ReturnType<typeof webImage>>;
  // The image's OCI archive; not its claims (oci-image/claims.ts) nor, with zfs, its scaffold, which goes with it.
  const templates = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid)).filter((v) => v.includes('vztmpl/oci-') && !v.includes('.claim.') && !v.endsWith('.scaffold.tar'));

  beforeAll(async () => {
    requirePulumiCli();
    requireTools('OciImage e2e', ['docker-registry', 'tar', 'zstd']);
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-ociimage-e2e-'));
    reg = await startRegistry({ auth: { users: { ci: PASSWORD }, grant: (user, _t, _n, actions) => (user === 'ci' ? actions : []) } });
    client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host], credentials: { username: 'ci', password: PASSWORD } });
    v1 = await webImage('v1');
    await pushImage(client, 'shop/web', 'live', v1);
    if (zfs) {
      requireTools('OciImage e2e (zfs)', ['zfs', 'zpool']);
      pool = withZfsPool();
      await zfsChange('zfs', ['create', `${pool.name}/data`]);
    }
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 20, ...(pool ? { zfsPool: `${pool.name}/data`, hostBackend: zfsVolumeBackend() } : {}) });
    ws = await PulumiWorkspace.create({
      program: programPath('oci-image'),
      project: 'e2e-oci-image',
      config: {
        ...stackConfig(emu),
        registry: reg.host,
        reference: `${reg.host}/shop/web:live`,
        store: join(dir, 'store'),
        username: 'ci',
        password: { secret: PASSWORD },
        ...(pool ? { zfsParent: `${pool.name}/images`, 'proxmox-pods:hosts': JSON.stringify({ pve: { local: true } }) } : {}),
      },
    });
  });

  afterAll(async () => {
    await ws?.dispose();
    await client?.close();
    await emu?.close();
    await reg?.close();
    pool?.destroy();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  /** The pod's rootfs dataset and where it was cloned from (zfs runs only). */
  async function rootfsOrigin(): Promise<string> {
    const [ct] = emu.state.containers();
    const volume = /^local-zfs:(subvol-\d+-disk-\d+)/.exec(String(ct!.config.rootfs))![1];
    return String((await execa('zfs', ['get', '-H', '-o', 'value', 'origin', `${pool!.name}/data/${volume}`])).stdout).trim();
  }

  test('up uploads the template and the pod runs it with the image\'s entrypoint and env', async () => {
    const r = await ws.mustRun(['up', '--yes']);
    expect(r.stdout).toMatch(/\+ 3 created/);
    const out = await ws.outputs();
    const volid = `local:vztmpl/oci-${v1.root.digest.slice(7, 23)}.tar`;
    expect(out.digest).toBe(v1.root.digest);
    expect(out.templateVolid).toBe(volid);
    expect(out.imageEnv).toEqual({ PATH: '/bin', APP_VERSION: 'v1' });
    expect(templates()).toEqual([volid]);
    const [ct] = emu.state.containers();
    // PVE keeps no ostemplate key; the create succeeded only because the volume exists, and the pod's metadata names it.
    expect(String(ct!.config.description)).toContain(volid);
    expect(String(ct!.config.entrypoint)).toBe('/bin/server --port 8080');
    const env = String(ct!.config.env).split('\0');
    expect(env).toEqual(expect.arrayContaining(['PATH=/bin', 'APP_VERSION=v1', 'MODE=e2e']));
    expect(ct!.status).toBe('running');
    if (zfs) {
      expect(out.zfsSnapshot).toMatch(new RegExp(`^${pool!.name}/images/[0-9a-f]{64}-u100000@ready$`));
      expect(await rootfsOrigin()).toBe(out.zfsSnapshot);
    } else {
      expect(out.zfsSnapshot).toBeUndefined();
    }
  });

  test('the registry password stays a secret in state', async () => {
    const state = JSON.stringify(await ws.exportState());
    expect(state).not.toContain(PASSWORD);
    const img = (await ws.exportState()).deployment.resources!.find((r) => String(r.type).endsWith(':OciImage'))!;
    expect(img.type).toBe('pulumi-nodejs:dynamic/proxmox-pods:OciImage');
    expect(JSON.stringify(img.inputs.credentials)).toMatch(/4dabf18193072939515e22adb298388d|ciphertext/);
  });

  test('a tag pushed to a new digest shows as a replacement of the image and the pod, without pulling layers', async () => {
    const v2 = await webImage('v2');
    await pushImage(client, 'shop/web', 'live', v2);
    const blobs = await fs.readdir(join(dir, 'store', 'blobs', 'sha256'));
    const r = await ws.mustRun(['preview', '--diff']);
    expect(r.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/proxmox-pods:OciImage: \(replace\)/);
    expect(r.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/proxmox-pods:Pod: \(replace\)/);
    expect(r.stdout).toMatch(new RegExp(`~ resolvedDigest\\s*: "${v1.root.digest}" => "${v2.root.digest}"`));
    expect(r.stdout).toMatch(/2 to replace/);
    expect(await fs.readdir(join(dir, 'store', 'blobs', 'sha256'))).toEqual(blobs);

    await ws.mustRun(['up', '--yes']);
    const volid = `local:vztmpl/oci-${v2.root.digest.slice(7, 23)}.tar`;
    expect(templates()).toEqual([volid]);
    expect(String(emu.state.containers()[0]!.config.env)).toContain('APP_VERSION=v2');
    if (zfs) expect(await rootfsOrigin()).toBe((await ws.outputs()).zfsSnapshot);
    const again = await ws.mustRun(['preview', '--diff', '--expect-no-changes']);
    expect(again.stdout).not.toMatch(/to replace|to update/);
  });

  test('destroy removes the pod and the template', async () => {
    await ws.mustRun(['destroy', '--yes']);
    expect(emu.state.containers()).toEqual([]);
    expect(templates()).toEqual([]);
    // The stack's claims on the template went with it (oci-image/claims.ts).
    expect(emu.state.storageContent('pve', 'local').map((v) => String(v.volid)).filter((v) => v.includes('.claim.'))).toEqual([]);
    expect(emu.state.storageContent('pve', 'local').map((v) => String(v.volid)).filter((v) => v.endsWith('.scaffold.tar'))).toEqual([]);
    if (pool) {
      // The pod's clone went with the CT, then the image's chains with the image.
      const left = String((await execa('zfs', ['list', '-H', '-o', 'name', '-r', pool.name])).stdout).split('\n');
      expect(left.filter((n) => n.startsWith(`${pool!.name}/data/`) || n.startsWith(`${pool!.name}/images/`))).toEqual([]);
    }
  });
});
