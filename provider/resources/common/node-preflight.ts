// The preview check for resources whose only cluster-side precondition is their node (PersistentVolume,
// HeadlessService): a pinned node must be in the cluster. Unpinned ones are placed at create time.
import { resolveNode, type PreflightContext } from './preflight';
import type { CheckFailure } from '../types';

export async function pinnedNodePreflight(inputs: { node?: unknown }, ctx: PreflightContext): Promise<CheckFailure[]> {
  if (!ctx.cluster || inputs.node === undefined) return [];
  return (await resolveNode(ctx.cluster, inputs.node, 'node')).failures;
}
