// The preview's cluster checks by resource kind (each kind's own preflight.ts), run by the dynamic provider's
// check() after the schema has accepted the inputs.
import { ProxmoxPodsError } from '../errors';
import { connectCluster, connectionProblem, type Preflight } from './common/preflight';
import { pinnedNodePreflight } from './common/node-preflight';
import { podPreflight } from './pod/preflight';
import { statefulSetPodPreflight } from './statefulset-pod/preflight';
import { ociImagePreflight } from './oci-image/preflight';
import { portForwardPreflight } from './port-forward/preflight';
import { deploymentBridgePreflight } from './deployment-bridge/preflight';
import type { CheckFailure } from './types';

export const preflights: Record<string, Preflight> = {
  Pod: podPreflight,
  StatefulSetPod: statefulSetPodPreflight,
  OciImage: ociImagePreflight,
  PortForward: portForwardPreflight,
  DeploymentBridge: deploymentBridgePreflight,
  PersistentVolume: pinnedNodePreflight,
  HeadlessService: pinnedNodePreflight,
};

/**
 * The kind's preflight failures for inputs its schema accepted. An unreachable cluster is one resource-level
 * failure (unless offlinePreview); a lookup that fails midway is reported, never read as "does not exist".
 */
export async function runPreflight(kind: string, olds: Record<string, unknown>, inputs: Record<string, unknown>): Promise<CheckFailure[]> {
  const preflight = preflights[kind];
  if (!preflight) return [];
  const { cluster, failure } = await connectCluster();
  if (failure) return [failure];
  try {
    return await preflight(inputs, { ...(cluster ? { cluster } : {}), olds });
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const why = err instanceof ProxmoxPodsError ? connectionProblem(err) : err.message;
    return [{ property: '', reason: `the preview could not finish its cluster checks: ${why}` }];
  }
}
