import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { headlessServiceInputsSchema } from '../provider/resources/headless-service/schema';
import type { WrappedArgs } from './inputs';
import { ownerScope } from './owner';
import { providerFor } from './provider';

export type HeadlessServiceArgs = Omit<WrappedArgs<z.input<typeof headlessServiceInputsSchema>>, 'owner'>;

/**
 * The DNS zone `<name>.<namespace>.svc.<domain>` of a StatefulSet, served by dnsmasq on a node: an A record per ready
 * pod and SRV records per named port, updated as pods come and go.
 */
export class HeadlessService extends pulumi.dynamic.Resource {
  declare readonly zone: pulumi.Output<string>;
  declare readonly node: pulumi.Output<string>;
  declare readonly records: pulumi.Output<Array<{ name: string; ip: string }>>;
  declare readonly srv: pulumi.Output<string[]>;

  constructor(name: string, args: HeadlessServiceArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerFor('HeadlessService'), name, { zone: undefined, node: undefined, records: undefined, srv: undefined, ...args, owner: ownerScope(name) }, opts, 'proxmox-pods', 'HeadlessService');
  }
}
