// The earlier bridge API (boolean vlanFiltering + vlanFallback, sysfs-only capability detection), kept for existing
// callers as an adapter over bridge.ts and capabilities.ts. New code should use bridge.ts directly.
import { CapabilityError } from '../errors';
import * as bridge from './bridge';
import { detectCapabilities, type HostCapabilities } from './capabilities';
import type { Executor } from './executor';
import { assertIfaceName } from './names';

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

export type PlannedCommand = bridge.Command;
export type BridgeSettings = bridge.BridgeSettings;
export const bridgePorts = bridge.bridgePorts;
export const isolatePorts = bridge.isolatePorts;
export const readBridgeSettings = bridge.readBridgeSettings;
/** Container veths only (callers derive the vmid from `veth<vmid>`); bridge.ts also knows firewall ports. */
export const isPodPort = (port: string) => /^veth\d+i\d+$/.test(port);

export function assertIface(field: string, name: string): void {
  assertIfaceName(field, name);
}

function toSettings(s: BridgeSecurity): bridge.BridgeSecuritySettings {
  return { multicastSnooping: s.multicastSnooping, stp: s.stp, ...(s.mtu !== undefined ? { mtu: s.mtu } : {}), vlanFiltering: s.vlanFiltering ? (s.vlanFallback === 'downgrade' ? 'if-supported' : true) : false, isolatePorts: s.isolatePorts };
}

function toHostCaps(node: string, c: BridgeCapabilities): HostCapabilities {
  return {
    node,
    tools: { ip: true, bridge: true, nft: false, dnsmasq: false, zfs: false, zpool: false, tar: false, zstd: false, unshare: false },
    features: { bridgeVlanFiltering: c.vlanFiltering, multicastSnooping: c.multicastSnooping, portIsolation: c.portIsolation, nftablesNat: false },
  };
}

function vlanGuard(node: string, s: BridgeSecurity, c: BridgeCapabilities): void {
  if (s.vlanFiltering && !c.vlanFiltering && s.vlanFallback !== 'downgrade') {
    throw new CapabilityError(node, 'bridge VLAN filtering', 'use a kernel with CONFIG_BRIDGE_VLAN_FILTERING, or set vlanFallback: "downgrade" to run without it');
  }
}

export async function detectBridgeCapabilities(exec: Executor, name: string): Promise<BridgeCapabilities> {
  assertIfaceName('bridge', name);
  if (!(await bridge.readBridgeSettings(exec, name))) throw new CapabilityError(exec.node, `bridge ${name}`, 'the bridge does not exist on the host; check the PVE network configuration was applied');
  const f = (await detectCapabilities(exec)).features;
  return { vlanFiltering: f.bridgeVlanFiltering, multicastSnooping: f.multicastSnooping, portIsolation: f.portIsolation };
}

export function planBridgeSecurity(name: string, s: BridgeSecurity, caps: BridgeCapabilities, node = 'node'): { commands: PlannedCommand[]; applied: { vlanFiltering: boolean }; warnings: string[] } {
  vlanGuard(node, s, caps);
  const hc = toHostCaps(node, caps);
  const settings = toSettings(s);
  const { vlanFiltering, warnings } = bridge.vlanOutcome(name, settings, hc);
  return { commands: bridge.planBridgeSecurity(name, settings, hc), applied: { vlanFiltering }, warnings };
}

export async function applyBridgeSecurity(exec: Executor, name: string, s: BridgeSecurity): Promise<{ applied: { vlanFiltering: boolean }; warnings: string[] }> {
  const caps = await detectBridgeCapabilities(exec, name);
  vlanGuard(exec.node, s, caps);
  const r = await bridge.applyBridgeSecurity(exec, name, toSettings(s));
  return { applied: { vlanFiltering: r.applied.vlanFiltering }, warnings: r.warnings };
}
