// The preview's cluster checks through the dynamic provider's check() (what `pulumi preview` calls), against the
// emulator: connection, auth and TLS failures; nodes, storages and content types, templates, bridges, platforms,
// forwards claimed twice; messages that name the field and the fix; unknown values left alone; and one cached look
// per thing, so that 50 pods cost a handful of calls.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { handler } from '../../provider/dynamic';
import { setStackConfig } from '../../provider/resources/common/connection';
import { ClusterView } from '../../provider/resources/common/preflight';
import { podPreflight } from '../../provider/resources/pod/preflight';
import { podInputsSchema } from '../../provider/resources/pod/schema';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { createDispatcher, tlsPolicyFrom } from '../../provider/proxmox/tls';
import { UNKNOWN } from '../../provider/resources/common/unknowns';
import { buildImage, buildIndex, makeTar, writeLayout } from '../../provider/oci/layout/writer';
import { addForward } from '../../provider/host/nftables';
import { executorFor } from '../../provider/host/config';
import { Netns } from '../helpers/netns';

jest.setTimeout(60_000);

const T = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

describe('preview checks against the cluster', () => {
  let emu: RunningEmulator;
  let dir: string;
  const config = (over: Record<string, string | undefined> = {}) => ({
    'proxmox-pods:endpoint': emu.url,
    'proxmox-pods:apiToken': emu.token,
    'proxmox-pods:tlsFingerprint': emu.fingerprint,
    ...over,
  });
  const pod = (over: Record<string, unknown> = {}) => ({ name: 'web', image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { bridge: 'vmbr0', ip: '10.9.0.2/24', gateway: '10.9.0.1' }, ...over });
  const check = (kind: string, news: Record<string, unknown>, olds: Record<string, unknown> = {}) => handler(kind).check(olds, news);
  const reasons = (r: { failures?: Array<{ property: string; reason: string }> }) => (r.failures ?? []).map((f) => `${f.property}|${f.reason}`);

  beforeAll(async () => {
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    dir = await mkdtemp(join(tmpdir(), 'pp-preflight-'));
  });
  beforeEach(() => setStackConfig(config()));
  afterAll(async () => {
    setStackConfig({});
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a pod that fits the cluster passes', async () => {
    const r = await check('Pod', pod());
    expect(r.failures).toBeUndefined();
    expect(r.inputs).toMatchObject({ name: 'web', memory: 512 });
  });

  test('an unknown node names the field and the nodes there are', async () => {
    expect(reasons(await check('Pod', pod({ node: 'pve9' })))).toEqual(['node|node "pve9" is not a node of the cluster (nodes: pve); use one of them']);
  });

  test('an unknown storage is a missing storage, not "run pulumi refresh"', async () => {
    const [failure] = (await check('Pod', pod({ rootfs: { storage: 'tank', sizeGiB: 2 } }))).failures!;
    expect(failure!.property).toBe('');
    expect(failure!.reason).toMatch(/^property 'rootfs\.storage' value "tank" has a problem: storage "tank" does not exist on node pve .*storages on pve that hold container root disks: local-zfs, local-lvm/);
    expect(failure!.reason).not.toMatch(/refresh|<nil>/);
  });

  test('a storage that cannot hold containers says which content it lacks and what to use', async () => {
    const [failure] = (await check('Pod', pod({ rootfs: { storage: 'local', sizeGiB: 2 } }))).failures!;
    expect(failure!.reason).toMatch(/storage "local" on node pve cannot hold container root disks: its content types are .*vztmpl.*, without "rootdir"; use another \(storages on pve that hold container root disks: local-zfs, local-lvm\)/);
  });

  test('the default storage (no rootfs.storage) is checked and said to be the default', async () => {
    setStackConfig(config({ 'proxmox-pods:storage': 'local' }));
    const [failure] = (await check('Pod', pod({ rootfs: { sizeGiB: 2 } }))).failures!;
    expect(failure!.reason).toMatch(/storage "local" \(the default: proxmox-pods:storage/);
  });

  test('a template that is not on its storage, and a template storage that does not exist', async () => {
    expect(reasons(await check('Pod', pod({ image: 'local:vztmpl/nope.tar.zst' })))).toEqual([
      // A short top-level value is left to the engine, which prints it (redacted when secret) next to the reason.
      expect.stringMatching(/^image\|template local:vztmpl\/nope.tar.zst is not on storage "local" of node pve \(templates there: local:vztmpl\/debian-12.*\); download it/),
    ]);
    const [f] = (await check('Pod', pod({ image: 'nfs:vztmpl/x.tar.zst' }))).failures!;
    expect(f!.reason).toMatch(/storage "nfs" \(of template nfs:vztmpl\/x.tar.zst\) does not exist on node pve/);
  });

  test('a bridge the node does not have; a bridge a DeploymentBridge of the program makes is fine', async () => {
    const [f] = (await check('Pod', pod({ network: { bridge: 'vmbr42', ip: 'dhcp' } }))).failures!;
    expect(f!.reason).toMatch(/^property 'network\.bridge' value "vmbr42" has a problem: bridge "vmbr42" does not exist on node pve \(bridges there: vmbr0\); use one of them, or create it/);
    expect((await check('DeploymentBridge', { name: 'vmbr42' })).failures).toBeUndefined();
    expect((await check('Pod', pod({ network: { bridge: 'vmbr42', ip: 'dhcp' } }))).failures).toBeUndefined();
  });

  test('a template uploaded after the listing was cached (earlier in the same up) is found, not reported missing', async () => {
    expect((await check('Pod', pod())).failures).toBeUndefined(); // caches local's templates
    const pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, tlsFingerprint: emu.fingerprint }));
    const file = join(dir, 'fresh.tar.zst');
    await writeFile(file, Buffer.from('not really a template'));
    await pve.uploadToStorage('pve', 'local', { content: 'vztmpl', filename: 'fresh.tar.zst', data: file });
    await pve.close();
    expect((await check('Pod', pod({ image: 'local:vztmpl/fresh.tar.zst' }))).failures).toBeUndefined();
  });

  test('values still unknown at preview are not judged', async () => {
    const r = await check('Pod', pod({ node: UNKNOWN, network: { bridge: UNKNOWN, ip: '10.9.0.2/24' } }));
    expect(r.failures).toBeUndefined();
    const r2 = await check('Pod', pod({ image: UNKNOWN, network: { bridge: UNKNOWN, ip: UNKNOWN, gateway: '10.1.1.1' } }));
    expect(r2.failures).toBeUndefined();
  });

  test('a gateway outside the pod subnet fails without the cluster, with the nested value printed', async () => {
    setStackConfig(config({ 'proxmox-pods:offlinePreview': 'true' }));
    const [f] = (await check('Pod', pod({ network: { ip: '10.9.0.2/24', gateway: '10.8.0.1' } }))).failures!;
    expect(f).toEqual({
      property: '',
      reason: `property 'network.gateway' value "10.8.0.1" has a problem: gateway 10.8.0.1 is outside the pod's subnet 10.9.0.0/24 (from 10.9.0.2/24); use an address in that subnet such as 10.9.0.1, or change the address's prefix; if the gateway is on the link outside the subnet on purpose, set network.gatewayOnLink: true (PVE then adds the route to it)`,
    });
    const ss = (await check('StatefulSetPod', { set: 'db', ordinal: 0, image: T, network: { cidr: '10.20.0.0/24', gateway: '10.21.0.1' } })).failures!;
    expect(ss[0]!.reason).toMatch(/gateway 10\.21\.0\.1 is outside network\.cidr 10\.20\.0\.0\/24.*set network\.gatewayOnLink: true/);
  });

  test('an on-link gateway outside the subnet passes when gatewayOnLink says so (PVE routes it), for both pod kinds', async () => {
    const r = await check('Pod', pod({ network: { ip: '10.9.0.2/24', gateway: '10.8.0.1', gatewayOnLink: true } }));
    expect(r.failures).toBeUndefined();
    expect(r.inputs).toMatchObject({ network: { gateway: '10.8.0.1', gatewayOnLink: true } });
    // false is the default: refused as before.
    expect(reasons(await check('Pod', pod({ network: { ip: '10.9.0.2/24', gateway: '10.8.0.1', gatewayOnLink: false } })))[0]).toMatch(/network\.gateway.*outside the pod's subnet/);
    const ss = await check('StatefulSetPod', { set: 'db', ordinal: 0, image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { cidr: '10.20.0.0/24', gateway: '10.21.0.1', gatewayOnLink: true } });
    expect(ss.failures).toBeUndefined();
    // Unknown at preview: not judged yet.
    expect((await check('StatefulSetPod', { set: 'db', ordinal: 0, image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { cidr: '10.20.0.0/24', gateway: '10.21.0.1', gatewayOnLink: UNKNOWN } })).failures).toBeUndefined();
  });

  test('an 8,000-character value is cut in the message', async () => {
    const [f] = (await check('Pod', pod({ description: 'x'.repeat(8000) }))).failures!;
    expect(f!.property).toBe('');
    expect(f!.reason.length).toBeLessThan(400);
    expect(f!.reason).toMatch(/^property 'description' value "x{119}… \(8002 characters\) has a problem: must be at most 7000 characters/);
  });

  test('env values are never echoed (they may be secrets)', async () => {
    const [f] = (await check('Pod', pod({ env: { 'BAD-NAME': 's3cr3t' } }))).failures!;
    expect(f!.reason).toMatch(/^property 'env.BAD-NAME' value \[not shown: may be secret\] has a problem/);
    expect(f!.reason).not.toContain('s3cr3t');
  });

  describe('connection, auth and TLS', () => {
    test('a wrong token names apiToken', async () => {
      setStackConfig(config({ 'proxmox-pods:apiToken': 'root@pam!ci=00000000-0000-0000-0000-000000000000' }));
      const [f] = (await check('Pod', pod())).failures!;
      expect(f!.property).toBe('');
      expect(f!.reason).toMatch(/^the preview cannot check this resource against the cluster: PVE GET \/version failed \(401\).*check proxmox-pods:apiToken.*offlinePreview true/);
      expect(f!.reason).not.toContain('00000000-0000');
    });

    test('a wrong fingerprint names tlsFingerprint', async () => {
      setStackConfig(config({ 'proxmox-pods:tlsFingerprint': Array(32).fill('AB').join(':') }));
      const [f] = (await check('Pod', pod())).failures!;
      expect(f!.reason).toMatch(/TLS fingerprint mismatch .*check proxmox-pods:tlsFingerprint/);
    });

    test('an unreachable host says so', async () => {
      setStackConfig(config({ 'proxmox-pods:endpoint': 'https://127.0.0.1:1' }));
      const [f] = (await check('Pod', pod())).failures!;
      expect(f!.reason).toMatch(/cannot reach the API .*check proxmox-pods:endpoint/);
    });

    test('no endpoint fails the preview and says how to opt out; offlinePreview opts out', async () => {
      const saved = process.env.PROXMOX_VE_ENDPOINT;
      delete process.env.PROXMOX_VE_ENDPOINT;
      try {
        setStackConfig({});
        const [f] = (await check('Pod', pod())).failures!;
        expect(f!.reason).toMatch(/proxmox-pods:endpoint \(or PROXMOX_VE_ENDPOINT\): is not set .*pulumi config set proxmox-pods:offlinePreview true/);
        setStackConfig({ 'proxmox-pods:offlinePreview': 'true' });
        expect((await check('Pod', pod())).failures).toBeUndefined();
      } finally {
        if (saved !== undefined) process.env.PROXMOX_VE_ENDPOINT = saved;
      }
    });
  });

  test('OciImage: a platform the image does not offer, and a template storage without vztmpl', async () => {
    const layer = await makeTar([{ name: 'hello', content: 'hi\n' }]);
    const amd = buildImage({ layers: [{ tar: layer }], platform: { os: 'linux', architecture: 'amd64' } });
    const arm = buildImage({ layers: [{ tar: layer }], platform: { os: 'linux', architecture: 'arm64' } });
    await writeLayout(join(dir, 'multi'), [{ image: buildIndex([amd, arm]), tag: 'v1' }]);
    const reference = `oci-layout:${join(dir, 'multi')}:v1`;
    const [f] = (await check('OciImage', { reference, platform: 'linux/riscv64' })).failures!;
    expect(f).toEqual({ property: 'platform', reason: `${reference} has no linux/riscv64 image (it offers: linux/amd64, linux/arm64); set platform to one of them` });
    expect((await check('OciImage', { reference, platform: 'linux/arm64/v8' })).failures).toBeUndefined();
    const [g] = (await check('OciImage', { reference, templateStorage: 'local-zfs' })).failures!;
    expect(g!.property).toBe('templateStorage');
    expect(g!.reason).toMatch(/storage "local-zfs" on node pve cannot hold container templates: .*use another \(storages on pve that hold container templates: local\)/);
  });

  test('PortForward: a port another forward of the program already claims', async () => {
    const fwd = { name: 'a-http', listenPort: 8080, protocol: 'tcp', targetIp: '10.0.0.5', targetPort: 80 };
    setStackConfig(config({ 'proxmox-pods:hosts': JSON.stringify({ pve: { local: true } }) }));
    // The live rules come from the node's table through `hosts`; an unknown port is not judged at all.
    expect((await check('PortForward', { ...fwd, name: 'c-http', listenPort: UNKNOWN })).failures).toBeUndefined();
    setStackConfig(config({ 'proxmox-pods:hosts': '{}' }));
    const [noHosts] = (await check('PortForward', fwd)).failures!;
    expect(noHosts!.reason).toMatch(/proxmox-pods:hosts: has no entry for node pve/);
    const [clash] = (await check('PortForward', { ...fwd, name: 'b-http' })).failures!;
    expect(clash).toEqual({ property: 'listenPort', reason: 'every address port 8080/tcp on node pve is also forwarded by PortForward "a-http" in this program; choose another listenPort or listenAddress, or remove that forward first' });
  });

  test('PortForward: a port a rule of another resource already holds on the node (the node is a namespace)', async () => {
    const ns = new Netns();
    try {
      const node = await ns.add('preflight-node');
      const hosts = { pve: { netns: node } };
      await ns.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await addForward(executorFor('pve', hosts), { id: 'someone-else', listenPort: 9443, protocol: 'tcp', targetIp: '10.0.0.9', targetPort: 443 });
      setStackConfig(config({ 'proxmox-pods:hosts': JSON.stringify(hosts) }));
      const fwd = { name: 'mine', listenAddress: '192.0.2.1', listenPort: 9443, protocol: 'tcp', targetIp: '10.0.0.5', targetPort: 443 };
      expect((await check('PortForward', fwd)).failures).toEqual([{
        property: 'listenPort',
        reason: '192.0.2.1 port 9443/tcp on node pve is already forwarded by "someone-else" (every address port 9443/tcp → 10.0.0.9:443); choose another listenPort or listenAddress, or remove that forward first',
      }]);
      // Its own rule (same name, or the name it had before) is what an update replaces: no conflict.
      expect((await check('PortForward', fwd, { name: 'someone-else' })).failures).toBeUndefined();
      expect((await check('PortForward', { ...fwd, name: 'other-port', listenPort: 9444 })).failures).toBeUndefined();
    } finally {
      await ns.cleanup();
    }
  });

  test('50 pods cost one look per distinct thing, not 50', async () => {
    let calls = 0;
    const cfg = parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, tlsFingerprint: emu.fingerprint });
    const counting: Dispatcher = createDispatcher(tlsPolicyFrom(cfg), {}).compose((dispatch) => (opts, h) => {
      calls++;
      return dispatch(opts, h);
    });
    const pve = PveClient.create(cfg, { dispatcher: counting });
    const cluster = new ClusterView(pve);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => podPreflight(podInputsSchema.parse(pod({ name: `web-${i}`, network: { bridge: 'vmbr0', ip: `10.9.0.${i + 10}/24` } })), { cluster, olds: {} })),
    );
    expect(results.flat()).toEqual([]);
    // nodes, storages of the node, templates on local, bridges of the node.
    expect(calls).toBe(4);
    await pve.close();
  });
});
