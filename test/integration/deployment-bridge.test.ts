// DeploymentBridge against the emulator whose network apply creates real bridges in a namespace standing for the
// node; pods are namespaces wired to the bridge with PVE-named veths. Isolation is checked with real TCP.
import { execa, type ResultPromise } from 'execa';
import { withOperation } from '../../provider/diagnostics';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { deploymentBridgeModule as m } from '../../provider/resources/deployment-bridge';
import type { DeploymentBridgeInputs } from '../../provider/resources/deployment-bridge/schema';
import { setStackConfig, pveClient } from '../../provider/resources/common/connection';
import { reapplyPortIsolation } from '../../provider/resources/common/isolation';
import { CapabilityError } from '../../provider/errors';
import { Netns } from '../helpers/netns';

const LISTEN = (ip: string) => `require('net').createServer((s) => s.end('ok')).listen(7000, '${ip}', () => console.log('listening'))`;
const CONNECT = (ip: string) => `const s = require('net').connect(7000, '${ip}'); s.setTimeout(800, () => { console.log('blocked'); process.exit(0); });
s.on('data', (d) => { console.log(String(d)); process.exit(0); }); s.on('error', () => { console.log('blocked'); process.exit(0); });`;

describe('DeploymentBridge on a namespace node', () => {
  const ns = new Netns();
  let node: string, podA: string, podB: string;
  let emu: RunningEmulator;
  const servers: ResultPromise[] = [];
  const inNode = (...args: string[]) => execa('ip', ['-n', node, ...args]);
  const listen = async (where: string, ip: string) => {
    const server = execa('ip', ['netns', 'exec', where, process.execPath, '-e', LISTEN(ip)], { reject: false });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => { if (String(d).includes('listening')) resolve(); });
      void server.then((r) => reject(new Error(`server on ${ip} in ${where} ended before listening: ${r.stderr}`)));
    });
  };
  const connect = async (from: string, ip: string) => String((await execa('ip', ['netns', 'exec', from, process.execPath, '-e', CONNECT(ip)])).stdout).trim();
  const checked = async (over: Record<string, unknown>) => {
    const r = await m.check({}, { name: 'vmbr10', node: 'pve', cidr: '10.50.0.1/24', ...over });
    expect(r.failures).toBeUndefined();
    return r.inputs as DeploymentBridgeInputs;
  };
  /** What PVE does when a pod starts on the bridge: a new veth<vmid>i0 enslaved to it. */
  const plugPod = async (pod: string, vmid: number, ip: string) => {
    await execa('ip', ['-n', node, 'link', 'del', `veth${vmid}i0`], { reject: false });
    await execa('ip', ['link', 'add', `veth${vmid}i0`, 'netns', node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
    await inNode('link', 'set', `veth${vmid}i0`, 'master', 'vmbr10', 'up');
    await execa('ip', ['-n', pod, 'addr', 'replace', `${ip}/24`, 'dev', 'eth0']);
    await execa('ip', ['-n', pod, 'link', 'set', 'eth0', 'up']);
  };

  beforeAll(async () => {
    node = await ns.add('pve');
    podA = await ns.add('podA');
    podB = await ns.add('podB');
    emu = await startEmulator({
      nodes: 1, httpPort: false, taskDurationMs: 10,
      hostBackend: {
        // The emulator's ifreload: bridges appear and disappear in the node's namespace.
        async applyNetwork(_n, before, after) {
          const names = (l: ReadonlyArray<Record<string, unknown>>) => new Set(l.filter((i) => i.type === 'bridge' && /^vmbr[1-9]\d+$/.test(String(i.iface))).map((i) => String(i.iface)));
          for (const b of names(after)) if (!names(before).has(b)) {
            const i = after.find((x) => x.iface === b)!;
            await inNode('link', 'add', b, 'type', 'bridge');
            if (i.cidr) await inNode('addr', 'add', String(i.cidr), 'dev', b);
            await inNode('link', 'set', b, 'up');
          }
          for (const b of names(before)) if (!names(after).has(b)) await inNode('link', 'del', b);
        },
      },
    });
    setStackConfig({ 'proxmox-pods:endpoint': emu.url, 'proxmox-pods:apiToken': emu.token, 'proxmox-pods:caCert': emu.caCertPem, 'proxmox-pods:hosts': JSON.stringify({ pve: { netns: node } }) });
  });
  afterAll(async () => {
    for (const s of servers) s.kill('SIGKILL');
    setStackConfig({});
    await emu?.close();
    await ns.cleanup();
  });

  test('VLAN filtering: a clear error where the kernel lacks it, and the opt-in downgrade (the plan for kernels that have it: test/host/bridge.test.ts)', async () => {
    // This kernel: no vlan_filtering in sysfs. create fails and leaves nothing in PVE or on the host.
    const err = await m.create(await checked({ name: 'vmbr11', vlanAware: true })).catch((e) => e);
    expect(err).toBeInstanceOf(CapabilityError);
    expect(err.message).toMatch(/bridge VLAN filtering \(vlanAware\) is not available.*vlanFallback: "downgrade"/);
    expect(emu.state.networks('pve').map((i) => i.iface)).not.toContain('vmbr11');
    expect((await execa('ip', ['-n', node, 'link', 'show', 'vmbr11'], { reject: false })).exitCode).not.toBe(0);
    const down = await m.create(await checked({ name: 'vmbr11', vlanAware: true, vlanFallback: 'downgrade' }));
    expect(down.outs.applied.vlanFiltering).toBe(false);
    expect(down.outs.warnings[0]).toMatch(/no bridge VLAN filtering/);
    await m.delete(down.id, down.outs);
  });

  test('pods on an isolating bridge reach the gateway but not each other, also after a restart recreates a veth', async () => {
    const { id, outs } = await m.create(await checked({}));
    expect(String((await execa('ip', ['netns', 'exec', node, 'cat', '/sys/class/net/vmbr10/bridge/multicast_snooping'])).stdout).trim()).toBe('1');
    await plugPod(podA, 101, '10.50.0.11');
    await plugPod(podB, 102, '10.50.0.12');
    await reapplyPortIsolation(pveClient(), 'pve', 'vmbr10'); // what the Pod does after each start
    // Listening before any probe, so that 'blocked' below means isolated, not "not started yet" (a fixed pause was
    // too short on a loaded machine).
    await Promise.all([listen(podB, '10.50.0.12'), listen(node, '10.50.0.1')]);
    expect(await connect(podA, '10.50.0.1')).toBe('ok');
    expect(await connect(podA, '10.50.0.12')).toBe('blocked');

    // Pod A restarts: PVE recreates its veth without the flag. Refresh sees the open port as drift.
    await plugPod(podA, 101, '10.50.0.11');
    expect(await connect(podA, '10.50.0.12')).toBe('ok');
    const read = (await m.read!(id, outs))!;
    expect(read.inputs?.isolatePorts).toBe(false);
    await reapplyPortIsolation(pveClient(), 'pve', 'vmbr10');
    expect(await connect(podA, '10.50.0.12')).toBe('blocked');
    expect(await connect(podA, '10.50.0.1')).toBe('ok');

    // Deleting a bridge that pods still use fails and names them.
    const { upid, vmid } = await pveClient().createContainer('pve', { ostemplate: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', rootfs: 'local-zfs:1', hostname: 'user-pod', net0: 'name=eth0,bridge=vmbr10,ip=dhcp' });
    await pveClient().waitTask('pve', upid);
    await expect(m.delete(id, outs)).rejects.toThrow(new RegExp(`vmbr10 on pve is still used by CT ${vmid} \\(user-pod\\).*port veth101i0`));
    await pveClient().destroyContainer('pve', vmid, { purge: true });
    await inNode('link', 'del', 'veth101i0');
    await inNode('link', 'del', 'veth102i0');
    await m.delete(id, outs);
    await m.delete(id, outs); // idempotent
    expect((await execa('ip', ['-n', node, 'link', 'show', 'vmbr10'], { reject: false })).exitCode).not.toBe(0);
    expect(emu.state.networks('pve').map((i) => i.iface)).not.toContain('vmbr10');
  });

  test('the bridge records its owner in its PVE comments; another stack cannot take, change or delete it', async () => {
    const dev = { project: 'shop', stack: 'dev', resource: 'net' };
    const staging = { project: 'shop', stack: 'staging', resource: 'net' };
    const pve = pveClient();
    const comments = async () => (await pve.networks('pve')).interfaces.find((i) => i.iface === 'vmbr20')?.comments;
    const mine = await checked({ name: 'vmbr20', cidr: '10.60.0.1/24', isolatePorts: false, owner: dev });
    const { id, outs } = await m.create(mine);
    expect(await comments()).toBe('proxmox-pods DeploymentBridge owner=shop/dev/DeploymentBridge/net');
    // The answer to the create was lost: the retry finds its own bridge and converges it.
    await m.create(mine);
    const theirs = await checked({ name: 'vmbr20', cidr: '10.60.0.1/24', isolatePorts: false, owner: staging });
    await expect(m.create(theirs)).rejects.toThrow(/bridge vmbr20 on pve is owned by DeploymentBridge "net" of stack shop\/dev, not by DeploymentBridge "net" of stack shop\/staging/);
    expect(await m.read!(id, { ...outs, owner: staging })).toBeUndefined();
    // Its delete leaves the bridge alone and says so (a warning), and the bridge is still the owner's.
    const { warnings } = await withOperation('DeploymentBridge net', () => m.delete(id, { ...outs, owner: staging }));
    expect(warnings.join('\n')).toMatch(/bridge vmbr20 on pve is owned by DeploymentBridge "net" of stack shop\/dev.*left alone/);
    expect(await comments()).toBe('proxmox-pods DeploymentBridge owner=shop/dev/DeploymentBridge/net');
    await m.delete(id, outs);
    expect(await comments()).toBeUndefined();
  });

  test('a bridge made before owner records is adopted with its owner written; a foreign bridge is refused', async () => {
    const legacy = await checked({ name: 'vmbr21', cidr: '10.61.0.1/24', isolatePorts: false });
    const { id, outs } = await m.create(legacy);
    expect((await pveClient().networks('pve')).interfaces.find((i) => i.iface === 'vmbr21')?.comments).toBe('proxmox-pods DeploymentBridge');
    const news = await checked({ name: 'vmbr21', cidr: '10.61.0.1/24', isolatePorts: false, owner: { project: 'shop', stack: 'dev', resource: 'legacy' } });
    expect(m.diff(id, outs, news)).toMatchObject({ changes: true, replaces: [] });
    const { outs: updated } = await m.update!(id, outs, news);
    expect((await pveClient().networks('pve')).interfaces.find((i) => i.iface === 'vmbr21')?.comments).toBe('proxmox-pods DeploymentBridge owner=shop/dev/DeploymentBridge/legacy');
    await m.delete(id, updated);
    await pveClient().createNetwork('pve', { iface: 'vmbr22', type: 'bridge', autostart: 1 });
    await pveClient().applyNetwork('pve');
    await expect(m.create(await checked({ name: 'vmbr22', owner: { project: 'shop', stack: 'dev', resource: 'x' } }))).rejects.toThrow(/bridge vmbr22 on pve is not managed by proxmox-pods/);
    await pveClient().deleteNetwork('pve', 'vmbr22');
    await pveClient().applyNetwork('pve');
  });

  test('bad input names the field', async () => {
    const r = await m.check({}, { name: 'br0', cidr: '10.0.0.1', mtu: 100 });
    expect((r.failures ?? []).map((f) => f.property).sort()).toEqual(['cidr', 'mtu', 'name']);
  });
});
