// Reading `pulumi preview --json`: its steps, and what a dynamic resource's step changes. The dynamic-provider host
// forwards no detailed diff (@pulumi/pulumi cmd/dynamic-provider/index.js, diff()), so `diffReasons` and
// `detailedDiff` stay empty for these resources; what the CLI shows (`~ memory: 512 => 640`, `+ hostname`) is the
// engine's comparison of the step's old and new inputs, which `inputChanges` repeats.
import type { PulumiWorkspace } from '../../cli/pulumi-workspace';

export interface PreviewStep {
  op: string;
  urn: string;
  diffReasons?: string[];
  replaceReasons?: string[];
  oldState?: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  newState?: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
}

export const stepName = (s: PreviewStep) => s.urn.split('::').pop()!;

export async function previewSteps(ws: PulumiWorkspace, args: string[] = []): Promise<PreviewStep[]> {
  return (JSON.parse((await ws.mustRun(['preview', '--json', ...args])).stdout) as { steps?: PreviewStep[] }).steps ?? [];
}

/** Steps that change something (`preview --json` lists unchanged resources as `same`). */
export const changing = (steps: PreviewStep[]) => steps.filter((s) => s.op !== 'same');

/** `name:op` of every changing step, sorted, ops of one resource in the order the preview plans them. */
export const plannedOps = (steps: PreviewStep[]) => changing(steps).map((s) => `${stepName(s)}:${s.op}`);

const canonical = (v: unknown): string => (v && typeof v === 'object' ? JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]))) : JSON.stringify(v));

/**
 * The inputs a step changes, as the CLI prints them: `~name` (both sides have it), `+name` (only the new inputs),
 * `-name` (only the old ones). Pulumi's own keys (`__provider`) are left out.
 */
export function inputChanges(step: PreviewStep): string[] {
  const olds = step.oldState?.inputs ?? {};
  const news = step.newState?.inputs ?? {};
  const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !k.startsWith('__')).sort();
  return keys.flatMap((k) => {
    if (!(k in olds)) return [`+${k}`];
    if (!(k in news)) return [`-${k}`];
    return canonical(olds[k]) === canonical(news[k]) ? [] : [`~${k}`];
  });
}
