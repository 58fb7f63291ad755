// The Pod's inputs, validated once in check(); every other module uses the inferred types.
import { z } from 'zod';
import { IPV4_CIDR_RE as ipv4Cidr, IPV4_RE as ipv4 } from '../../host/names';
import { NODE_RE, STORAGE_RE as storageId, VOLID_RE as volid } from '../../proxmox/ids';
import { timeoutsSchema } from '../common/duration';
import { isSnapshotName } from '../../host/zfs/names';
import { ownerScopeSchema } from '../common/owner';
import { gatewayProblem } from '../common/subnet';

const dnsName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const mac = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const ifaceName = /^[A-Za-z0-9_.-]{1,15}$/;
const tag = /^[a-z0-9_][a-z0-9_\-+.]*$/;
const envName = /^\w+$/;
// PVE rejects control characters in entrypoint/env (tab is allowed in entrypoint only).
const noControl = (allowTab: boolean) => (s: string) => ![...s].some((c) => c.charCodeAt(0) < 32 && !(allowTab && c === '\t'));

/** What the pod runs: a template volid, or an OciImage's outputs (which also carry the image's defaults). */
export const imageSchema = z.union([
  z.string().regex(volid, { message: 'must be a template volid such as "local:vztmpl/debian-12.tar.zst", or an OciImage' }),
  z
    .object({
      /** The LXC template (volid) the rootfs is extracted from: the OciImage's upload, or the scaffold when `zfsSnapshot` is set. */
      template: z.string().regex(volid, { message: 'must be a template volid such as "local:vztmpl/app.tar.zst"' }),
      /** The image reference it was pulled from (kept in the pod's metadata). */
      reference: z.string().optional(),
      /** The digest the image was pulled at (kept in the pod's metadata). */
      digest: z.string().optional(),
      /** The image's Entrypoint: the pod runs entrypoint + cmd unless it sets its own `entrypoint`. */
      entrypoint: z.array(z.string()).optional(),
      /** The image's Cmd: the arguments after the entrypoint. */
      cmd: z.array(z.string()).optional(),
      /** The image's environment; the pod's `env` is merged over it. */
      env: z.record(z.string(), z.string()).optional(),
      /** The image's working directory. */
      workdir: z.string().optional(),
      /** The user the image runs as. */
      user: z.string().optional(),
      /** PVE's `arch` for the image's platform; set at create (PVE cannot detect it in images without /bin/sh). */
      arch: z.enum(['amd64', 'i386', 'arm64', 'armhf', 'riscv32', 'riscv64'], { message: 'must be a PVE arch: amd64, i386, arm64, armhf, riscv32 or riscv64' }).optional(),
      /**
       * The image's ZFS layer chain (OciImage with `zfs`): the rootfs becomes an instant clone of this snapshot
       * instead of an extracted template. Needs a zfspool rootfs storage on the same pool and the same node.
       */
      zfsSnapshot: z.string().refine(isSnapshotName, { message: 'must be a ZFS snapshot such as "rpool/proxmox-pods/images/<chain>@ready"' }).optional(),
      /** With zfsSnapshot: the OciImage's OCI-archive scaffold the pod is created from (PVE maps its config). */
      scaffold: z.string().regex(volid, { message: 'must be a template volid such as "local:vztmpl/oci-<id>.scaffold.tar"' }).optional(),
      /** The image's StopSignal: PVE's OCI create writes it as lxc.signal.halt (shown here, not settable). */
      stopSignal: z.string().optional(),
    })
    .strict(),
]);

export const networkSchema = z
  .object({
    /**
     * The bridge eth0 is attached to.
     * @default "vmbr0"
     */
    bridge: z.string().regex(ifaceName, { message: 'must be a bridge name such as "vmbr0" (letters, digits, _ . -; at most 15)' }).default('vmbr0'),
    /**
     * `"dhcp"`, or a static IPv4 address with its prefix such as "10.0.0.10/24".
     * @default "dhcp"
     */
    ip: z
      .string()
      .refine((s) => s === 'dhcp' || ipv4Cidr.test(s), { message: 'must be "dhcp" or an IPv4 CIDR such as "10.0.0.10/24"' })
      .default('dhcp'),
    /** The default gateway; only with a static `ip`, and in its subnet unless `gatewayOnLink` is set. */
    gateway: z.string().regex(ipv4, { message: 'must be an IPv4 address such as "10.0.0.1"' }).optional(),
    /**
     * Accept a `gateway` outside the subnet of `ip`: it is reached on the link, as PVE sets it up (a host route to the
     * gateway, then the default route through it). Without it such a gateway is refused, as the typo it usually is.
     * Only the check changes: nothing of it is written to the container.
     * @default false
     */
    gatewayOnLink: z.boolean().optional(),
    /** VLAN tag (1–4094) of the bridge port; the bridge must be VLAN-aware. */
    vlan: z.number().int().min(1, { message: 'must be a VLAN id between 1 and 4094' }).max(4094, { message: 'must be a VLAN id between 1 and 4094' }).optional(),
    /**
     * MTU of eth0 (64–65535).
     * @default the bridge's
     */
    mtu: z.number().int().min(64, { message: 'must be between 64 and 65535' }).max(65535, { message: 'must be between 64 and 65535' }).optional(),
    /**
     * MAC address of eth0.
     * @default one PVE generates
     */
    mac: z.string().regex(mac, { message: 'must be a MAC address such as "BC:24:11:00:00:01"' }).optional(),
    /** Put eth0 behind PVE's firewall. */
    firewall: z.boolean().optional(),
    /** Rate limit of eth0 in MB/s (PVE's `rate`). */
    rateMbps: z.number().positive({ message: 'must be a positive rate in MB/s' }).optional(),
    /**
     * PVE's `host-managed`: the node configures the address (ip, gateway) when the CT starts, instead of the CT's own
     * init. Default as PVE's OCI create: on for application images (an entrypoint other than /sbin/init), unset else.
     */
    hostManaged: z.boolean().optional(),
  })
  .strict()
  .refine((n) => !(n.ip === 'dhcp' && n.gateway), { message: 'gateway is only valid with a static ip; remove it or set ip to a CIDR', path: ['gateway'] })
  .superRefine((n, ctx) => {
    const problem = n.gateway && n.ip !== 'dhcp' && !n.gatewayOnLink ? gatewayProblem(n.ip, n.gateway) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['gateway'] });
  });

export const rootfsSchema = z
  .object({
    /**
     * The PVE storage of the root disk, such as "local-zfs" (a zfspool storage for pods cloned from a ZFS chain).
     * @default the `proxmox-pods:storage` config, else "local-lvm"
     */
    storage: z.string().regex(storageId, { message: 'must be a PVE storage id such as "local-zfs" or "local-lvm"' }).optional(),
    /**
     * Size of the root disk in GiB: growing it applies live, shrinking it replaces the pod.
     * @default 4
     */
    sizeGiB: z.number().int({ message: 'must be a whole number of GiB' }).min(1, { message: 'must be at least 1 GiB' }).max(65536).default(4),
  })
  .strict();

export const mountSchema = z
  .object({
    /** A host path (bind mount, root@pam only in PVE) or a PVE volume id. */
    source: z.string().refine((s) => s.startsWith('/') || volid.test(s), { message: 'must be an absolute host path or a PVE volume id such as "local-zfs:subvol-100-disk-1"' }),
    /** Where it is mounted inside the pod (absolute). */
    path: z.string().regex(/^\/[^\0,;=]*$/, { message: 'must be an absolute path inside the pod without , ; or =' }),
    /** Mount it read-only. */
    readOnly: z.boolean().optional(),
    /** Include it in PVE backups of the pod. */
    backup: z.boolean().optional(),
  })
  .strict();

export const podInputsSchema = z
  .object({
    /** The Pulumi resource name; the default hostname. */
    name: z.string().min(1),
    image: imageSchema,
    /**
     * The PVE node the pod runs on; another node replaces the pod.
     * @default the `proxmox-pods:node` config, or the cluster's only node
     */
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name such as "pve1"' }).optional(),
    /**
     * The container id (100–999999999); another id replaces the pod, deleting the old one first.
     * @default the next free id (allocated race-safe)
     */
    vmid: z
      .number()
      .int()
      .min(100, { message: 'must be between 100 and 999999999 (PVE reserves ids below 100)' })
      .max(999_999_999, { message: 'must be between 100 and 999999999' })
      .optional(),
    /**
     * The container's hostname (a DNS name); applied live.
     * @default the resource name
     */
    hostname: z.string().regex(dnsName, { message: 'must be a DNS name: lowercase letters, digits and "-", labels of at most 63' }).optional(),
    /**
     * CPU cores; applied live.
     * @default 1
     */
    cores: z.number().int().min(1, { message: 'must be at least 1' }).max(8192).default(1),
    /**
     * Memory in MiB (at least 16); applied live.
     * @default 512
     */
    memory: z.number().int().min(16, { message: 'must be at least 16 (MiB), PVE\'s minimum' }).default(512),
    /**
     * Swap in MiB; applied live.
     * @default 512
     */
    swap: z.number().int().min(0, { message: 'must be 0 or more (MiB)' }).default(512),
    /**
     * The root disk: growing it applies live; shrinking it or another storage replaces the pod.
     * @default { sizeGiB: 4 }
     */
    rootfs: rootfsSchema.default({ sizeGiB: 4 }),
    /** The pod's network interface (eth0); changes apply live. Without it the pod has no network. */
    network: networkSchema.optional(),
    /** Extra mount points (mp0…mp9): host directories (bind mounts, which PVE allows root@pam only) or PVE volumes. */
    mounts: z.array(mountSchema).max(10, { message: 'at most 10 mounts (mp0..mp9)' }).optional(),
    /**
     * DNS servers of the pod; applied at the next start (the update restarts the pod).
     * @default the host's
     */
    nameserver: z.array(z.string().regex(ipv4, { message: 'must be an IPv4 address' })).optional(),
    /**
     * DNS search domain of the pod; applied at the next start (the update restarts the pod).
     * @default the host's
     */
    searchdomain: z.string().regex(dnsName, { message: 'must be a DNS domain such as "lab.example"' }).optional(),
    /** Environment variables, merged over the image's (its PATH kept); applied at the next start (the update restarts the pod). */
    env: z
      .record(z.string().regex(envName, { message: 'environment names may contain only letters, digits and _' }), z.string().refine(noControl(false), { message: 'must not contain control characters' }))
      .optional(),
    /**
     * The command the pod runs, as argv; applied at the next start (the update restarts the pod).
     * @default the image's Entrypoint + Cmd
     */
    entrypoint: z.array(z.string().refine(noControl(true), { message: 'must not contain control characters' })).min(1, { message: 'must name at least the program to run' }).optional(),
    /** PVE tags (lowercase); applied live. proxmox-pods adds its own `proxmox-pods` tag beside them. */
    tags: z.array(z.string().regex(tag, { message: 'tags are lowercase letters, digits and _ - + . (not starting with - + .)' })).optional(),
    /** The container's notes in the PVE UI (at most 7000 characters); applied live. */
    description: z.string().max(7000, { message: 'must be at most 7000 characters (PVE allows 8 KiB and proxmox-pods keeps its metadata there too)' }).optional(),
    /**
     * Whether the pod runs: false stops it, true starts it; applied live.
     * @default true
     */
    running: z.boolean().default(true),
    /** Start the pod when its node boots; applied live. */
    onboot: z.boolean().optional(),
    /**
     * Run as an unprivileged container (uids shifted by 100000); changing it replaces the pod.
     * @default true
     */
    unprivileged: z.boolean().default(true),
    /** Allow containers inside the pod (PVE feature `nesting`); applied at the next start. */
    nesting: z.boolean().optional(),
    /**
     * The Pulumi project and stack that own the pod, set by the SDK. With the kind and `name` it forms the owner key
     * the container carries (a `pp-…` tag and its metadata): creates find what an interrupted create made, and the
     * provider never changes or deletes a container another pod or stack owns.
     */
    owner: ownerScopeSchema.optional(),
    /** Take over an existing container with this vmid instead of creating one (Pulumi import does not work for dynamic providers). */
    adopt: z.boolean().optional(),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Derived by check(): why an update will restart the pod. Shown by `pulumi preview --diff`. */
    restartPlanned: z.string().optional(),
  })
  .strict()
  .refine((p) => !p.adopt || p.vmid !== undefined, { message: 'adopt needs the vmid of the container to take over', path: ['vmid'] });

export type PodInputs = z.infer<typeof podInputsSchema>;
export type PodNetwork = z.infer<typeof networkSchema>;
export type PodMount = z.infer<typeof mountSchema>;
export type PodImage = z.infer<typeof imageSchema>;

/** What the provider observes about a pod's container (outputs beside the inputs). */
export interface PodObserved {
  vmid: number;
  node: string;
  hostname: string;
  status: string;
  ip?: string;
  mac?: string;
}

export interface PodOutputs extends Omit<PodInputs, keyof PodObserved>, PodObserved {}

export function templateOf(image: PodImage): string {
  return typeof image === 'string' ? image : image.template;
}

export function zfsSnapshotOf(image: PodImage): string | undefined {
  return typeof image === 'string' ? undefined : image.zfsSnapshot;
}

/** The hostname a pod gets: `hostname`, else its name made a DNS label (the schema's documented default). */
export function hostnameFor(inputs: Pick<PodInputs, 'hostname' | 'name'>): string {
  if (inputs.hostname) return inputs.hostname;
  const h = inputs.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h || 'pod';
}
