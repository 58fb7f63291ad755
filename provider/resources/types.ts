// The contract every resource module implements. The dynamic provider (provider/dynamic.ts) routes
// Pulumi's calls here by kind; modules never import each other's internals.
import type { ZodType } from 'zod';

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

export interface ResourceModule<I = any, O = any> {
  readonly kind: string;
  readonly schema: ZodType<I>;
  check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<CheckResult<I>> | CheckResult<I>;
  diff(id: string, olds: O, news: I): DiffResult;
  create(inputs: I): Promise<{ id: string; outs: O }>;
  read?(id: string, props: O): Promise<ReadResult<I, O>>;
  update?(id: string, olds: O, news: I): Promise<{ outs: O }>;
  delete(id: string, props: O): Promise<void>;
}
