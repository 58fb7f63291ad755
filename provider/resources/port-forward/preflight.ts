// The PortForward's preview checks: the node exists, and the listen address/port is not already taken, either by
// a rule of another resource in the node's nftables table (read through proxmox-pods:hosts) or by another
// PortForward of this program checked earlier in the same run.
import { listensOverlap, type ForwardSpec } from '../../host/nftables';
import { known, planned, resolveNode, type PreflightContext } from '../common/preflight';
import type { CheckFailure } from '../types';
import type { PortForwardInputs } from './schema';

function describe(s: Pick<ForwardSpec, 'listenAddress' | 'listenPort' | 'protocol'>): string {
  return `${s.listenAddress ?? 'every address'} port ${s.listenPort}/${s.protocol}`;
}

export async function portForwardPreflight(inputs: PortForwardInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  if (!ctx.cluster) return [];
  const { node, failures } = await resolveNode(ctx.cluster, inputs.node, 'node');
  if (!node) return failures;
  if (!known(inputs.name) || !known(inputs.listenPort) || !known(inputs.protocol) || (inputs.listenAddress !== undefined && !known(inputs.listenAddress))) return [];
  const spec = { id: inputs.name, listenAddress: inputs.listenAddress, listenPort: inputs.listenPort, protocol: inputs.protocol } as ForwardSpec;
  // This resource's own rules (under its current or previous name) are not a conflict: they are what it updates.
  const own = new Set([inputs.name, typeof ctx.olds.name === 'string' ? ctx.olds.name : inputs.name]);
  const fix = 'choose another listenPort or listenAddress, or remove that forward first';
  for (const [id, other] of planned.forwards) {
    if (!own.has(id) && other.node === node && listensOverlap(other.spec, spec)) {
      return [{ property: 'listenPort', reason: `${describe(spec)} on node ${node} is also forwarded by PortForward "${id}" in this program; ${fix}` }];
    }
  }
  planned.forwards.set(inputs.name, { node, spec });
  const live = await ctx.cluster.forwards(node);
  const clash = live.find((f) => !own.has(f.id) && listensOverlap(f, spec));
  if (clash) return [{ property: 'listenPort', reason: `${describe(spec)} on node ${node} is already forwarded by "${clash.id}" (${describe(clash)} → ${clash.targetIp}:${clash.targetPort}); ${fix}` }];
  return [];
}
