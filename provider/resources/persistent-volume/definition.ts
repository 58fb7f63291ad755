// How a PersistentVolume's inputs apply: the dataset (name, parent, node) is its identity; size, owner uid and owner
// change on the dataset; the reclaim policy is read only when the volume goes. Pure; common/definition.ts turns it
// into the diff.
import type { ResourceDefinition } from '../common/definition';
import type { PersistentVolumeInputs, PersistentVolumeOutputs } from './schema';

export const persistentVolumeDefinition: ResourceDefinition<PersistentVolumeInputs, PersistentVolumeOutputs> = {
  kind: 'PersistentVolume',
  fields: {
    name: 'replace', parentDataset: { apply: 'replace', chosenWhenUnset: true }, node: { apply: 'replace', chosenWhenUnset: true },
    sizeGiB: 'live', ownerUid: 'live', owner: 'live',
    // Read only when the volume goes, or names the member it serves: nothing to do on the dataset.
    reclaimPolicy: 'state', ordinal: 'state', timeouts: 'state',
  },
  // Same name, same dataset: the old one goes (or is released) first.
  deleteBeforeReplace: true,
};
