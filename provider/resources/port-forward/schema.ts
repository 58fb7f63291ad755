// The PortForward's inputs, validated once in check(): the forward spec of the host layer (host/nftables.ts) with the
// resource's own fields; outputs are typed from the same schema.
import { z } from 'zod';
import { forwardSpecSchema } from '../../host/nftables';
import { NODE_RE } from '../../proxmox/ids';
import { timeoutsSchema } from '../common/duration';
import { ownerScopeSchema } from '../common/owner';

export const portForwardInputsSchema = forwardSpecSchema
  .omit({ id: true, owner: true })
  .extend({
    /** The resource name; identifies the forward's rules on the node. */
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1–64 of [A-Za-z0-9_.:-] (it names the nft rules)' }),
    /**
     * The node whose nftables get the rules.
     * @default the `proxmox-pods:node` config, or the cluster's only node
     */
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name' }).optional(),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Hidden input from the SDK: the stack that owns the forward (8 hex digits of its owner tag in the rules' comments). */
    owner: ownerScopeSchema.optional(),
  })
  .strict();
export type PortForwardInputs = z.infer<typeof portForwardInputsSchema>;
export interface PortForwardOutputs extends PortForwardInputs {
  node: string;
  /** Where clients connect: `<address or *>:<port>/<protocol>`. */
  listen: string;
  /** False when a rule was removed on the node behind Pulumi's back (refresh); the next update restores it. */
  complete: boolean;
}
