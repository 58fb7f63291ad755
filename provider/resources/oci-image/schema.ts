// The OciImage's inputs, validated once in check(); outputs are typed from the same schema.
import { z } from 'zod';
import { isValidDigest } from '../../oci/digest';
import { parsePlatform } from '../../oci/platform';
import { parseReference } from '../../oci/reference';
import { NODE_RE, STORAGE_RE } from '../../proxmox/ids';
import { isZfsDataset } from '../../host/zfs/names';
import { timeoutsSchema } from '../common/duration';
import { ownerScopeSchema } from '../common/owner';
import type { PodImage } from '../pod/schema';

// host[:port] as written in a reference; brackets for IPv6 literals.
const registryHost = /^(localhost|[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/;

/** Accepts what the reference parser accepts; its message says what is wrong. */
const referenceSchema = z.string().superRefine((s, ctx) => {
  try {
    parseReference(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^reference: /, '') });
  }
});

const platformSchema = z.string().superRefine((s, ctx) => {
  try {
    parsePlatform(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^platform: /, '') });
  }
});

export const credentialsSchema = z
  .object({
    /** Registry user name. */
    username: z.string().min(1, { message: 'must not be empty' }),
    /** Registry password or token; give it as a Pulumi secret (`pulumi.secret(...)` or a secret config value). */
    password: z.string().min(1, { message: 'must not be empty' }),
  })
  .strict();

export const ociImageInputsSchema = z
  .object({
    /**
     * The image: `registry[:port]/path[:tag][@digest]` (Docker Hub when there is no registry), `oci-layout:<dir>[:tag|@digest]`
     * or `oci-archive:<file.tar>[:tag]`. A tag that moves to another digest shows as a replacement in the preview.
     */
    reference: referenceSchema,
    /**
     * The platform taken from a multi-platform index (attestation entries are never picked).
     * @default "linux/amd64"
     */
    platform: platformSchema.default('linux/amd64'),
    /** Registry login; give the password as a Pulumi secret. Without it ~/.docker/config.json is consulted. */
    credentials: credentialsSchema.optional(),
    /** Registries (host[:port]) reached over plain HTTP. */
    insecureRegistries: z.array(z.string().regex(registryHost, { message: 'must be host[:port] such as "127.0.0.1:5000"' })).optional(),
    /**
     * Node whose storage receives the template.
     * @default the `proxmox-pods:node` config, or the cluster's only node
     */
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name such as "pve1"' }).optional(),
    /**
     * The PVE storage (with `vztmpl` content) that receives the template.
     * @default "local"
     */
    templateStorage: z.string().regex(STORAGE_RE, { message: 'must be a PVE storage id with vztmpl content, such as "local"' }).default('local'),
    /**
     * Also build ZFS layer chains on the node (one dataset per ChainID, `@ready` snapshots, shared between images):
     * the top snapshot is a pod's clone source. Layers are applied by the provider process, so the node's host
     * access must be local (the provider runs on the node) or a namespace.
     */
    zfs: z.object({
      /** The dataset the layer chains are built under, such as "rpool/proxmox-pods/images". */
      parentDataset: z.string().refine(isZfsDataset, { message: 'must be a ZFS dataset such as "rpool/proxmox-pods/images"' }),
    }).strict().optional(),
    /**
     * Content store directory on the machine running Pulumi.
     * @default $XDG_CACHE_HOME/proxmox-pods (~/.cache/proxmox-pods)
     */
    store: z.string().refine((s) => s.startsWith('/'), { message: 'must be an absolute path' }).optional(),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Hidden input from the SDK: the stack (and resource name) that claims the template and layer chains. */
    owner: ownerScopeSchema.optional(),
    /** Derived by check(): the digest the reference points to right now (manifest request only). */
    resolvedDigest: z.string().refine(isValidDigest, { message: 'must be a digest such as "sha256:<64 hex>"' }).optional(),
  })
  .strict();

export type OciImageInputs = z.infer<typeof ociImageInputsSchema>;
export type OciImageCredentials = z.infer<typeof credentialsSchema>;

/** Exactly what a Pod's `image` input accepts (its object form), always with the reference and digest. */
export type PodImageValue = Exclude<PodImage, string> & { reference: string; digest: string };

export interface OciImageSizes {
  /** Config + layers as downloaded. */
  compressed: number;
  /** Uncompressed layer tars (absent when the template was already on the storage and nothing was unpacked). */
  unpacked?: number;
  /** The OCI-archive template on the PVE storage. */
  template: number;
}

/** Outputs carry the inputs minus credentials: a secret never needs to live in outputs. */
export interface OciImageOutputs extends Omit<OciImageInputs, 'credentials'> {
  /** What the reference resolved to (an index or a manifest); changes when a tag moves. */
  digest: string;
  /** The platform manifest that was pulled. */
  manifestDigest: string;
  resolvedReference: string;
  /**
   * The digest without the tag (`registry/repo@sha256:…`, `oci-layout:<dir>@sha256:…`): give it to another stack's
   * OciImage (promotion) and that stack pulls exactly this content, never resolving a tag.
   */
  pinnedReference: string;
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  workdir: string;
  user: string;
  exposedPorts: string[];
  node: string;
  templateVolid: string;
  /** `<parentDataset>/<chain>@ready` of the top layer chain, when `zfs` is set. */
  zfsSnapshot?: string;
  /** With `zfs`: the OCI-archive scaffold pods cloned from the chain are created from (image config + /etc files). */
  scaffoldVolid?: string;
  /** The image's StopSignal (PVE writes it as lxc.signal.halt; SIGTERM when absent). */
  stopSignal?: string;
  sizes: OciImageSizes;
  podImage: PodImageValue;
  /**
   * Refresh's finding: false when the template is there but this image's claim on it is not (deleted through the API
   * or the PVE UI). Without its claim another stack's destroy would delete a template this stack still uses, so the
   * next `up` records it again. Absent means claimed (every create and update claims).
   */
  claimed?: boolean;
  /**
   * This image's instance in its claims on the template and layer chains (claim-instance.ts): when it was made, so
   * that the delete of the image a replacement replaced leaves the replacement's claims alone. Absent in state
   * written before instances and for images without an owner.
   */
  claimInstance?: string;
}
