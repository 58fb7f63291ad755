// Turns a zod schema into Pulumi's check(): every bad field is reported with its dotted path and a reason that says
// how to fix it; fields whose values are still unknown (preview) are not judged yet.
import type { ZodType } from 'zod';
import type { CheckFailure, CheckResult } from '../types';
import { containsUnknown, isUnknown } from './unknowns';

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), '');
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/** Drops Pulumi's internal keys (`__provider`) and undefined values before validation. */
export function userInputs(news: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(news)) if (!k.startsWith('__') && v !== undefined && v !== null) out[k] = v;
  return out;
}

export function checkWithSchema<I>(schema: ZodType<I>, news: Record<string, unknown>, extra?: (inputs: I) => CheckFailure[]): CheckResult<I> {
  const raw = userInputs(news);
  const parsed = schema.safeParse(raw);
  if (parsed.success) {
    const failures = extra ? extra(parsed.data) : [];
    return failures.length ? { inputs: raw as I, failures } : { inputs: parsed.data };
  }
  const failures: CheckFailure[] = [];
  for (const issue of parsed.error.issues) {
    // A field that is (or sits under) an unknown value cannot be judged during preview.
    const path = issue.path as PropertyKey[];
    const underUnknown = path.some((_, i) => isUnknown(valueAt(raw, path.slice(0, i + 1))));
    if (underUnknown || containsUnknown(valueAt(raw, path))) continue;
    failures.push({ property: fieldPath(path) || '(inputs)', reason: issue.message });
  }
  if (failures.length === 0) return { inputs: raw as I };
  return { inputs: raw as I, failures };
}
