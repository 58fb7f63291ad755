// The DeploymentBridge's I/O: a Linux bridge per deployment, created through the PVE network API (pending change +
// apply) and secured on the host (multicast snooping, STP, MTU, VLAN filtering where the kernel has it, pod port
// isolation). Only a bridge this resource owns is changed or deleted.
import { CapabilityError, InputError, ProxmoxPodsError } from '../../errors';
import { messageOf, warn } from '../../diagnostics';
import { applyBridgeSecurity, bridgePorts, podPortVmid, readBridgeSettings } from '../../host/bridge';
import { parseNet } from '../../proxmox/properties';
import { pveClient } from '../common/connection';
import { hostExecutor } from '../common/hosts';
import { PartialCreateError } from '../common/partial';
import { refreshedInputs } from '../common/refresh';
import type { ReadOutcome } from '../types';
import { NotOwnedError, ownerId, scopedOwnerKey, type OwnerKey } from '../common/owner';
import { commentFor, commentOwner, commentOwnerId, isManagedComment, type DeploymentBridgeInputs, type DeploymentBridgeOutputs } from './schema';

const bridgeOwner = (i: Pick<DeploymentBridgeInputs, 'owner' | 'name'>) => scopedOwnerKey(i.owner, 'DeploymentBridge', i.name);

/**
 * Whether `wanted` may change the bridge whose PVE comments are `comments`. Ours: yes. A proxmox-pods bridge made
 * before owner records: yes, as older versions allowed; the owner is written with the next change. Another owner's,
 * or a bridge proxmox-pods did not make: NotOwnedError.
 */
function assertMayChange(comments: unknown, wanted: OwnerKey | undefined, what: string): void {
  const recorded = commentOwnerId(comments);
  if (isManagedComment(comments) && (!recorded || !wanted || recorded === ownerId(wanted))) return;
  throw new NotOwnedError(what, isManagedComment(comments) ? commentOwner(comments) : undefined, wanted, 'choose another bridge name, or remove the other stack\'s bridge first');
}

/** True when the bridge is another owner's (read: ours is gone). */
function otherOwners(comments: unknown, mine: OwnerKey | undefined): boolean {
  const recorded = commentOwnerId(comments);
  return !isManagedComment(comments) || (!!recorded && !!mine && recorded !== ownerId(mine));
}

// No `bridge_ports`: a bridge without ports is what PVE writes as `bridge-ports none` itself (pve-common INotify.pm
// __interface_to_string). Sent as the word "none", PVE's create_network takes it for a port name
// (pve-manager API2/Network.pm $check_duplicate_ports), and a second such bridge on the node fails
// "none is already used on interface …".
function networkParams(i: DeploymentBridgeInputs): Record<string, string | number> {
  const p: Record<string, string | number> = { autostart: 1, comments: commentFor(i, bridgeOwner(i)) };
  if (i.cidr) p.cidr = i.cidr;
  if (i.mtu !== undefined) p.mtu = i.mtu;
  if (i.vlanAware) p.bridge_vlan_aware = 1;
  return p;
}

async function secure(i: DeploymentBridgeInputs, node: string): Promise<Pick<DeploymentBridgeOutputs, 'applied' | 'warnings'>> {
  const exec = await hostExecutor(node);
  const vlanFiltering = i.vlanAware ? (i.vlanFallback === 'downgrade' ? ('if-supported' as const) : true) : false;
  try {
    const r = await applyBridgeSecurity(exec, i.name, { multicastSnooping: i.multicastSnooping, stp: i.stp, mtu: i.mtu, vlanFiltering, isolatePorts: i.isolatePorts });
    return { applied: r.applied, warnings: r.warnings };
  } catch (err) {
    // Say it in this resource's terms: the input that asked for it and the one that allows running without it.
    if (err instanceof CapabilityError && /vlan/i.test(err.message)) {
      throw new CapabilityError(node, 'bridge VLAN filtering (vlanAware)', 'use a kernel with CONFIG_BRIDGE_VLAN_FILTERING, or set vlanFallback: "downgrade" to run without it');
    }
    throw err;
  }
}

/** Pods (by their PVE config) and host ports still attached to the bridge. */
async function usersOf(node: string, bridge: string): Promise<string[]> {
  const pve = pveClient();
  const users: string[] = [];
  for (const ct of await pve.listContainers(node)) {
    const cfg = await pve.containerConfig(node, ct.vmid);
    const nets = Object.entries(cfg ?? {}).filter(([k, v]) => /^net\d+$/.test(k) && typeof v === 'string');
    if (nets.some(([, v]) => parseNet(String(v)).bridge === bridge)) users.push(`CT ${ct.vmid}${ct.name ? ` (${ct.name})` : ''}`);
  }
  const exec = await hostExecutor(node);
  for (const port of await bridgePorts(exec, bridge)) {
    const vmid = podPortVmid(port);
    if (vmid !== undefined && !users.some((u) => u.startsWith(`CT ${vmid} `) || u === `CT ${vmid}`)) users.push(`port ${port}`);
  }
  return users;
}

export async function createDeploymentBridge(inputs: DeploymentBridgeInputs): Promise<{ id: string; outs: DeploymentBridgeOutputs }> {
  const pve = pveClient();
  const node = inputs.node ?? (await pve.defaultNode());
  // Find-or-create: a bridge is named on its node, so a create cut short (or answered too late) is found here.
  const existing = (await pve.networks(node)).interfaces.find((i) => i.iface === inputs.name);
  if (existing) {
    assertMayChange(existing.comments, bridgeOwner(inputs), `bridge ${inputs.name} on ${node}`);
    // Ours (or made before owner records): converge it to these inputs, owner included.
    await pve.updateNetwork(node, inputs.name, { type: 'bridge', ...networkParams(inputs) });
    await pve.applyNetwork(node);
  }
  // PVE creates the bridge (pending + apply); the host part follows. If the host cannot give what was asked (e.g.
  // VLAN filtering), the bridge is taken away again below: nothing half-made.
  if (!existing) {
    try {
      await pve.createNetwork(node, { iface: inputs.name, type: 'bridge', ...networkParams(inputs) });
      await pve.applyNetwork(node);
    } catch (err) {
      // The create's error is what the user must see; a pending change left behind is named, not hidden.
      await pve.revertNetwork(node).catch((undo: unknown) => warn(`reverting the pending network change on ${node} failed (${messageOf(undo)}); check Network on ${node} in PVE`));
      throw err;
    }
  }
  const id = `${node}/${inputs.name}`;
  try {
    const sec = await secure(inputs, node);
    return { id, outs: { ...inputs, node, bridge: inputs.name, ...sec } };
  } catch (err) {
    if (err instanceof InputError || err instanceof CapabilityError) {
      // The host cannot do what was asked: take the bridge away again rather than leave it half-secured.
      await pve.deleteNetwork(node, inputs.name).catch((undo: unknown) => warn(`taking ${inputs.name} away again failed (${messageOf(undo)}); delete it in PVE (Network on ${node})`));
      await pve.applyNetwork(node).catch((undo: unknown) => warn(`applying the removal of ${inputs.name} on ${node} failed (${messageOf(undo)}); apply the pending network change in PVE`));
      throw err;
    }
    throw new PartialCreateError(err, id, { ...inputs, node, bridge: inputs.name, applied: { vlanFiltering: false, isolatePorts: false, multicastSnooping: false, stp: false }, warnings: [] });
  }
}

export async function readDeploymentBridge(id: string, props: DeploymentBridgeOutputs): Promise<ReadOutcome<DeploymentBridgeInputs, DeploymentBridgeOutputs>> {
  const pve = pveClient();
  const iface = (await pve.networks(props.node)).interfaces.find((i) => i.iface === props.name);
  // Gone, or someone else's now: ours is gone.
  if (!iface || otherOwners(iface.comments, bridgeOwner(props))) return undefined;
  const live = await readBridgeSettings(await hostExecutor(props.node), props.name);
  if (!live) return { id, props };
  // What the node has now: the address from PVE's network config, the rest from the bridge itself.
  const now: Partial<DeploymentBridgeInputs> = {
    stp: live.stp, multicastSnooping: live.multicastSnooping,
    isolatePorts: props.isolatePorts && live.openPodPorts.length === 0,
    cidr: typeof iface.cidr === 'string' && iface.cidr ? iface.cidr : undefined,
    ...(props.mtu !== undefined ? { mtu: live.mtu } : {}),
  };
  const inputs = refreshedInputs<DeploymentBridgeOutputs, DeploymentBridgeInputs>(props, ['bridge', 'applied', 'warnings'], now);
  return { id, props: { ...props, ...now }, ...(inputs ? { inputs } : {}) };
}

export async function updateDeploymentBridge(olds: DeploymentBridgeOutputs, news: DeploymentBridgeInputs): Promise<{ outs: DeploymentBridgeOutputs }> {
  const pve = pveClient();
  const iface = (await pve.networks(olds.node)).interfaces.find((i) => i.iface === olds.name);
  if (!iface) throw new InputError('name', `bridge ${olds.name} on ${olds.node} is gone`, 'run `pulumi refresh`; the next `pulumi up` creates it again');
  assertMayChange(iface.comments, bridgeOwner(olds) ?? bridgeOwner(news), `bridge ${olds.name} on ${olds.node}`);
  await pve.updateNetwork(olds.node, olds.name, { type: 'bridge', ...networkParams(news) }, { delete: [...(news.cidr ? [] : ['cidr' as const]), ...(news.mtu === undefined ? ['mtu' as const] : [])].filter((k) => olds[k] !== undefined) });
  await pve.applyNetwork(olds.node);
  return { outs: { ...news, node: olds.node, bridge: olds.name, ...(await secure(news, olds.node)) } };
}

export async function deleteDeploymentBridge(props: DeploymentBridgeOutputs): Promise<void> {
  const pve = pveClient();
  const iface = (await pve.networks(props.node)).interfaces.find((i) => i.iface === props.name);
  if (!iface) return; // already gone
  // Not ours (another stack's, or not made by proxmox-pods): never deleted, and said; this resource is gone.
  if (otherOwners(iface.comments, bridgeOwner(props))) {
    warn(new NotOwnedError(`bridge ${props.name} on ${props.node}`, isManagedComment(iface.comments) ? commentOwner(iface.comments) : undefined, bridgeOwner(props), 'left alone; this bridge leaves the stack').message);
    return;
  }
  const users = await usersOf(props.node, props.name);
  if (users.length) throw new ProxmoxPodsError(`bridge ${props.name} on ${props.node} is still used by ${users.join(', ')}; delete or move those pods first`, 'E_IN_USE');
  await pve.deleteNetwork(props.node, props.name);
  await pve.applyNetwork(props.node);
}
