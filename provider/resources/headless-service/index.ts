// The HeadlessService kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts)
// and the lifecycle (lifecycle.ts).
import { checkWithSchema } from '../common/check';
import { declaredDiff } from '../common/definition';
import type { ResourceModule } from '../types';
import { headlessServiceDefinition } from './definition';
import { createHeadlessService, deleteHeadlessService, readHeadlessService, updateHeadlessService } from './lifecycle';
import { headlessServicePreflight } from './preflight';
import { headlessServiceInputsSchema, type HeadlessServiceInputs, type HeadlessServiceOutputs } from './schema';

export const headlessServiceModule: ResourceModule<HeadlessServiceInputs, HeadlessServiceOutputs> = {
  kind: 'HeadlessService',
  schema: headlessServiceInputsSchema,
  check: (_olds, news) => checkWithSchema(headlessServiceInputsSchema, news),
  diff: (_id, olds, news) => declaredDiff(headlessServiceDefinition, olds, news),
  preflight: headlessServicePreflight,
  create: (inputs) => createHeadlessService(inputs),
  read: (id, props) => readHeadlessService(id, props),
  update: (_id, olds, news) => updateHeadlessService(olds, news),
  delete: (_id, props) => deleteHeadlessService(props),
};
