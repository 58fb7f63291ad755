// One way to describe how a resource's inputs apply, declared once per kind in its definition.ts: which inputs apply
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
  /**
   * Never a change: not an input the user sets (derived by check, or an output), or one the state does not keep to
   * compare with (a secret the outputs leave out).
   */
  | 'derived';

/**
 * How one input applies. `O` is what the prior state holds (the outputs, which carry the inputs): diff compares the
 * prior outputs with the new inputs.
 */
export interface FieldRule<I, O extends I = I> {
  apply: ApplyMode | ((olds: O, news: I) => ApplyMode);
  /** The provider chooses it when the user does not (node, vmid): a new value left unset is not a change. */
  chosenWhenUnset?: boolean;
  /**
   * What is compared, when not the value itself: a default that the outputs spell out, or one canonical spelling of
   * values that mean the same (two references to one image). Applied to both sides; never to an unknown new value.
   */
  compared?: (inputs: I) => unknown;
  /**
   * What the prior state recorded for this input, when an output holds it rather than the input itself (the digest
   * the image was actually pulled at, for the digest check() resolved). Used instead of `compared` on the old side.
   */
  prior?: (olds: O) => unknown;
}

/**
 * A kind made of another kind (a StatefulSetPod is a Pod): the fields it hands down are judged by that kind's
 * definition on the inputs translated into it (declare them `derived` here), and both plans join.
 */
export interface BaseDefinition<I, O> {
  plan(olds: O, news: I): ChangePlan;
}

export interface ResourceDefinition<I, O extends I = I> {
  kind: string;
  /** Every input field, declared: the type makes forgetting one a compile error. */
  fields: { [K in keyof Required<I>]: ApplyMode | FieldRule<I, O> };
  /** Must the old resource be gone before its replacement exists (unique names, addresses, ports)? */
  deleteBeforeReplace: boolean | ((news: I, replaces: readonly string[]) => boolean);
  /** See BaseDefinition; built with `basedOn`. */
  base?: BaseDefinition<I, O>;
  /**
   * Outputs that say the resource no longer is what its inputs declare (a rule removed by hand, seen by refresh):
   * when one says so, the resource is updated (a `live` change of that output) though no input changed.
   */
  repairs?: { [K in Exclude<keyof O, keyof I>]?: (olds: O) => boolean };
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

const MODES = ['live', 'restart', 'replace', 'state'] as const;

/** Pure: which declared fields changed between the prior state (`olds`, outputs) and the new inputs, and how. */
export function planChange<I extends object, O extends I = I>(def: ResourceDefinition<I, O>, olds: O, news: I): ChangePlan {
  const plan: ChangePlan = { changed: [], live: [], restart: [], replace: [], state: [], deleteBeforeReplace: false };
  const add = (mode: Exclude<ApplyMode, 'derived'>, key: string) => {
    if (!plan[mode].includes(key)) plan[mode].push(key);
    if (!plan.changed.includes(key)) plan.changed.push(key);
  };
  for (const key of Object.keys(def.fields) as Array<keyof I & string>) {
    const spec = def.fields[key];
    const rule: FieldRule<I, O> = typeof spec === 'string' ? { apply: spec } : spec;
    if (rule.apply === 'derived') continue;
    if (rule.chosenWhenUnset && news[key] === undefined) continue;
    const before = rule.prior ? rule.prior(olds) : rule.compared ? rule.compared(olds) : olds[key];
    const after = rule.compared && !containsUnknown(news[key]) ? rule.compared(news) : news[key];
    if (!differs(before, after)) continue;
    const mode = typeof rule.apply === 'function' ? rule.apply(olds, news) : rule.apply;
    if (mode !== 'derived') add(mode, key);
  }
  for (const [key, broken] of Object.entries(def.repairs ?? {}) as Array<[string, ((olds: O) => boolean) | undefined]>) {
    if (broken?.(olds)) add('live', key);
  }
  const base = def.base?.plan(olds, news);
  if (base) for (const mode of MODES) for (const key of base[mode]) add(mode, key);
  for (const list of [plan.changed, ...MODES.map((m) => plan[m])]) list.sort();
  const dbr = def.deleteBeforeReplace;
  const own = typeof dbr === 'function' ? dbr(news, plan.replace) : dbr;
  plan.deleteBeforeReplace = plan.replace.length > 0 && (own || !!base?.deleteBeforeReplace);
  return plan;
}

/**
 * The base kind of a definition (see BaseDefinition): `def` judges what `toOlds` and `toNews` translate the prior
 * outputs and the new inputs into. Pure, like the translations must be.
 */
export function basedOn<I, O, J extends object, JO extends J>(def: ResourceDefinition<J, JO>, toOlds: (olds: O) => JO, toNews: (news: I) => J): BaseDefinition<I, O> {
  return { plan: (olds, news) => planChange(def, toOlds(olds), toNews(news)) };
}

export function diffFromPlan(plan: ChangePlan): DiffResult {
  return { changes: plan.changed.length > 0, replaces: plan.replace, changed: plan.changed, deleteBeforeReplace: plan.deleteBeforeReplace };
}

/** diff() for a kind: the plan, as Pulumi wants it. */
export function declaredDiff<I extends object, O extends I = I>(def: ResourceDefinition<I, O>, olds: O, news: I): DiffResult {
  return diffFromPlan(planChange(def, olds, news));
}
