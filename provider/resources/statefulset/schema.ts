import { z } from 'zod';
import { DNS_LABEL_RE, IPV4_CIDR_RE as ipv4Cidr } from '../../host/names';
import { podInputsSchema } from '../pod/schema';

const dnsLabel = z.string().regex(DNS_LABEL_RE, { message: 'must be a DNS label: lowercase letters, digits and "-" (at most 63)' });

const podShape = podInputsSchema.shape;

export const statefulSetPodInputsSchema = z
  .object({
    set: dnsLabel,
    ordinal: z.number().int().min(0, { message: 'must be 0 or more' }).max(9999),
    namespace: dnsLabel.default('default'),
    domain: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, { message: 'must be a DNS domain such as "cluster.local"' }).default('cluster.local'),
    /** The HeadlessService that owns the pod's DNS name. */
    service: dnsLabel.optional(),
    image: podShape.image,
    node: podShape.node,
    cores: podShape.cores,
    memory: podShape.memory,
    swap: podShape.swap,
    rootfs: podShape.rootfs,
    network: z
      .object({
        bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: 'must be a bridge name such as "vmbr0"' }).default('vmbr0'),
        /** Subnet the stable addresses come from: ordinal i gets network + offset + i. Without it the pod uses DHCP (stable MAC). */
        cidr: z.string().regex(ipv4Cidr, { message: 'must be an IPv4 subnet such as "10.20.0.0/24"' }).optional(),
        offset: z.number().int().min(1).default(10),
        gateway: z.string().optional(),
        vlan: z.number().int().min(1).max(4094).optional(),
        mtu: z.number().int().min(64).max(65535).optional(),
        firewall: z.boolean().optional(),
      })
      .strict()
      .default({ bridge: 'vmbr0', offset: 10 }),
    /** The pod's persistent volume (a PersistentVolume's outputs): host path mounted at `path`. */
    volume: z.object({ hostPath: z.string().startsWith('/', { message: 'must be an absolute host path' }), path: z.string().startsWith('/').default('/data'), node: z.string().optional() }).strict().optional(),
    nameserver: podShape.nameserver,
    searchdomain: podShape.searchdomain,
    env: podShape.env,
    entrypoint: podShape.entrypoint,
    tags: podShape.tags,
    description: podShape.description,
    running: podShape.running,
    onboot: podShape.onboot,
    unprivileged: podShape.unprivileged,
    nesting: podShape.nesting,
    timeouts: podShape.timeouts,
    owner: podShape.owner,
    restartPlanned: podShape.restartPlanned,
  })
  .strict();

export type StatefulSetPodInputs = z.infer<typeof statefulSetPodInputsSchema>;
