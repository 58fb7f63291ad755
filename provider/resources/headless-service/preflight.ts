// The HeadlessService's preview check: a pinned node is in the cluster (common/node-preflight.ts); an unpinned one is
// chosen at create time.
import { pinnedNodePreflight } from '../common/node-preflight';
import type { PreflightContext } from '../common/preflight';
import type { CheckFailure } from '../types';
import type { HeadlessServiceInputs } from './schema';

export function headlessServicePreflight(inputs: HeadlessServiceInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  return pinnedNodePreflight(inputs, ctx);
}
