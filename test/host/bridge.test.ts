// Bridge security: the pure plan (including the VLAN plan this kernel cannot apply), and apply/read/isolation on a
// real bridge in a namespace that stands for the node (PVE would create the bridge; here the test does).
import { execa } from 'execa';
import { CapabilityError, InputError } from '../../provider/errors';
import {
  applyBridgeSecurity, BridgeNotFoundError, bridgePorts, isolatePorts, isPodPort, planBridgeSecurity, podPortVmid, readBridgeSettings, vlanOutcome,
} from '../../provider/host/bridge';
import { detectCapabilities, type HostCapabilities } from '../../provider/host/capabilities';
import { HostCommandError, LocalExecutor, type Executor } from '../../provider/host/executor';
import { RecordingExecutor } from './support/recording';
import { requireTools } from './support/tools';

function caps(features: Partial<HostCapabilities['features']> = {}): HostCapabilities {
  return {
    node: 'pve1',
    tools: { ip: true, bridge: true, nft: true, dnsmasq: true, zfs: true, zpool: true, tar: true, zstd: true, unshare: true },
    features: { bridgeVlanFiltering: true, multicastSnooping: true, portIsolation: true, nftablesNat: true, ...features },
  };
}
const noVlan = caps({ bridgeVlanFiltering: false });

describe('planBridgeSecurity (pure)', () => {
  test('a kernel with everything: one ip command with every attribute, MTU, isolation of pod ports only', () => {
    const plan = planBridgeSecurity('vmbr10', { stp: true, multicastSnooping: true, vlanFiltering: true, mtu: 9000, isolatePorts: true }, caps(), ['eth0', 'veth100i0', 'fwpr101p0', 'tap102i0']);
    expect(plan).toEqual([
      { cmd: 'ip', args: ['link', 'set', 'dev', 'vmbr10', 'type', 'bridge', 'stp_state', '1', 'mcast_snooping', '1', 'vlan_filtering', '1'] },
      { cmd: 'ip', args: ['link', 'set', 'dev', 'vmbr10', 'mtu', '9000'] },
      { cmd: 'bridge', args: ['link', 'set', 'dev', 'veth100i0', 'isolated', 'on'] },
      { cmd: 'bridge', args: ['link', 'set', 'dev', 'fwpr101p0', 'isolated', 'on'] },
    ]);
  });

  test('VLAN filtering required on a kernel without it: CapabilityError with the fix and the downgrade', () => {
    const err = (() => { try { planBridgeSecurity('vmbr10', { vlanFiltering: true }, noVlan); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(CapabilityError);
    expect((err as Error).message).toMatch(/^node pve1: bridge VLAN filtering is not available; .*CONFIG_BRIDGE_VLAN_FILTERING.*vlanFiltering: "if-supported"/);
  });

  test('the documented downgrade: no vlan_filtering attribute, a warning, VLAN off', () => {
    const plan = planBridgeSecurity('vmbr10', { vlanFiltering: 'if-supported' }, noVlan);
    expect(plan).toEqual([{ cmd: 'ip', args: ['link', 'set', 'dev', 'vmbr10', 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '1'] }]);
    const out = vlanOutcome('vmbr10', { vlanFiltering: 'if-supported', stp: false, multicastSnooping: true, isolatePorts: false }, noVlan);
    expect(out.vlanFiltering).toBe(false);
    expect(out.warnings[0]).toMatch(/pve1 has no bridge VLAN filtering; vmbr10 runs without it/);
    // Where the kernel has it, if-supported means on.
    expect(planBridgeSecurity('vmbr10', { vlanFiltering: 'if-supported' }, caps())[0]!.args).toContain('vlan_filtering');
    expect(vlanOutcome('vmbr10', { vlanFiltering: 'if-supported', stp: false, multicastSnooping: true, isolatePorts: false }, caps())).toEqual({ vlanFiltering: true, warnings: [] });
  });

  test('VLAN off where supported is set explicitly (drift back to off); isolation off opens pod ports', () => {
    const plan = planBridgeSecurity('vmbr10', { vlanFiltering: false, multicastSnooping: false, isolatePorts: false }, caps(), ['veth100i0']);
    expect(plan[0]!.args.slice(-4)).toEqual(['mcast_snooping', '0', 'vlan_filtering', '0']);
    expect(plan[1]).toEqual({ cmd: 'bridge', args: ['link', 'set', 'dev', 'veth100i0', 'isolated', 'off'] });
  });

  test('missing snooping or isolation support fails only when asked for', () => {
    expect(() => planBridgeSecurity('vmbr10', { multicastSnooping: true }, caps({ multicastSnooping: false }))).toThrow(/bridge multicast snooping is not available/);
    expect(planBridgeSecurity('vmbr10', { multicastSnooping: false }, caps({ multicastSnooping: false }))[0]!.args).not.toContain('mcast_snooping');
    expect(() => planBridgeSecurity('vmbr10', { isolatePorts: true }, caps({ portIsolation: false }), ['veth100i0'])).toThrow(/bridge port isolation is not available/);
    expect(planBridgeSecurity('vmbr10', { isolatePorts: false }, caps({ portIsolation: false }), ['veth100i0'])).toHaveLength(1);
  });

  test('bad names and settings are InputErrors naming the field', () => {
    expect(() => planBridgeSecurity('vmbr0;reboot', {}, caps())).toThrow(InputError);
    expect(() => planBridgeSecurity('-vmbr0', {}, caps())).toThrow(/^bridge: /);
    expect(() => planBridgeSecurity('vmbr0', {}, caps(), ['ok0', 'x'.repeat(16)])).toThrow(/^ports\[1\]: /);
    expect(() => planBridgeSecurity('vmbr0', { mtu: 100 }, caps())).toThrow(InputError);
    expect(() => planBridgeSecurity('vmbr0', { mtu: 100 }, caps())).toThrow(/^settings\.mtu: must be 1280–65520/);
    expect(() => planBridgeSecurity('vmbr0', { vlanFiltering: 'yes' } as never, caps())).toThrow(/^settings\.vlanFiltering: /);
  });

  test('pod ports', () => {
    expect(['veth100i0', 'fwpr7p1', 'eth0', 'tap100i0', 'veth100', 'fwbr100i0'].filter(isPodPort)).toEqual(['veth100i0', 'fwpr7p1']);
    expect([podPortVmid('veth123i4'), podPortVmid('fwpr77p0'), podPortVmid('eth0')]).toEqual([123, 77, undefined]);
  });
});

describe('bridge security on a real bridge', () => {
  const node = `pp-br-${process.pid}`;
  const pods = [`pp-brp1-${process.pid}`, `pp-brp2-${process.pid}`];
  const exec = new LocalExecutor('pve1', { netns: node });
  const ipn = (...args: string[]) => execa('ip', ['-n', node, ...args]);

  async function addPodPort(port: string, podNs: string): Promise<void> {
    await execa('ip', ['link', 'add', port, 'netns', node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs]);
    await ipn('link', 'set', port, 'master', 'vmbr10', 'up');
  }
  async function isolatedFlags(): Promise<Record<string, boolean>> {
    const r = await execa('ip', ['netns', 'exec', node, 'bridge', '-j', '-d', 'link', 'show']);
    return Object.fromEntries((JSON.parse(String(r.stdout)) as Array<{ ifname: string; isolated?: boolean }>).map((l) => [l.ifname, l.isolated === true]));
  }

  beforeAll(async () => {
    await requireTools('ip', 'bridge', 'unshare');
    for (const ns of [node, ...pods]) await execa('ip', ['netns', 'add', ns]);
    await ipn('link', 'add', 'vmbr10', 'type', 'bridge');
    await ipn('link', 'set', 'vmbr10', 'up');
    await ipn('link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
    await ipn('link', 'set', 'uplink0', 'master', 'vmbr10', 'up');
    await addPodPort('veth100i0', pods[0]!);
    await addPodPort('veth101i0', pods[1]!);
  });
  afterAll(async () => {
    for (const ns of [node, ...pods]) await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  test('lists ports, applies settings, reads them back from sysfs', async () => {
    expect(await bridgePorts(exec, 'vmbr10')).toEqual(['uplink0', 'veth100i0', 'veth101i0']);
    const before = await readBridgeSettings(exec, 'vmbr10');
    expect(before).toMatchObject({ stp: false, multicastSnooping: true, mtu: 1500, openPodPorts: ['veth100i0', 'veth101i0'], isolatedPorts: [] });

    const r = await applyBridgeSecurity(exec, 'vmbr10', { stp: true, multicastSnooping: false, mtu: 1400, isolatePorts: true, vlanFiltering: 'if-supported' });
    const live = await readBridgeSettings(exec, 'vmbr10');
    expect(live).toMatchObject({ stp: true, multicastSnooping: false, mtu: 1400, isolatedPorts: ['veth100i0', 'veth101i0'], openPodPorts: [] });
    const sysfs = (f: string) => execa('ip', ['netns', 'exec', node, 'cat', `/sys/class/net/vmbr10/${f}`]).then((x) => String(x.stdout).trim());
    expect(await sysfs('bridge/stp_state')).not.toBe('0');
    expect(await sysfs('bridge/multicast_snooping')).toBe('0');
    expect(await sysfs('mtu')).toBe('1400');
    expect(await isolatedFlags()).toMatchObject({ uplink0: false, veth100i0: true, veth101i0: true });

    const caps = await detectCapabilities(exec);
    expect(r.applied.vlanFiltering).toBe(caps.features.bridgeVlanFiltering);
    expect(live!.vlanFiltering).toBe(caps.features.bridgeVlanFiltering);
    expect(r.warnings.length).toBe(caps.features.bridgeVlanFiltering ? 0 : 1);
  });

  test('required VLAN filtering follows what the kernel can do', async () => {
    const caps = await detectCapabilities(exec);
    const attempt = applyBridgeSecurity(exec, 'vmbr10', { vlanFiltering: true, stp: true, multicastSnooping: false, mtu: 1400, isolatePorts: true });
    if (caps.features.bridgeVlanFiltering) {
      await attempt;
      expect((await readBridgeSettings(exec, 'vmbr10'))!.vlanFiltering).toBe(true);
    } else {
      await expect(attempt).rejects.toThrow(CapabilityError);
      await expect(attempt).rejects.toThrow(/bridge VLAN filtering is not available/);
      // Refused before anything ran: the earlier settings are untouched.
      expect(await readBridgeSettings(exec, 'vmbr10')).toMatchObject({ stp: true, mtu: 1400 });
    }
  });

  test('an absent bridge reads as absent; a command that fails is an error, never "no bridge"', async () => {
    expect(await readBridgeSettings(exec, 'vmbr99')).toBeUndefined();
    // The same read where the node cannot be reached: ssh exits 255 and prints nothing on stdout.
    const unreachable: Executor = { node: 'pve1', run: async () => ({ stdout: '', stderr: 'ssh: connect to host pve1 port 22: Connection refused', exitCode: 255 }) };
    await expect(readBridgeSettings(unreachable, 'vmbr10')).rejects.toThrow(HostCommandError);
    await expect(readBridgeSettings(unreachable, 'vmbr10')).rejects.toThrow(/exit 255\): ssh: connect to host/);
  });

  test('isolation is idempotent and holds again after a pod restart recreates its veth', async () => {
    const rec = new RecordingExecutor(exec);
    expect(await isolatePorts(rec, 'vmbr10')).toEqual(['veth100i0', 'veth101i0']);
    expect(rec.count((c) => c.cmd === 'bridge' && c.args.includes('set'))).toBe(0);

    // A restart: PVE deletes the veth and makes a new one with the same name, not isolated.
    await ipn('link', 'del', 'veth100i0');
    await addPodPort('veth100i0', pods[0]!);
    expect((await isolatedFlags()).veth100i0).toBe(false);
    expect((await readBridgeSettings(exec, 'vmbr10'))!.openPodPorts).toEqual(['veth100i0']);

    await isolatePorts(rec, 'vmbr10');
    expect(rec.count((c) => c.cmd === 'bridge' && c.args.includes('set'))).toBe(1);
    expect(await isolatedFlags()).toMatchObject({ uplink0: false, veth100i0: true, veth101i0: true });

    await isolatePorts(exec, 'vmbr10', false);
    expect(await isolatedFlags()).toMatchObject({ veth100i0: false, veth101i0: false });
  });

  test('a bridge that does not exist', async () => {
    expect(await readBridgeSettings(exec, 'vmbr99')).toBeUndefined();
    expect(await bridgePorts(exec, 'vmbr99')).toEqual([]);
    await expect(applyBridgeSecurity(exec, 'vmbr99', {})).rejects.toBeInstanceOf(BridgeNotFoundError);
    await expect(applyBridgeSecurity(exec, 'vmbr99', {})).rejects.toThrow(/node pve1: bridge vmbr99 does not exist/);
  });
});
