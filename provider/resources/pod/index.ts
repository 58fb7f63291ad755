import { checkWithSchema } from '../common/check';
import type { ResourceModule } from '../types';
import { createPod, deletePod, readPod, updatePod } from './lifecycle';
import { derivedOutputs, podDiff, restartReason } from './plan';
import { podInputsSchema, type PodInputs, type PodOutputs } from './schema';

export const podModule: ResourceModule<PodInputs, PodOutputs> = {
  kind: 'Pod',
  schema: podInputsSchema,
  check(olds, news) {
    const result = checkWithSchema(podInputsSchema, news);
    if (result.failures || !result.inputs) return result;
    const { restartPlanned: _previous, ...inputs } = result.inputs;
    const hasOlds = Object.keys(olds).some((k) => !k.startsWith('__'));
    const reason = hasOlds ? restartReason(olds as PodInputs, inputs as PodInputs) : undefined;
    const withDerived = { ...inputs, ...derivedOutputs(inputs as PodInputs) } as PodInputs;
    return { inputs: reason ? { ...withDerived, restartPlanned: reason } : withDerived };
  },
  diff: (_id, olds, news) => podDiff(olds, news),
  create: (inputs) => createPod(inputs),
  read: (id, props) => readPod(id, props) as any,
  update: (id, olds, news) => updatePod(id, olds, news),
  delete: (id, props) => deletePod(id, props),
};

export * from './schema';
