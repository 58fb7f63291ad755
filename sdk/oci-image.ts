import * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { ociImageInputsSchema, OciImageSizes, PodImageValue } from '../provider/resources/oci-image/schema';
import type { WrappedArgs } from './inputs';
import type { PodImageSource } from './pod';
import { ownerScope } from './owner';
import { providerFor } from './provider';

export type OciImageArgs = Omit<WrappedArgs<z.input<typeof ociImageInputsSchema>>, 'resolvedDigest' | 'owner'>;

/**
 * An OCI image pulled (every blob verified) and uploaded as a single-image OCI archive (PVE 9.1's OCI template) to a PVE storage:
 * `new OciImage("app", { reference: "ghcr.io/acme/app:1.4" })`, then `new Pod("web", { image: app })`.
 * A tag that moves to another digest shows as a replacement in `pulumi preview`, without downloading layers.
 */
export class OciImage extends pulumi.dynamic.Resource implements PodImageSource {
  /** What the reference resolved to (index or manifest digest). */
  declare readonly digest: pulumi.Output<string>;
  declare readonly manifestDigest: pulumi.Output<string>;
  /** The reference pinned to `digest`, tag kept (`registry/repo:tag@sha256:…`). */
  declare readonly resolvedReference: pulumi.Output<string>;
  /**
   * The digest alone, tag dropped (`registry/repo@sha256:…`, `oci-layout:<dir>@sha256:…`,
   * `oci-archive:<file>@sha256:…`): export it and give it to another stack's OciImage `reference` to promote
   * exactly this image; that stack never resolves the tag.
   */
  declare readonly pinnedReference: pulumi.Output<string>;
  declare readonly platform: pulumi.Output<string>;
  declare readonly entrypoint: pulumi.Output<string[]>;
  declare readonly cmd: pulumi.Output<string[]>;
  declare readonly env: pulumi.Output<Record<string, string>>;
  declare readonly workdir: pulumi.Output<string>;
  declare readonly user: pulumi.Output<string>;
  declare readonly exposedPorts: pulumi.Output<string[]>;
  declare readonly node: pulumi.Output<string>;
  declare readonly templateVolid: pulumi.Output<string>;
  declare readonly sizes: pulumi.Output<OciImageSizes>;
  /** `<parentDataset>/<chain>@ready` of the top layer chain when `zfs` is set: pods of this image clone it. */
  declare readonly zfsSnapshot: pulumi.Output<string | undefined>;
  /** With `zfs`: the OCI-archive scaffold (image config + /etc/passwd + /etc/group) cloned pods are created from. */
  declare readonly scaffoldVolid: pulumi.Output<string | undefined>;
  /** The image's StopSignal; PVE's OCI create makes it the CT's halt signal (SIGTERM when absent). */
  declare readonly stopSignal: pulumi.Output<string | undefined>;
  /**
   * This image's instance in its claims on the shared template and layer chains: when it was made. The delete of an
   * image that a replacement replaced takes only its own and older claims, never the replacement's.
   */
  declare readonly claimInstance: pulumi.Output<string | undefined>;
  /** The value a Pod's `image` takes; `new Pod(name, { image: thisImage })` uses it. */
  declare readonly podImage: pulumi.Output<PodImageValue>;

  constructor(name: string, args: OciImageArgs, opts?: pulumi.CustomResourceOptions) {
    const outputs = {
      digest: undefined, manifestDigest: undefined, resolvedReference: undefined, pinnedReference: undefined, entrypoint: undefined, cmd: undefined, env: undefined,
      workdir: undefined, user: undefined, exposedPorts: undefined, templateVolid: undefined, sizes: undefined, podImage: undefined,
      zfsSnapshot: undefined, scaffoldVolid: undefined, stopSignal: undefined, claimInstance: undefined,
    };
    // The registry password stays a secret in state whatever the program passed.
    const credentials = args.credentials ? pulumi.secret(args.credentials) : undefined;
    // owner: this stack's claim on the shared template and chains (provider/resources/oci-image/claims.ts).
    super(providerFor('OciImage'), name, { ...outputs, node: undefined, ...args, credentials, owner: ownerScope(name) }, opts, 'proxmox-pods', 'OciImage');
  }
}
