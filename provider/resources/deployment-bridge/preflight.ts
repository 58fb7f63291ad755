// The DeploymentBridge's preview check: its node exists. It also records the bridge as planned, so that pods of
// this program that name it literally are not told it is missing before `up` creates it.
import { known, planned, resolveNode, type PreflightContext } from '../common/preflight';
import type { CheckFailure } from '../types';
import type { DeploymentBridgeInputs } from './schema';

export async function deploymentBridgePreflight(inputs: DeploymentBridgeInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  if (!ctx.cluster) return [];
  const { node, failures } = await resolveNode(ctx.cluster, inputs.node, 'node');
  if (node && known(inputs.name)) planned.bridges.add(`${node}/${inputs.name}`);
  return failures;
}
