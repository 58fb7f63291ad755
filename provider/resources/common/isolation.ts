// Port isolation belongs to a bridge port, and PVE makes a new veth each time a pod starts. So whoever starts a pod
// on a bridge a DeploymentBridge isolates re-applies isolation right after the start.
import type { PveClient } from '../../proxmox/client';
import { isolatePorts } from '../../host/bridge';
import { hostExecutor } from './hosts';

export const BRIDGE_COMMENT = 'proxmox-pods DeploymentBridge';
export const commentFor = (i: { isolatePorts: boolean }) => `${BRIDGE_COMMENT}${i.isolatePorts ? ' isolate' : ''}`;
export const isManagedComment = (c: unknown) => typeof c === 'string' && c.includes(BRIDGE_COMMENT);
const isolates = (c: unknown) => typeof c === 'string' && c.includes(`${BRIDGE_COMMENT} isolate`);

export async function reapplyPortIsolation(pve: PveClient, node: string, bridge: string): Promise<void> {
  const iface = (await pve.networks(node)).interfaces.find((i) => i.iface === bridge);
  if (!iface || !isolates(iface.comments)) return;
  await isolatePorts(await hostExecutor(node), bridge);
}
