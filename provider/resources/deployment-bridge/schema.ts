import { z } from 'zod';
import { IPV4_CIDR_RE } from '../../host/names';
import { NODE_RE } from '../../proxmox/ids';
import { timeoutsSchema } from '../common/duration';
import { ownerScopeSchema } from '../common/owner';

export const deploymentBridgeInputsSchema = z
  .object({
    /** The bridge interface, PVE style: vmbrN. */
    name: z.string().regex(/^vmbr\d{1,4}$/, { message: 'must be a PVE bridge name such as "vmbr10"' }),
    /**
     * The node the bridge is made on.
     * @default the `proxmox-pods:node` config, or the cluster's only node
     */
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name' }).optional(),
    /** The node's address on the bridge (the pods' gateway), e.g. "10.20.0.1/24". */
    cidr: z.string().regex(IPV4_CIDR_RE, { message: 'must be an IPv4 CIDR such as "10.20.0.1/24"' }).optional(),
    /** MTU of the bridge (1280–65520). */
    mtu: z.number().int().min(1280, { message: 'must be between 1280 and 65520 (PVE)' }).max(65520, { message: 'must be between 1280 and 65520 (PVE)' }).optional(),
    /**
     * Spanning Tree Protocol on the bridge.
     * @default false
     */
    stp: z.boolean().default(false),
    /**
     * IGMP/MLD snooping: multicast goes only to ports that joined the group.
     * @default true
     */
    multicastSnooping: z.boolean().default(true),
    /**
     * Pods on the bridge reach the gateway/uplink but not each other.
     * @default true
     */
    isolatePorts: z.boolean().default(true),
    /**
     * Bridge VLAN filtering, for pods with `network.vlan`; see `vlanFallback` for kernels without it.
     * @default false
     */
    vlanAware: z.boolean().default(false),
    /**
     * VLAN awareness on a kernel without bridge VLAN filtering: "fail", or "downgrade" (run without it, reported in `warnings`).
     * @default "fail"
     */
    vlanFallback: z.enum(['fail', 'downgrade']).default('fail'),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Hidden input from the SDK: the stack and resource that own the bridge (recorded in its PVE comments). */
    owner: ownerScopeSchema.optional(),
  })
  .strict();

export type DeploymentBridgeInputs = z.infer<typeof deploymentBridgeInputsSchema>;

export interface DeploymentBridgeOutputs extends DeploymentBridgeInputs {
  node: string;
  bridge: string;
  applied: { vlanFiltering: boolean; isolatePorts: boolean; multicastSnooping: boolean; stp: boolean; mtu?: number };
  warnings: string[];
}

export { commentFor, commentOwner, commentOwnerId, isManagedComment } from '../common/isolation';
