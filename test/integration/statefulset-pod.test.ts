// StatefulSetPod against a two-node emulator: stable identity across replacement, spreading, DNS name.
import { startEmulator, type RunningEmulator } from '../../emulator';
import { statefulSetPodModule } from '../../provider/resources/statefulset-pod';
import { setStackConfig } from '../../provider/resources/common/connection';
import { addressFor, stableMac } from '../../provider/resources/statefulset-pod/identity';
import type { StatefulSetPodInputs } from '../../provider/resources/statefulset-pod/schema';

const T = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

describe('StatefulSetPod', () => {
  let emu: RunningEmulator;
  const m = statefulSetPodModule;
  const checked = async (over: Record<string, unknown>, olds: Record<string, unknown> = {}) => {
    const r = await m.check(olds, { set: 'web', image: T, service: 'web', rootfs: { storage: 'local-zfs', sizeGiB: 1 }, network: { cidr: '10.30.0.0/24', gateway: '10.30.0.1' }, ...over });
    expect(r.failures).toBeUndefined();
    return r.inputs as StatefulSetPodInputs;
  };

  beforeAll(async () => {
    emu = await startEmulator({ nodes: 2, httpPort: false, taskDurationMs: 10 });
    setStackConfig({ 'proxmox-pods:endpoint': emu.url, 'proxmox-pods:apiToken': emu.token, 'proxmox-pods:caCert': emu.caCertPem });
  });
  afterAll(async () => {
    setStackConfig({});
    await emu?.close();
  });

  test('identity derivation is pure and stable', () => {
    expect(stableMac({ namespace: 'default', set: 'web', ordinal: 1 })).toBe(stableMac({ namespace: 'default', set: 'web', ordinal: 1 }));
    expect(stableMac({ namespace: 'default', set: 'web', ordinal: 1 })).not.toBe(stableMac({ namespace: 'default', set: 'web', ordinal: 2 }));
    expect(stableMac({ namespace: 'default', set: 'web', ordinal: 1 })).toMatch(/^02(:[0-9A-F]{2}){5}$/);
    expect(addressFor('10.30.0.0/24', 10, 3)).toEqual({ ip: '10.30.0.13', prefix: 24 });
    expect(() => addressFor('10.30.0.0/29', 5, 3)).toThrow(/network\.cidr: ordinal 3 with offset 5 falls outside/);
  });

  test('bad identity input is reported by field', async () => {
    const r = await m.check({}, { set: 'Web_1', ordinal: -1, image: T, network: { cidr: '10.0.0.0/30', offset: 10 } });
    const fields = (r.failures ?? []).map((f) => f.property).sort();
    expect(fields).toEqual(['ordinal', 'set']);
    const r2 = await m.check({}, { set: 'web', ordinal: 5, image: T, network: { cidr: '10.0.0.0/30', offset: 10 } });
    expect(r2.failures).toEqual([expect.objectContaining({ property: 'network.cidr' })]);
  });

  test('a member with an on-link gateway outside its cidr: made as PVE takes it, and its refresh shows no change', async () => {
    const inputs = await checked({ ordinal: 7, network: { cidr: '10.30.0.0/24', gateway: '10.31.0.1', gatewayOnLink: true } });
    const made = await m.create(inputs);
    const ct = emu.state.containers().find((c) => String(c.config.net0).includes('ip=10.30.0.17/24'))!;
    expect(String(ct.config.net0)).toMatch(/(^|,)gw=10\.31\.0\.1(,|$)/);
    expect(made.outs.network).toMatchObject({ gateway: '10.31.0.1', gatewayOnLink: true });
    const read = (await m.read!(made.id, made.outs))!;
    expect(read.inputs).toBeUndefined();
    expect(m.diff(made.id, read.props, inputs).changes).toBe(false);
    await m.delete(made.id, made.outs);
  });

  test('members spread across nodes and keep their identity through a replacement', async () => {
    const a0 = await checked({ ordinal: 0 });
    const a1 = await checked({ ordinal: 1 });
    const p0 = await m.create(a0);
    const p1 = await m.create(a1);
    expect(p0.outs).toMatchObject({ podName: 'web-0', hostname: 'web-0', ip: '10.30.0.10', fqdn: 'web-0.web.default.svc.cluster.local', node: 'pve1' });
    expect(p1.outs).toMatchObject({ podName: 'web-1', ip: '10.30.0.11', node: 'pve2' });
    expect(p0.outs.mac).toBe(stableMac({ namespace: 'default', set: 'web', ordinal: 0 }));

    // A new image replaces the member: delete first (same hostname/IP/MAC), then the successor has the same identity.
    const next = await checked({ ordinal: 0, image: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', cores: 2, unprivileged: false }, a0);
    const d = m.diff(p0.id, p0.outs, next);
    expect(d.replaces).toEqual(['unprivileged']);
    expect(d.deleteBeforeReplace).toBe(true);
    await m.delete(p0.id, p0.outs);
    const p0b = await m.create(next);
    // (PVE hands out the lowest free vmid, so the successor may reuse the id; it is a new container all the same.)
    expect(emu.state.containers().find((c) => String(c.vmid) === p0b.id)!.config.unprivileged).toBe(0);
    expect(p0b.outs).toMatchObject({ ip: p0.outs.ip, mac: p0.outs.mac, hostname: 'web-0', node: 'pve1' });

    // Identity changes always replace.
    expect(m.diff(p1.id, p1.outs, await checked({ ordinal: 2 })).replaces).toEqual(['ordinal']);
    // The DNS name follows the service without touching the container.
    const renamed = m.diff(p1.id, p1.outs, await checked({ ordinal: 1, service: 'www' }));
    expect(renamed).toMatchObject({ changes: true, replaces: [] });

    const read = (await m.read!(p1.id, p1.outs))!;
    expect(read.props).toMatchObject({ set: 'web', ordinal: 1, memory: 512 });
    expect(read.inputs).toBeUndefined();
    await m.delete(p0b.id, p0b.outs);
    await m.delete(p1.id, p1.outs);
    expect(emu.state.containers()).toEqual([]);
  });
});
