import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { statefulSetPodInputsSchema } from '../provider/resources/statefulset-pod/schema';
import type { WrappedArgs } from './inputs';
import { imageInput, type PodImageSource } from './pod';
import { providerFor } from './provider';
import { ownerScope } from './owner';

type StatefulSetPodInput = z.input<typeof statefulSetPodInputsSchema>;

export type StatefulSetPodArgs = Omit<WrappedArgs<StatefulSetPodInput>, 'restartPlanned' | 'image' | 'owner'> & {
  /**
   * What the pod runs: an `OciImage` (its entrypoint, cmd and env become the pod's defaults), or a PVE template volid
   * such as "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst". Another image replaces the pod.
   */
  image: pulumi.Input<StatefulSetPodInput['image']> | PodImageSource;
};

/**
 * A pod with stable identity: name and hostname `<set>-<ordinal>`, a MAC derived from (namespace, set, ordinal), an IP
 * of `network.cidr` at offset + ordinal, and DNS name `<pod>.<service>.<namespace>.svc.<domain>`. A replacement pod
 * gets the same identity and the same volume.
 */
export class StatefulSetPod extends pulumi.dynamic.Resource {
  declare readonly vmid: pulumi.Output<number>;
  declare readonly node: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;
  declare readonly podName: pulumi.Output<string>;
  declare readonly fqdn: pulumi.Output<string | undefined>;
  declare readonly status: pulumi.Output<string>;
  declare readonly ip: pulumi.Output<string | undefined>;
  declare readonly mac: pulumi.Output<string | undefined>;
  declare readonly ordinal: pulumi.Output<number>;

  constructor(name: string, args: StatefulSetPodArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerFor('StatefulSetPod'),
      name,
      { vmid: undefined, node: undefined, hostname: undefined, podName: undefined, fqdn: undefined, status: undefined, ip: undefined, mac: undefined, ...args, image: imageInput(args.image), owner: ownerScope() },
      opts,
      'proxmox-pods',
      'StatefulSetPod',
    );
  }
}
