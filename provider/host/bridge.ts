// Security settings of a deployment bridge on the node's host: multicast snooping, STP, MTU, VLAN filtering and
// isolation of pod ports (isolated ports reach the uplink/gateway but not each other). PVE creates the bridge; this
// module secures it. The plan is pure; apply runs it. VLAN filtering is never assumed: without kernel support the
// plan fails, unless the settings opt into running without it (`vlanFiltering: 'if-supported'`).
import { z } from 'zod';
import { InputError, ProxmoxPodsError } from '../errors';
import { requireCapability, detectCapabilities, type HostCapabilities } from './capabilities';
import { HostCommandError, type Executor } from './executor';
import { assertIfaceName } from './names';

export const bridgeSecuritySchema = z
  .object({
    multicastSnooping: z.boolean().default(true),
    stp: z.boolean().default(false),
    /** PVE accepts 1280–65520 for a bridge. */
    mtu: z.number().int().min(1280, { message: 'must be 1280–65520' }).max(65520, { message: 'must be 1280–65520' }).optional(),
    /** true: required (fails where the kernel lacks it); 'if-supported': the documented downgrade. */
    vlanFiltering: z.union([z.boolean(), z.literal('if-supported')]).default(false),
    isolatePorts: z.boolean().default(false),
  })
  .strict();
export type BridgeSecuritySettings = z.infer<typeof bridgeSecuritySchema>;

/** Settings → typed value, or InputError naming the setting (`settings.mtu`). */
export function parseBridgeSecurity(input: unknown): BridgeSecuritySettings {
  const r = bridgeSecuritySchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new InputError(['settings', ...issue.path].join('.'), issue.message);
}

export interface Command {
  cmd: string;
  args: string[];
}

/** Pod ports PVE puts on a bridge: a container's veth (`veth<vmid>i<n>`), or its firewall bridge link (`fwpr<vmid>p<n>`). */
const POD_PORT = /^(?:veth(\d+)i\d+|fwpr(\d+)p\d+)$/;
export const isPodPort = (port: string): boolean => POD_PORT.test(port);
/** The vmid a pod port belongs to, or undefined for uplinks and other ports. */
export function podPortVmid(port: string): number | undefined {
  const m = POD_PORT.exec(port);
  return m ? Number(m[1] ?? m[2]) : undefined;
}

export class BridgeNotFoundError extends ProxmoxPodsError {
  constructor(node: string, bridge: string) {
    super(`node ${node}: bridge ${bridge} does not exist on the host; check that the PVE network change was applied (ifreload)`, 'E_BRIDGE_NOT_FOUND');
  }
}

/** Whether VLAN filtering ends up on, and the warning when it was downgraded. Pure; throws when it is required but missing. */
export function vlanOutcome(bridge: string, s: BridgeSecuritySettings, caps: HostCapabilities): { vlanFiltering: boolean; warnings: string[] } {
  if (s.vlanFiltering === false) return { vlanFiltering: false, warnings: [] };
  if (caps.features.bridgeVlanFiltering) return { vlanFiltering: true, warnings: [] };
  if (s.vlanFiltering === 'if-supported') {
    return { vlanFiltering: false, warnings: [`the kernel on ${caps.node} has no bridge VLAN filtering; ${bridge} runs without it as its settings allow, so VLAN tags on pod ports are not enforced`] };
  }
  requireCapability(caps, 'bridgeVlanFiltering');
  return { vlanFiltering: false, warnings: [] }; // unreachable: requireCapability threw
}

/**
 * The commands that give `bridge` these settings, and isolation on/off for the pod ports among `ports` (the ports
 * attached now). Pure. Refuses what the node cannot do (CapabilityError) unless the settings allow a downgrade.
 */
export function planBridgeSecurity(bridge: string, settings: z.input<typeof bridgeSecuritySchema>, caps: HostCapabilities, ports: readonly string[] = []): Command[] {
  assertIfaceName('bridge', bridge);
  ports.forEach((p, i) => assertIfaceName(`ports[${i}]`, p));
  const s = parseBridgeSecurity(settings);
  requireCapability(caps, 'ip');
  const vlan = vlanOutcome(bridge, s, caps);
  const type = ['link', 'set', 'dev', bridge, 'type', 'bridge', 'stp_state', s.stp ? '1' : '0'];
  if (caps.features.multicastSnooping) type.push('mcast_snooping', s.multicastSnooping ? '1' : '0');
  else if (s.multicastSnooping) requireCapability(caps, 'multicastSnooping');
  // Without kernel support there is nothing to switch off either: the attribute would only make ip fail.
  if (caps.features.bridgeVlanFiltering) type.push('vlan_filtering', vlan.vlanFiltering ? '1' : '0');
  const commands: Command[] = [{ cmd: 'ip', args: type }];
  if (s.mtu !== undefined) commands.push({ cmd: 'ip', args: ['link', 'set', 'dev', bridge, 'mtu', String(s.mtu)] });
  const podPorts = ports.filter(isPodPort);
  if (s.isolatePorts) requireCapability(caps, 'portIsolation');
  if (caps.features.portIsolation) {
    for (const p of podPorts) commands.push({ cmd: 'bridge', args: ['link', 'set', 'dev', p, 'isolated', s.isolatePorts ? 'on' : 'off'] });
  }
  return commands;
}

export interface BridgePort {
  name: string;
  isolated: boolean;
}

const bridgeLinkSchema = z.array(z.object({ ifname: z.string(), master: z.string().optional(), isolated: z.boolean().optional() }).loose());

/** Ports attached to the bridge with their isolation flag (`bridge -j -d link show master <bridge>`). */
export async function bridgePortStates(exec: Executor, bridge: string): Promise<BridgePort[]> {
  assertIfaceName('bridge', bridge);
  // A bridge without ports (or none of that name) prints [] and exits 0; a failure is an error.
  const r = await exec.run('bridge', ['-j', '-d', 'link', 'show', 'master', bridge]);
  if (!r.stdout.trim()) return [];
  return bridgeLinkSchema
    .parse(JSON.parse(r.stdout))
    .filter((l) => l.master === undefined || l.master === bridge)
    .map((l) => ({ name: l.ifname, isolated: l.isolated === true }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Names of the ports attached to the bridge (sysfs `brif/`); empty when the bridge does not exist. */
export async function bridgePorts(exec: Executor, bridge: string): Promise<string[]> {
  assertIfaceName('bridge', bridge);
  const args = ['-1', '--', `/sys/class/net/${bridge}/brif`];
  const r = await exec.run('ls', args, { allowFailure: true });
  if (r.exitCode === 0) return r.stdout.split('\n').filter(Boolean).sort();
  if (/No such file or directory/.test(r.stderr)) return []; // no such bridge: no ports
  throw new HostCommandError(exec.node, 'ls', args, r);
}

/**
 * Sets isolation of every pod port on the bridge (on by default). Idempotent and cheap to repeat: run it after
 * anything that recreates a pod's veth (a pod start), since the flag belongs to the port and a new veth starts
 * without it. Returns the pod ports now on the bridge.
 */
export async function isolatePorts(exec: Executor, bridge: string, isolate = true): Promise<string[]> {
  const pods = (await bridgePortStates(exec, bridge)).filter((p) => isPodPort(p.name));
  for (const p of pods) if (p.isolated !== isolate) await exec.run('bridge', ['link', 'set', 'dev', p.name, 'isolated', isolate ? 'on' : 'off']);
  return pods.map((p) => p.name);
}

export interface BridgeSettings {
  stp: boolean;
  multicastSnooping: boolean;
  vlanFiltering: boolean;
  mtu: number;
  ports: BridgePort[];
  isolatedPorts: string[];
  openPodPorts: string[];
}

const SYSFS_FILES = ['mtu', 'bridge/stp_state', 'bridge/multicast_snooping', 'bridge/vlan_filtering'] as const;

/** What the host has now (refresh/drift), from sysfs in one round trip; undefined when the bridge does not exist. */
export async function readBridgeSettings(exec: Executor, bridge: string): Promise<BridgeSettings | undefined> {
  assertIfaceName('bridge', bridge);
  const base = `/sys/class/net/${bridge}/`;
  // grep -H prints "<file>:<value>" per file and skips missing ones (vlan_filtering is absent without kernel support).
  const args = ['-s', '-H', '', '--', ...SYSFS_FILES.map((f) => base + f)];
  const r = await exec.run('grep', args, { allowFailure: true });
  // grep answers 0 (read), 1 (read, all empty) or 2 (a file missing, silenced by -s: an absent bridge, or a kernel
  // without vlan_filtering). Anything else is the command failing (ssh 255, a timeout, no grep), not an answer about
  // the bridge: reading it as "no bridge" would let a refresh drop a bridge that is there.
  if (r.exitCode > 2) throw new HostCommandError(exec.node, 'grep', args, r);
  const values = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0 && line.startsWith(base)) values.set(line.slice(base.length, i), line.slice(i + 1).trim());
  }
  if (!values.has('mtu') || !values.has('bridge/stp_state')) return undefined;
  const ports = await bridgePortStates(exec, bridge);
  const pod = ports.filter((p) => isPodPort(p.name));
  return {
    stp: values.get('bridge/stp_state') !== '0',
    multicastSnooping: values.get('bridge/multicast_snooping') === '1',
    vlanFiltering: values.get('bridge/vlan_filtering') === '1',
    mtu: Number(values.get('mtu')),
    ports,
    isolatedPorts: pod.filter((p) => p.isolated).map((p) => p.name),
    openPodPorts: pod.filter((p) => !p.isolated).map((p) => p.name),
  };
}

export interface AppliedBridgeSecurity {
  applied: { vlanFiltering: boolean; multicastSnooping: boolean; stp: boolean; isolatePorts: boolean; mtu?: number };
  warnings: string[];
  commands: Command[];
}

/** Plans against the bridge's current ports and runs the plan; the bridge must exist (PVE creates it). */
export async function applyBridgeSecurity(exec: Executor, bridge: string, settings: z.input<typeof bridgeSecuritySchema>, caps?: HostCapabilities): Promise<AppliedBridgeSecurity> {
  assertIfaceName('bridge', bridge);
  const s = parseBridgeSecurity(settings);
  const c = caps ?? (await detectCapabilities(exec));
  if (!(await readBridgeSettings(exec, bridge))) throw new BridgeNotFoundError(exec.node, bridge);
  const commands = planBridgeSecurity(bridge, s, c, await bridgePorts(exec, bridge));
  for (const cmd of commands) await exec.run(cmd.cmd, cmd.args);
  const { vlanFiltering, warnings } = vlanOutcome(bridge, s, c);
  return { applied: { vlanFiltering, multicastSnooping: s.multicastSnooping, stp: s.stp, isolatePorts: s.isolatePorts, ...(s.mtu !== undefined ? { mtu: s.mtu } : {}) }, warnings, commands };
}
