// The StatefulSetPod's preview checks: its gateway against its subnet (pure), then the pod's placement checks on
// the node create would choose (the pinned one, the volume's, else the ordinal's place among the online nodes).
import { gatewayProblem } from '../common/subnet';
import { known, resolveNode, unlessForbidden, type PreflightContext } from '../common/preflight';
import { placementFailures, storagePlacement, templateField } from '../pod/preflight';
import type { CheckFailure } from '../types';
import { spreadNode } from './identity';
import type { StatefulSetPodInputs } from './schema';

export async function statefulSetPodPreflight(inputs: StatefulSetPodInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  const net = inputs.network as Partial<StatefulSetPodInputs['network']> | undefined;
  // An on-link gateway is accepted only when said so (see common/subnet.ts gatewayProblem); unknown, it waits for `up`.
  if (net && known(net.cidr) && known(net.gateway) && (net.gatewayOnLink === undefined || net.gatewayOnLink === false)) {
    const problem = gatewayProblem(net.cidr, net.gateway);
    if (problem) return [{ property: 'network.gateway', reason: problem.replace("the pod's subnet", 'network.cidr') }];
  }
  if (!ctx.cluster) return [];
  const pinned = inputs.node ?? inputs.volume?.node;
  let node: string | undefined;
  if (pinned !== undefined) {
    const r = await resolveNode(ctx.cluster, pinned, inputs.node !== undefined ? 'node' : 'volume.node');
    if (!r.node) return r.failures;
    node = r.node;
  } else {
    if (!known(inputs.ordinal)) return [];
    // As create spreads members (statefulset/index.ts): the ordinal's place among the online nodes.
    const nodes = await unlessForbidden(() => ctx.cluster!.nodes());
    if (!nodes) return [];
    const online = nodes.filter((n) => !n.status || n.status === 'online').map((n) => n.node);
    if (!online.length) return [{ property: 'node', reason: 'no node of the cluster is online; bring one up or pin node' }];
    node = spreadNode(online, inputs.ordinal);
  }
  return placementFailures(ctx.cluster, node, {
    ...storagePlacement(inputs.rootfs),
    ...(templateField(inputs.image) ? { template: templateField(inputs.image)! } : {}),
    ...(net ? { bridge: { value: net.bridge, field: 'network.bridge' } } : {}),
  });
}
