// Security settings of a deployment bridge on the node's host: multicast snooping, STP, MTU, VLAN filtering and
// isolation of pod ports (pods on an isolated bridge reach the uplink/gateway but not each other). The plan is pure;
// apply runs it through the executor. The kernel may lack VLAN filtering: that is detected, never assumed.
import { CapabilityError, InputError } from '../errors';
import type { Executor } from './executor';

export interface BridgeSecurity {
  multicastSnooping: boolean;
  stp: boolean;
  mtu?: number;
  vlanFiltering: boolean;
  /** When VLAN filtering is asked for but the kernel lacks it: fail (default) or continue without it. */
  vlanFallback: 'fail' | 'downgrade';
  isolatePorts: boolean;
}

export interface BridgeCapabilities {
  vlanFiltering: boolean;
  multicastSnooping: boolean;
  portIsolation: boolean;
}

export interface PlannedCommand {
  cmd: string;
  args: string[];
}

const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;

export function assertIface(field: string, name: string): void {
  if (!IFACE.test(name)) throw new InputError(field, `"${name}" is not an interface name`, 'use at most 15 of [A-Za-z0-9_.-]');
}

/** What the kernel's bridge offers, read from sysfs of an existing bridge. */
export async function detectBridgeCapabilities(exec: Executor, bridge: string): Promise<BridgeCapabilities> {
  assertIface('bridge', bridge);
  const r = await exec.run('ls', [`/sys/class/net/${bridge}/bridge`], { allowFailure: true });
  if (r.exitCode !== 0) throw new CapabilityError(exec.node, `bridge ${bridge}`, 'the bridge does not exist on the host; check the PVE network configuration was applied');
  const attrs = new Set(r.stdout.split(/\s+/));
  const link = await exec.run('bridge', ['-V'], { allowFailure: true });
  return { vlanFiltering: attrs.has('vlan_filtering'), multicastSnooping: attrs.has('multicast_snooping'), portIsolation: link.exitCode === 0 };
}

/** The commands that give `bridge` these settings. Pure; refuses what the kernel cannot do unless downgrade was chosen. */
export function planBridgeSecurity(bridge: string, s: BridgeSecurity, caps: BridgeCapabilities, node = 'node'): { commands: PlannedCommand[]; applied: { vlanFiltering: boolean }; warnings: string[] } {
  assertIface('bridge', bridge);
  const warnings: string[] = [];
  const ipArgs = ['link', 'set', 'dev', bridge, 'type', 'bridge', 'stp_state', s.stp ? '1' : '0'];
  if (caps.multicastSnooping) ipArgs.push('mcast_snooping', s.multicastSnooping ? '1' : '0');
  else if (s.multicastSnooping) throw new CapabilityError(node, 'bridge multicast snooping', 'use a kernel with CONFIG_BRIDGE_IGMP_SNOOPING');
  let vlan = false;
  if (s.vlanFiltering) {
    if (caps.vlanFiltering) vlan = true;
    else if (s.vlanFallback === 'downgrade') warnings.push(`the kernel on ${node} has no bridge VLAN filtering; ${bridge} runs without it (vlanFallback: downgrade)`);
    else throw new CapabilityError(node, 'bridge VLAN filtering', 'use a kernel with CONFIG_BRIDGE_VLAN_FILTERING, or set vlanFallback: "downgrade" to run without it');
  }
  if (caps.vlanFiltering) ipArgs.push('vlan_filtering', vlan ? '1' : '0');
  const commands: PlannedCommand[] = [{ cmd: 'ip', args: ipArgs }];
  if (s.mtu !== undefined) commands.push({ cmd: 'ip', args: ['link', 'set', 'dev', bridge, 'mtu', String(s.mtu)] });
  return { commands, applied: { vlanFiltering: vlan }, warnings };
}

export async function bridgePorts(exec: Executor, bridge: string): Promise<string[]> {
  assertIface('bridge', bridge);
  const r = await exec.run('ls', [`/sys/class/net/${bridge}/brif`], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout.split(/\s+/).filter(Boolean).sort() : [];
}

/** Pod ports are PVE's container veths (`veth<vmid>i<n>`); uplinks and everything else stay open. */
export const isPodPort = (port: string) => /^veth\d+i\d+$/.test(port);

/**
 * Sets `isolated on` for every pod port now on the bridge. Idempotent: run it after anything that recreates a pod's
 * veth (a pod start), since the flag belongs to the port and a new veth starts without it.
 */
export async function isolatePorts(exec: Executor, bridge: string, isolate = true): Promise<string[]> {
  const ports = (await bridgePorts(exec, bridge)).filter(isPodPort);
  for (const port of ports) await exec.run('bridge', ['link', 'set', 'dev', port, 'isolated', isolate ? 'on' : 'off']);
  return ports;
}

export async function applyBridgeSecurity(exec: Executor, bridge: string, s: BridgeSecurity): Promise<{ applied: { vlanFiltering: boolean }; warnings: string[] }> {
  const caps = await detectBridgeCapabilities(exec, bridge);
  const plan = planBridgeSecurity(bridge, s, caps, exec.node);
  for (const c of plan.commands) await exec.run(c.cmd, c.args);
  await isolatePorts(exec, bridge, s.isolatePorts);
  return { applied: plan.applied, warnings: plan.warnings };
}

export interface BridgeSettings {
  stp: boolean;
  multicastSnooping: boolean;
  vlanFiltering: boolean;
  mtu: number;
  isolatedPorts: string[];
  openPodPorts: string[];
}

/** What the host has now (refresh/drift). */
export async function readBridgeSettings(exec: Executor, bridge: string): Promise<BridgeSettings | undefined> {
  assertIface('bridge', bridge);
  const read = async (f: string) => (await exec.run('cat', [`/sys/class/net/${bridge}/${f}`], { allowFailure: true })).stdout.trim();
  const mtu = await read('mtu');
  if (!mtu) return undefined;
  const links = await exec.run('bridge', ['-j', '-d', 'link', 'show', 'master', bridge], { allowFailure: true });
  const ports = links.exitCode === 0 && links.stdout.trim() ? (JSON.parse(links.stdout) as Array<{ ifname: string; isolated?: boolean }>) : [];
  const pod = ports.filter((p) => isPodPort(p.ifname));
  return {
    stp: (await read('bridge/stp_state')) !== '0',
    multicastSnooping: (await read('bridge/multicast_snooping')) === '1',
    vlanFiltering: (await read('bridge/vlan_filtering')) === '1',
    mtu: Number(mtu),
    isolatedPorts: pod.filter((p) => p.isolated).map((p) => p.ifname).sort(),
    openPodPorts: pod.filter((p) => !p.isolated).map((p) => p.ifname).sort(),
  };
}
