// The PortForward kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts) and
// the lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { portForwardDefinition } from './definition';
import { createPortForward, deletePortForward, readPortForward, updatePortForward } from './lifecycle';
import { portForwardPreflight } from './preflight';
import { portForwardInputsSchema, type PortForwardInputs, type PortForwardOutputs } from './schema';

export const portForwardModule = defineKind<PortForwardInputs, PortForwardOutputs>({
  schema: portForwardInputsSchema,
  definition: portForwardDefinition,
  preflight: portForwardPreflight,
  create: (inputs) => createPortForward(inputs),
  read: (id, props) => readPortForward(id, props),
  update: (_id, olds, news) => updatePortForward(olds, news),
  delete: (_id, props) => deletePortForward(props),
});

export * from './schema';
