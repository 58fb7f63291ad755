// The Pod kind, wired: check (schema, then the restart an update makes and the outputs known from inputs), diff
// (definition.ts), the preview's cluster checks (preflight.ts) and the lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { checkWithSchema } from '../common/check';
import { podDefinition } from './definition';
import { createPod, deletePod, readPod, updatePod } from './lifecycle';
import { derivedOutputs, restartReason } from './plan';
import { podPreflight } from './preflight';
import { podInputsSchema, type PodInputs, type PodOutputs } from './schema';

export const podModule = defineKind<PodInputs, PodOutputs>({
  schema: podInputsSchema,
  definition: podDefinition,
  check(olds, news) {
    const result = checkWithSchema(podInputsSchema, news);
    if (result.failures || !result.inputs) return result;
    const { restartPlanned: _previous, ...inputs } = result.inputs;
    const hasOlds = Object.keys(olds).some((k) => !k.startsWith('__'));
    const reason = hasOlds ? restartReason(olds as PodInputs, inputs) : undefined;
    const withDerived: PodInputs = { ...inputs, ...derivedOutputs(inputs) };
    return { inputs: reason ? { ...withDerived, restartPlanned: reason } : withDerived };
  },
  preflight: podPreflight,
  create: (inputs) => createPod(inputs),
  read: (id, props) => readPod(id, props),
  update: (id, olds, news) => updatePod(id, olds, news),
  delete: (id, props) => deletePod(id, props),
});

export * from './schema';
