import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { persistentVolumeInputsSchema } from '../provider/resources/persistent-volume/schema';
import type { WrappedArgs } from './inputs';
import { ownerScope } from './owner';
import { providerFor } from './provider';

export type PersistentVolumeArgs = Omit<WrappedArgs<z.input<typeof persistentVolumeInputsSchema>>, 'owner'>;

/**
 * A ZFS dataset on a node that outlives the pods using it. `reclaimPolicy: "Retain"` (default) keeps the data when the
 * volume leaves the program, and a later volume of the same name takes it back; `"Delete"` destroys it.
 */
export class PersistentVolume extends pulumi.dynamic.Resource {
  declare readonly node: pulumi.Output<string>;
  declare readonly dataset: pulumi.Output<string>;
  declare readonly hostPath: pulumi.Output<string>;
  declare readonly reused: pulumi.Output<boolean>;

  constructor(name: string, args: PersistentVolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerFor('PersistentVolume'), name, { node: undefined, dataset: undefined, hostPath: undefined, reused: undefined, ...args, owner: ownerScope(name) }, opts, 'proxmox-pods', 'PersistentVolume');
  }
}
