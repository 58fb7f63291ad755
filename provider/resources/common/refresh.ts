// What read() hands back as inputs on refresh, one rule for every kind. Untouched: none, so Pulumi keeps the inputs
// it recorded and `refresh` → `preview --expect-no-changes` reads back exactly. Drifted: the recorded inputs with
// exactly the drifted fields replaced, so the next preview shows that one property (`~ sizeGiB: 4 => 7`).
//
// The recorded inputs are rebuilt from the prior outputs (the dynamic-provider host passes read() only those:
// @pulumi/pulumi cmd/dynamic-provider/index.js, read()), which carry every checked input plus the kind's own
// output fields. `node` is an output of every kind but an input only when the program pins it, which the outputs do
// not say: it is left out, since a `+ node` beside every drift would be a change nobody made (the diff compares
// against the outputs, where the node always is, so a pinned node is still never read as changed).
import { canonical } from './definition';

export function refreshedInputs<O extends object, I>(props: O, outputOnly: ReadonlyArray<keyof O>, live: Partial<I>): I | undefined {
  const recorded = Object.fromEntries(Object.entries(props).filter(([k]) => k !== 'node' && !k.startsWith('__') && !(outputOnly as readonly string[]).includes(k))) as Record<string, unknown>;
  const drifted = Object.entries(live).filter(([k, v]) => canonical(v) !== canonical(recorded[k]));
  if (drifted.length === 0) return undefined;
  return { ...recorded, ...Object.fromEntries(drifted) } as I;
}
