// The PortForward kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts) and
// the lifecycle (lifecycle.ts).
import { checkWithSchema } from '../common/check';
import { declaredDiff } from '../common/definition';
import type { ResourceModule } from '../types';
import { portForwardDefinition } from './definition';
import { createPortForward, deletePortForward, readPortForward, updatePortForward } from './lifecycle';
import { portForwardPreflight } from './preflight';
import { portForwardInputsSchema, type PortForwardInputs, type PortForwardOutputs } from './schema';

export const portForwardModule: ResourceModule<PortForwardInputs, PortForwardOutputs> = {
  kind: 'PortForward',
  schema: portForwardInputsSchema,
  check: (_olds, news) => checkWithSchema(portForwardInputsSchema, news),
  diff: (_id, olds, news) => declaredDiff(portForwardDefinition, olds, news),
  preflight: portForwardPreflight,
  create: (inputs) => createPortForward(inputs),
  read: (id, props) => readPortForward(id, props),
  update: (_id, olds, news) => updatePortForward(olds, news),
  delete: (_id, props) => deletePortForward(props),
};

export * from './schema';
