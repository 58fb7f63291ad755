// The PersistentVolume kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts)
// and the lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { persistentVolumeDefinition } from './definition';
import { createPersistentVolume, deletePersistentVolume, readPersistentVolume, updatePersistentVolume } from './lifecycle';
import { persistentVolumePreflight } from './preflight';
import { persistentVolumeInputsSchema, type PersistentVolumeInputs, type PersistentVolumeOutputs } from './schema';

export const persistentVolumeModule = defineKind<PersistentVolumeInputs, PersistentVolumeOutputs>({
  schema: persistentVolumeInputsSchema,
  definition: persistentVolumeDefinition,
  preflight: persistentVolumePreflight,
  create: (inputs) => createPersistentVolume(inputs),
  read: (id, props) => readPersistentVolume(id, props),
  update: (_id, olds, news) => updatePersistentVolume(olds, news),
  delete: (_id, props) => deletePersistentVolume(props),
});
