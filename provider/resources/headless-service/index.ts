// The HeadlessService kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts)
// and the lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { headlessServiceDefinition } from './definition';
import { createHeadlessService, deleteHeadlessService, readHeadlessService, updateHeadlessService } from './lifecycle';
import { headlessServicePreflight } from './preflight';
import { headlessServiceInputsSchema, type HeadlessServiceInputs, type HeadlessServiceOutputs } from './schema';

export const headlessServiceModule = defineKind<HeadlessServiceInputs, HeadlessServiceOutputs>({
  schema: headlessServiceInputsSchema,
  definition: headlessServiceDefinition,
  preflight: headlessServicePreflight,
  create: (inputs) => createHeadlessService(inputs),
  read: (id, props) => readHeadlessService(id, props),
  update: (_id, olds, news) => updateHeadlessService(olds, news),
  delete: (_id, props) => deleteHeadlessService(props),
});
