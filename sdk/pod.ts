import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { podInputsSchema } from '../provider/resources/pod/schema';
import type { WrappedArgs } from './inputs';
import { providerFor } from './provider';
import { ownerScope } from './owner';

type PodInput = z.input<typeof podInputsSchema>;

/** Anything that can stand for the pod's image: a template volid, or an object with `podImage` (an OciImage). */
export interface PodImageSource {
  readonly podImage: pulumi.Output<Exclude<PodInput['image'], string>>;
}

export type PodArgs = Omit<WrappedArgs<PodInput>, 'name' | 'restartPlanned' | 'image' | 'owner'> & {
  image: pulumi.Input<PodInput['image']> | PodImageSource;
};

export function imageInput(image: PodArgs['image']): pulumi.Input<PodInput['image']> {
  return typeof image === 'object' && image !== null && 'podImage' in image ? image.podImage : (image as pulumi.Input<PodInput['image']>);
}

/**
 * One LXC container on Proxmox VE running an image: `new Pod("web", { image, cores: 2, memory: 1024 })`.
 * Changes PVE can apply live are applied live; changes that need a restart show `restartPlanned` in the preview;
 * a new image, node, vmid or rootfs storage replaces the pod.
 */
export class Pod extends pulumi.dynamic.Resource {
  declare readonly vmid: pulumi.Output<number>;
  declare readonly node: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  declare readonly ip: pulumi.Output<string | undefined>;
  declare readonly mac: pulumi.Output<string | undefined>;

  constructor(name: string, args: PodArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerFor('Pod'),
      name,
      { vmid: undefined, node: undefined, hostname: undefined, ip: undefined, mac: undefined, ...args, image: imageInput(args.image), owner: ownerScope(), name, status: undefined },
      opts,
      'proxmox-pods',
      'Pod',
    );
  }
}
