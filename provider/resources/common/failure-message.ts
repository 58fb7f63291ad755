// How check failures reach the user. The engine prints a failure as
//   `<type> resource '<name>''s property '<property>' value <inputs[property]> has a problem: <reason>`
// looking the property up at the top level of the program's inputs only (pulumi pkg/resource/deploy/
// step_generator.go, issueCheckFailures): a nested path such as `network.gateway` prints `{<nil>}`, and a top-level
// value is printed whole (an 8,000-character description fills the screen). So only a top-level property with a
// short scalar value is left to the engine (which also redacts it when it is a secret); everything else is sent
// as a resource-level failure whose reason names the path and shows the value, cut, itself. Pure.
import type { CheckFailure } from '../types';
import { isUnknown } from './unknowns';

/** Values longer than this (rendered) are cut. */
export const MAX_VALUE_CHARS = 120;

/**
 * Paths whose values may be secrets. The dynamic provider sees secrets as plain values (the engine strips the
 * marker because dynamic providers do not accept secrets), so values here are never echoed.
 */
const SENSITIVE = /(^|\.)(credentials|env|password|secret|token|apiToken)(\.|\[|$)/i;

function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split('.')) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return [];
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

export function valueAtPath(obj: unknown, path: string): { found: boolean; value?: unknown } {
  let cur: unknown = obj;
  for (const seg of pathSegments(path)) {
    if (cur === null || typeof cur !== 'object' || !(seg in (cur as object))) return { found: false };
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: cur };
}

/** JSON-like text of a value, nested values included, cut to `max` characters with the full length said. */
export function renderValue(value: unknown, max = MAX_VALUE_CHARS): string {
  let text: string;
  if (isUnknown(value)) text = '[unknown]';
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value, (_k, v: unknown) => (isUnknown(v) ? '[unknown]' : v)) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} characters)`;
}

/** The failures as the engine should get them (see the top of this file). `inputs` are the program's inputs. */
export function presentFailures(failures: readonly CheckFailure[], inputs: Record<string, unknown>): CheckFailure[] {
  return failures.map((f) => {
    if (!f.property || f.property === '(inputs)') return { property: '', reason: f.reason };
    const topLevel = !/[.[]/.test(f.property);
    const at = valueAtPath(inputs, f.property);
    const scalar = at.found && (typeof at.value === 'string' || typeof at.value === 'number' || typeof at.value === 'boolean');
    if (topLevel && scalar && renderValue(at.value).length <= MAX_VALUE_CHARS) return f;
    let shown = '';
    if (at.found && at.value !== undefined) shown = SENSITIVE.test(f.property) ? ' value [not shown: may be secret]' : ` value ${renderValue(at.value)}`;
    return { property: '', reason: `property '${f.property}'${shown} has a problem: ${f.reason}` };
  });
}
