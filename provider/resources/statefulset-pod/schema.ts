import { z } from 'zod';
import { DNS_LABEL_RE, IPV4_CIDR_RE as ipv4Cidr } from '../../host/names';
import { podInputsSchema, type PodObserved } from '../pod/schema';

const dnsLabel = z.string().regex(DNS_LABEL_RE, { message: 'must be a DNS label: lowercase letters, digits and "-" (at most 63)' });

const podShape = podInputsSchema.shape;

export const statefulSetPodInputsSchema = z
  .object({
    /** The StatefulSet's name: members are `<set>-<ordinal>`. Part of the identity: another set is another pod. */
    set: dnsLabel,
    /** The member's index from 0: its name, its address (network + offset + ordinal) and its node. Part of the identity. */
    ordinal: z.number().int().min(0, { message: 'must be 0 or more' }).max(9999),
    /**
     * The namespace in DNS names (`<pod>.<service>.<namespace>.svc.<domain>`) and in the identity the MAC is derived from.
     * @default "default"
     */
    namespace: dnsLabel.default('default'),
    /**
     * The cluster domain that ends DNS names.
     * @default "cluster.local"
     */
    domain: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, { message: 'must be a DNS domain such as "cluster.local"' }).default('cluster.local'),
    /** The HeadlessService that owns the pod's DNS name. */
    service: dnsLabel.optional(),
    image: podShape.image,
    node: podShape.node,
    cores: podShape.cores,
    memory: podShape.memory,
    swap: podShape.swap,
    rootfs: podShape.rootfs,
    /**
     * The pod's eth0: a MAC derived from the identity, and a stable address when `cidr` is set; changes apply live.
     * @default { bridge: "vmbr0", offset: 10 }
     */
    network: z
      .object({
        /**
         * The bridge eth0 is attached to.
         * @default "vmbr0"
         */
        bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: 'must be a bridge name such as "vmbr0"' }).default('vmbr0'),
        /** Subnet the stable addresses come from: ordinal i gets network + offset + i. Without it the pod uses DHCP (stable MAC). */
        cidr: z.string().regex(ipv4Cidr, { message: 'must be an IPv4 subnet such as "10.20.0.0/24"' }).optional(),
        /**
         * Where the members' addresses start in `cidr`: ordinal i gets network + offset + i.
         * @default 10
         */
        offset: z.number().int().min(1).default(10),
        /** The default gateway; only with `cidr`, and in it unless `gatewayOnLink` is set. */
        gateway: z.string().optional(),
        /**
         * Accept a `gateway` outside `cidr`: it is reached on the link, as PVE sets it up (a host route to the gateway,
         * then the default route through it). Without it such a gateway is refused, as the typo it usually is.
         * @default false
         */
        gatewayOnLink: z.boolean().optional(),
        /** VLAN tag (1–4094) of the bridge port; the bridge must be VLAN-aware. */
        vlan: z.number().int().min(1).max(4094).optional(),
        /**
         * MTU of eth0 (64–65535).
         * @default the bridge's
         */
        mtu: z.number().int().min(64).max(65535).optional(),
        /** Put eth0 behind PVE's firewall. */
        firewall: z.boolean().optional(),
      })
      .strict()
      .default({ bridge: 'vmbr0', offset: 10 }),
    /** The pod's persistent volume (a PersistentVolume's outputs): host path mounted at `path`. */
    volume: z
      .object({
        /** The volume's directory on the node (a PersistentVolume's `hostPath`). */
        hostPath: z.string().startsWith('/', { message: 'must be an absolute host path' }),
        /**
         * Where it is mounted inside the pod.
         * @default "/data"
         */
        path: z.string().startsWith('/').default('/data'),
        /** The node the volume lives on; the pod runs there. */
        node: z.string().optional(),
      })
      .strict()
      .optional(),
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

/** The member's inputs with what its pod observes, its pod name and, with a service, its DNS name. */
export interface StatefulSetPodOutputs extends Omit<StatefulSetPodInputs, keyof PodObserved>, PodObserved {
  podName: string;
  fqdn?: string;
}
