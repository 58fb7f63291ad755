import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { portForwardInputsSchema } from '../provider/resources/port-forward/schema';
import type { WrappedArgs } from './inputs';
import { ownerScope } from './owner';
import { providerFor } from './provider';

export type PortForwardArgs = Omit<WrappedArgs<z.input<typeof portForwardInputsSchema>>, 'name' | 'owner'>;

/** node address:port → pod ip:port (tcp or udp) through nftables DNAT in the provider's own table. */
export class PortForward extends pulumi.dynamic.Resource {
  declare readonly node: pulumi.Output<string>;
  declare readonly listen: pulumi.Output<string>;
  declare readonly complete: pulumi.Output<boolean>;

  constructor(name: string, args: PortForwardArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerFor('PortForward'), name, { node: undefined, listen: undefined, complete: undefined, ...args, name, owner: ownerScope() }, opts, 'proxmox-pods', 'PortForward');
  }
}
