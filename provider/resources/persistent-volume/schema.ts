import { z } from 'zod';
import { NODE_RE } from '../../proxmox/ids';
import { isZfsDataset } from '../../host/zfs/names';
import { timeoutsSchema } from '../common/duration';
import { ownerScopeSchema } from '../common/owner';

export const persistentVolumeInputsSchema = z
  .object({
    /** The volume's identity; with a StatefulSet, `<namespace>-<set>-<ordinal>`. Also the dataset's last component. */
    name: z.string().regex(/^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/, { message: 'must be lowercase letters, digits and . _ - (at most 128)' }),
    /**
     * Parent dataset on the node's pool, such as "rpool/data/proxmox-pods".
     * @default the `proxmox-pods:volumeDataset` config
     */
    parentDataset: z.string().refine(isZfsDataset, { message: 'must be a ZFS dataset such as "rpool/data/proxmox-pods"' }).optional(),
    /**
     * The node whose pool holds the dataset.
     * @default spread by `ordinal` when given, else the `proxmox-pods:node` config or the only node
     */
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name' }).optional(),
    /** Spread volumes like StatefulSet members: ordinal i lands on the i-th node (sorted). */
    ordinal: z.number().int().min(0).optional(),
    /** The dataset's quota in GiB. */
    sizeGiB: z.number().int().min(1, { message: 'must be at least 1 GiB' }).max(65536),
    /**
     * Retain: the dataset stays when the volume leaves the program, and a later volume of the same name takes it back.
     * Delete: it is destroyed with the volume.
     * @default "Retain"
     */
    reclaimPolicy: z.enum(['Retain', 'Delete'], { message: 'must be "Retain" or "Delete"' }).default('Retain'),
    /**
     * Host uid/gid that owns the volume's root: 100000 is root inside an unprivileged container.
     * @default 100000
     */
    ownerUid: z.number().int().min(0).default(100000),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Hidden input from the SDK: the stack and resource that own the dataset (`proxmox-pods:owner` on it). */
    owner: ownerScopeSchema.optional(),
  })
  .strict();

export type PersistentVolumeInputs = z.infer<typeof persistentVolumeInputsSchema>;

export interface PersistentVolumeOutputs extends PersistentVolumeInputs {
  node: string;
  dataset: string;
  hostPath: string;
  /** True when create took back a dataset a previous volume of this name retained. */
  reused: boolean;
}
