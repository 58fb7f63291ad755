// One way to describe how a resource's inputs apply, declared once per kind next to its schema: which inputs apply
// live, which with a restart, which force a replacement, which only change state. One canonical comparison and one
// rule for unknown values turn that declaration into Pulumi's diff, so no resource hand-writes its own.
//
// The dynamic-provider host forwards only `changes`, `replaces` and `deleteBeforeReplace` to the engine
// (@pulumi/pulumi cmd/dynamic-provider/index.js, diff()): detailed diffs and `stables` never arrive, so what a
// dependent reads during a preview is kept known by check() instead (see pod/plan.ts derivedOutputs).
import type { DiffResult } from '../types';
import { containsUnknown } from './unknowns';

/** How a change of an input reaches the resource. */
export type ApplyMode =
  /** Applied in place, the resource keeps running (PVE hot-plug, a config write). */
  | 'live'
  /** Applied in place, takes effect at the next start: the provider restarts the resource. */
  | 'restart'
  /** A different resource: the old one is deleted and a new one created. */
  | 'replace'
  /** Describes the provider's own behaviour (deadlines, caches): recorded in state, nothing to do. */
  | 'state'
  /** Not an input the user sets (derived by check, or an output): never a change. */
  | 'derived';

export interface FieldRule<I> {
  apply: ApplyMode | ((olds: I, news: I) => ApplyMode);
  /** The provider chooses it when the user does not (node, vmid): a new value left unset is not a change. */
  chosenWhenUnset?: boolean;
  /** What is compared, when not the value itself (a default that the outputs spell out, say). */
  compared?: (inputs: I) => unknown;
}

export interface ResourceDefinition<I> {
  kind: string;
  /** Every input field, declared: the type makes forgetting one a compile error. */
  fields: { [K in keyof Required<I>]: ApplyMode | FieldRule<I> };
  /** Must the old resource be gone before its replacement exists (unique names, addresses, ports)? */
  deleteBeforeReplace: boolean | ((news: I, replaces: readonly string[]) => boolean);
}

export interface ChangePlan {
  /** Every changed field, sorted. */
  changed: string[];
  live: string[];
  restart: string[];
  replace: string[];
  state: string[];
  deleteBeforeReplace: boolean;
}

/** Key order, `undefined` members and array-vs-tuple spelling never make two values differ. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The one rule for unknowns: a new value that is (or holds) an unknown may differ, so it counts as a change. */
export function differs(before: unknown, after: unknown): boolean {
  return containsUnknown(after) || canonical(before) !== canonical(after);
}

/** Pure: which declared fields changed between the prior state (`olds`, outputs) and the new inputs, and how. */
export function planChange<I extends object>(def: ResourceDefinition<I>, olds: I, news: I): ChangePlan {
  const plan: ChangePlan = { changed: [], live: [], restart: [], replace: [], state: [], deleteBeforeReplace: false };
  for (const key of Object.keys(def.fields).sort() as Array<keyof I & string>) {
    const spec = def.fields[key];
    const rule: FieldRule<I> = typeof spec === 'string' ? { apply: spec } : spec;
    if (rule.apply === 'derived') continue;
    if (rule.chosenWhenUnset && news[key] === undefined) continue;
    const before = rule.compared ? rule.compared(olds) : olds[key];
    const after = rule.compared && !containsUnknown(news[key]) ? rule.compared(news) : news[key];
    if (!differs(before, after)) continue;
    const mode = typeof rule.apply === 'function' ? rule.apply(olds, news) : rule.apply;
    if (mode === 'derived') continue;
    plan.changed.push(key);
    plan[mode].push(key);
  }
  const dbr = def.deleteBeforeReplace;
  plan.deleteBeforeReplace = plan.replace.length > 0 && (typeof dbr === 'function' ? dbr(news, plan.replace) : dbr);
  return plan;
}

export function diffFromPlan(plan: ChangePlan): DiffResult {
  return { changes: plan.changed.length > 0, replaces: plan.replace, changed: plan.changed, deleteBeforeReplace: plan.deleteBeforeReplace };
}

/** diff() for a kind: the plan, as Pulumi wants it. */
export function declaredDiff<I extends object>(def: ResourceDefinition<I>, olds: I, news: I): DiffResult {
  return diffFromPlan(planChange(def, olds, news));
}
