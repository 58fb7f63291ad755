// The StatefulSetPod kind, wired: check (schema, the derivations a member needs, the restart an update makes, the
// identity outputs known from inputs), diff (definition.ts), the preview's cluster checks (preflight.ts) and the
// lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { checkWithSchema } from '../common/check';
import { containsUnknown } from '../common/unknowns';
import { statefulSetPodDefinition } from './definition';
import { createStatefulSetPod, deleteStatefulSetPod, readStatefulSetPod, updateStatefulSetPod } from './lifecycle';
import { derivationFailures, statefulDerived, statefulRestartReason } from './plan';
import { statefulSetPodPreflight } from './preflight';
import { statefulSetPodInputsSchema, type StatefulSetPodInputs, type StatefulSetPodOutputs } from './schema';

export const statefulSetPodModule = defineKind<StatefulSetPodInputs, StatefulSetPodOutputs>({
  schema: statefulSetPodInputsSchema,
  definition: statefulSetPodDefinition,
  check(olds, news) {
    const result = checkWithSchema(statefulSetPodInputsSchema, news, derivationFailures);
    if (result.failures || !result.inputs) return result;
    const { restartPlanned: _previous, ...inputs } = result.inputs;
    const hasOlds = Object.keys(olds).some((k) => !k.startsWith('__'));
    const reason = hasOlds ? statefulRestartReason(olds, inputs) : undefined;
    // The member's identity outputs follow from its inputs: keep them known during a preview (see pod/plan.ts).
    const derived = containsUnknown(inputs) ? {} : statefulDerived(inputs);
    return { inputs: { ...inputs, ...derived, ...(reason ? { restartPlanned: reason } : {}) } };
  },
  preflight: statefulSetPodPreflight,
  create: (inputs) => createStatefulSetPod(inputs),
  read: (id, props) => readStatefulSetPod(id, props),
  update: (id, olds, news) => updateStatefulSetPod(id, olds, news),
  delete: (id, props) => deleteStatefulSetPod(id, props),
});
