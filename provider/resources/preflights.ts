// The preview's cluster checks, run by the dynamic provider's check() after the schema has accepted the inputs: the
// kind's own preflight (its preflight.ts, wired in its index.ts) on a connection shared by the whole run.
import { ProxmoxPodsError } from '../errors';
import { connectCluster, connectionProblem } from './common/preflight';
import type { CheckFailure, ResourceModule } from './types';

/**
 * The kind's preflight failures for inputs its schema accepted. An unreachable cluster is one resource-level
 * failure (unless offlinePreview); a lookup that fails midway is reported, never read as "does not exist".
 */
export async function runPreflight<I>(module: ResourceModule<I, unknown>, olds: Record<string, unknown>, inputs: I): Promise<CheckFailure[]> {
  if (!module.preflight) return [];
  const { cluster, failure } = await connectCluster();
  if (failure) return [failure];
  try {
    return await module.preflight(inputs, { ...(cluster ? { cluster } : {}), olds });
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const why = err instanceof ProxmoxPodsError ? connectionProblem(err) : err.message;
    return [{ property: '', reason: `the preview could not finish its cluster checks: ${why}` }];
  }
}
