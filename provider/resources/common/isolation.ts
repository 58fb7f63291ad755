// Port isolation belongs to a bridge port, and PVE makes a new veth each time a pod starts. So whoever starts a pod
// on a bridge a DeploymentBridge isolates re-applies isolation right after the start.
import type { PveClient } from '../../proxmox/client';
import { isolatePorts } from '../../host/bridge';
import { hostExecutor } from './hosts';
import { ownerId, parseOwnerId, type OwnerKey } from './owner';

export const BRIDGE_COMMENT = 'proxmox-pods DeploymentBridge';
/**
 * The bridge's PVE `comments`: the marker, whether pods are isolated, and its owner (`owner=<owner id>`, which has no
 * spaces), so that a node's bridges say whose they are. PVE writes each line as `#<line>` under the iface stanza and
 * reads them back with a newline after each (pve-common src/PVE/Network/Interfaces.pm, the comment branch of the
 * interfaces parser and `$add_options_comments`), so readers below match words, never the whole text.
 */
export const commentFor = (i: { isolatePorts: boolean }, owner?: OwnerKey) =>
  `${BRIDGE_COMMENT}${i.isolatePorts ? ' isolate' : ''}${owner ? ` owner=${ownerId(owner)}` : ''}`;
export const isManagedComment = (c: unknown) => typeof c === 'string' && c.includes(BRIDGE_COMMENT);
/** The owner id a managed bridge's comment names; undefined for bridges made before owner records. */
export function commentOwnerId(c: unknown): string | undefined {
  return typeof c === 'string' ? /(?:^|\s)owner=(\S+)/.exec(c)?.[1] : undefined;
}
export const commentOwner = (c: unknown): OwnerKey | undefined => {
  const id = commentOwnerId(c);
  return id ? parseOwnerId(id) : undefined;
};
const isolates = (c: unknown) => typeof c === 'string' && c.includes(`${BRIDGE_COMMENT} isolate`);

export async function reapplyPortIsolation(pve: PveClient, node: string, bridge: string): Promise<void> {
  const iface = (await pve.networks(node)).interfaces.find((i) => i.iface === bridge);
  if (!iface || !isolates(iface.comments)) return;
  await isolatePorts(await hostExecutor(node), bridge);
}
