import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { deploymentBridgeInputsSchema } from '../provider/resources/deployment-bridge/schema';
import type { WrappedArgs } from './inputs';
import { ownerScope } from './owner';
import { providerFor } from './provider';

export type DeploymentBridgeArgs = Omit<WrappedArgs<z.input<typeof deploymentBridgeInputsSchema>>, 'owner'>;

/** A Linux bridge for one deployment (PVE network API + host security). `name` is the interface, e.g. "vmbr10". */
export class DeploymentBridge extends pulumi.dynamic.Resource {
  declare readonly node: pulumi.Output<string>;
  declare readonly bridge: pulumi.Output<string>;
  declare readonly applied: pulumi.Output<{ vlanFiltering: boolean; isolatePorts: boolean; multicastSnooping: boolean; stp: boolean; mtu?: number }>;
  declare readonly warnings: pulumi.Output<string[]>;

  constructor(name: string, args: DeploymentBridgeArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerFor('DeploymentBridge'), name, { node: undefined, bridge: undefined, applied: undefined, warnings: undefined, ...args, owner: ownerScope(name) }, opts, 'proxmox-pods', 'DeploymentBridge');
  }
}
