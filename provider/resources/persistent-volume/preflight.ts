// The PersistentVolume's preview check: a pinned node is in the cluster (common/node-preflight.ts); an unpinned one is
// chosen at create time.
import { pinnedNodePreflight } from '../common/node-preflight';
import type { PreflightContext } from '../common/preflight';
import type { CheckFailure } from '../types';
import type { PersistentVolumeInputs } from './schema';

export function persistentVolumePreflight(inputs: PersistentVolumeInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  return pinnedNodePreflight(inputs, ctx);
}
