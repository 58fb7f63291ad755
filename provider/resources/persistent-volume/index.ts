// The PersistentVolume kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts)
// and the lifecycle (lifecycle.ts).
import { checkWithSchema } from '../common/check';
import { declaredDiff } from '../common/definition';
import type { ResourceModule } from '../types';
import { persistentVolumeDefinition } from './definition';
import { createPersistentVolume, deletePersistentVolume, readPersistentVolume, updatePersistentVolume } from './lifecycle';
import { persistentVolumePreflight } from './preflight';
import { persistentVolumeInputsSchema, type PersistentVolumeInputs, type PersistentVolumeOutputs } from './schema';

export const persistentVolumeModule: ResourceModule<PersistentVolumeInputs, PersistentVolumeOutputs> = {
  kind: 'PersistentVolume',
  schema: persistentVolumeInputsSchema,
  check: (_olds, news) => checkWithSchema(persistentVolumeInputsSchema, news),
  diff: (_id, olds, news) => declaredDiff(persistentVolumeDefinition, olds, news),
  preflight: persistentVolumePreflight,
  create: (inputs) => createPersistentVolume(inputs),
  read: (id, props) => readPersistentVolume(id, props),
  update: (_id, olds, news) => updatePersistentVolume(olds, news),
  delete: (_id, props) => deletePersistentVolume(props),
};
