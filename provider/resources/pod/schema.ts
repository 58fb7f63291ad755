// The Pod's inputs, validated once in check(); every other module uses the inferred types.
import { z } from 'zod';
import { IPV4_CIDR_RE as ipv4Cidr, IPV4_RE as ipv4 } from '../../host/names';
import { NODE_RE, STORAGE_RE as storageId, VOLID_RE as volid } from '../../proxmox/ids';
import { timeoutsSchema } from '../common/duration';
import { isSnapshotName } from '../../oci/convert/zfs';

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
      template: z.string().regex(volid, { message: 'must be a template volid such as "local:vztmpl/app.tar.zst"' }),
      reference: z.string().optional(),
      digest: z.string().optional(),
      entrypoint: z.array(z.string()).optional(),
      cmd: z.array(z.string()).optional(),
      env: z.record(z.string(), z.string()).optional(),
      workdir: z.string().optional(),
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
    bridge: z.string().regex(ifaceName, { message: 'must be a bridge name such as "vmbr0" (letters, digits, _ . -; at most 15)' }).default('vmbr0'),
    ip: z
      .string()
      .refine((s) => s === 'dhcp' || ipv4Cidr.test(s), { message: 'must be "dhcp" or an IPv4 CIDR such as "10.0.0.10/24"' })
      .default('dhcp'),
    gateway: z.string().regex(ipv4, { message: 'must be an IPv4 address such as "10.0.0.1"' }).optional(),
    vlan: z.number().int().min(1, { message: 'must be a VLAN id between 1 and 4094' }).max(4094, { message: 'must be a VLAN id between 1 and 4094' }).optional(),
    mtu: z.number().int().min(64, { message: 'must be between 64 and 65535' }).max(65535, { message: 'must be between 64 and 65535' }).optional(),
    mac: z.string().regex(mac, { message: 'must be a MAC address such as "BC:24:11:00:00:01"' }).optional(),
    firewall: z.boolean().optional(),
    rateMbps: z.number().positive({ message: 'must be a positive rate in MB/s' }).optional(),
    /**
     * PVE's `host-managed`: the node configures the address (ip, gateway) when the CT starts, instead of the CT's own
     * init. Default as PVE's OCI create: on for application images (an entrypoint other than /sbin/init), unset else.
     */
    hostManaged: z.boolean().optional(),
  })
  .strict()
  .refine((n) => !(n.ip === 'dhcp' && n.gateway), { message: 'gateway is only valid with a static ip; remove it or set ip to a CIDR', path: ['gateway'] });

export const rootfsSchema = z
  .object({
    storage: z.string().regex(storageId, { message: 'must be a PVE storage id such as "local-zfs" or "local-lvm"' }).optional(),
    sizeGiB: z.number().int({ message: 'must be a whole number of GiB' }).min(1, { message: 'must be at least 1 GiB' }).max(65536).default(4),
  })
  .strict();

export const mountSchema = z
  .object({
    /** A host path (bind mount, root@pam only in PVE) or a PVE volume id. */
    source: z.string().refine((s) => s.startsWith('/') || volid.test(s), { message: 'must be an absolute host path or a PVE volume id such as "local-zfs:subvol-100-disk-1"' }),
    path: z.string().regex(/^\/[^\0,;=]*$/, { message: 'must be an absolute path inside the pod without , ; or =' }),
    readOnly: z.boolean().optional(),
    backup: z.boolean().optional(),
  })
  .strict();

export const podInputsSchema = z
  .object({
    /** The Pulumi resource name; the default hostname. */
    name: z.string().min(1),
    image: imageSchema,
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name such as "pve1"' }).optional(),
    vmid: z
      .number()
      .int()
      .min(100, { message: 'must be between 100 and 999999999 (PVE reserves ids below 100)' })
      .max(999_999_999, { message: 'must be between 100 and 999999999' })
      .optional(),
    hostname: z.string().regex(dnsName, { message: 'must be a DNS name: lowercase letters, digits and "-", labels of at most 63' }).optional(),
    cores: z.number().int().min(1, { message: 'must be at least 1' }).max(8192).default(1),
    memory: z.number().int().min(16, { message: 'must be at least 16 (MiB), PVE\'s minimum' }).default(512),
    swap: z.number().int().min(0, { message: 'must be 0 or more (MiB)' }).default(512),
    rootfs: rootfsSchema.default({ sizeGiB: 4 }),
    network: networkSchema.optional(),
    mounts: z.array(mountSchema).max(10, { message: 'at most 10 mounts (mp0..mp9)' }).optional(),
    nameserver: z.array(z.string().regex(ipv4, { message: 'must be an IPv4 address' })).optional(),
    searchdomain: z.string().regex(dnsName, { message: 'must be a DNS domain such as "lab.example"' }).optional(),
    env: z
      .record(z.string().regex(envName, { message: 'environment names may contain only letters, digits and _' }), z.string().refine(noControl(false), { message: 'must not contain control characters' }))
      .optional(),
    entrypoint: z.array(z.string().refine(noControl(true), { message: 'must not contain control characters' })).min(1, { message: 'must name at least the program to run' }).optional(),
    tags: z.array(z.string().regex(tag, { message: 'tags are lowercase letters, digits and _ - + . (not starting with - + .)' })).optional(),
    description: z.string().max(7000, { message: 'must be at most 7000 characters (PVE allows 8 KiB and proxmox-pods keeps its metadata there too)' }).optional(),
    running: z.boolean().default(true),
    onboot: z.boolean().optional(),
    unprivileged: z.boolean().default(true),
    nesting: z.boolean().optional(),
    /** Take over an existing container with this vmid instead of creating one (Pulumi import does not work for dynamic providers). */
    adopt: z.boolean().optional(),
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

