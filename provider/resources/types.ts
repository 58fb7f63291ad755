// The contract every resource module implements. The dynamic provider (provider/dynamic.ts) routes
// Pulumi's calls here by kind; modules never import each other's internals.
import type { ZodType } from 'zod';
import type { PreflightContext } from './common/preflight';

export interface CheckFailure { property: string; reason: string }

export interface CheckResult<I> { inputs?: I; failures?: CheckFailure[] }

export interface DiffResult {
  changes: boolean;
  /** Properties whose change forces a replacement. */
  replaces?: string[];
  /** Every changed top-level property (live, restart, or replace). */
  changed?: string[];
  /** The replacement must delete the old resource first (unique names, vmids, ports...). */
  deleteBeforeReplace?: boolean;
  stables?: string[];
}

export interface ReadResult<I, O> { id: string; props: O; inputs?: I }

/**
 * What read answers: the resource as it is now, or `undefined` when it is gone. Absence is a value, decided only by a
 * lookup that succeeded and found nothing; every other failure (a command that failed, a node that did not answer)
 * is an error, never read as "it does not exist".
 */
export type ReadOutcome<I, O> = ReadResult<I, O> | undefined;

export interface ResourceModule<I = unknown, O = unknown> {
  readonly kind: string;
  readonly schema: ZodType<I>;
  check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<CheckResult<I>> | CheckResult<I>;
  /** Pure: the kind's definition.ts applied by common/definition.ts declaredDiff. */
  diff(id: string, olds: O, news: I): DiffResult;
  /** The preview's read-only checks against the cluster, for inputs the schema accepted (preflight.ts). */
  preflight?(inputs: I, ctx: PreflightContext): Promise<CheckFailure[]>;
  create(inputs: I): Promise<{ id: string; outs: O }>;
  read?(id: string, props: O): Promise<ReadOutcome<I, O>>;
  update?(id: string, olds: O, news: I): Promise<{ outs: O }>;
  delete(id: string, props: O): Promise<void>;
}
