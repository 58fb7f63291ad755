import { z } from 'zod';
import { DNS_LABEL_RE, IPV4_RE } from '../../host/names';
import { timeoutsSchema } from '../common/duration';
import { ownerScopeSchema } from '../common/owner';

const dnsLabel = z.string().regex(DNS_LABEL_RE, { message: 'must be a DNS label: lowercase letters, digits and "-" (at most 63)' });
const ipv4 = z.string().regex(IPV4_RE, { message: 'must be an IPv4 address' });

export const headlessServiceInputsSchema = z
  .object({
    /** The service's name (a DNS label): its zone is `<name>.<namespace>.svc.<domain>`. */
    name: dnsLabel,
    /**
     * The namespace in the zone name.
     * @default "default"
     */
    namespace: dnsLabel.default('default'),
    /**
     * The cluster domain that ends the zone name.
     * @default "cluster.local"
     */
    domain: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, { message: 'must be a DNS domain such as "cluster.local"' }).default('cluster.local'),
    /**
     * The node whose dnsmasq serves the zone.
     * @default the `proxmox-pods:node` config, or the cluster's only node
     */
    node: z.string().optional(),
    /** Where the zone's DNS server (dnsmasq) listens on the node: an address on the pods' bridge, usually their gateway. */
    listen: z
      .object({
        /** The node's address to listen on (IPv4). */
        address: ipv4,
        /**
         * The UDP/TCP port.
         * @default 53
         */
        port: z.number().int().min(1).max(65535).default(53),
      })
      .strict(),
    /**
     * Named ports: each gets SRV records `_<name>._<protocol>.<zone>`.
     * @default []
     */
    ports: z
      .array(
        z
          .object({
            /** The port's name (a DNS label), as in `_<name>._<protocol>`. */
            name: dnsLabel,
            /** The port number the members serve it on. */
            port: z.number().int().min(1, { message: 'must be 1–65535' }).max(65535, { message: 'must be 1–65535' }),
            /**
             * The port's protocol.
             * @default "tcp"
             */
            protocol: z.enum(['tcp', 'udp']).default('tcp'),
          })
          .strict(),
      )
      .default([])
      .refine((ps) => new Set(ps.map((p) => `${p.name}/${p.protocol}`)).size === ps.length, { message: 'port names must be unique per protocol' }),
    /**
     * Members: an A record for each ready one. StatefulSetPods' outputs map onto this.
     * @default []
     */
    pods: z
      .array(
        z
          .object({
            /** The member's name: its A record is `<name>.<zone>`. */
            name: dnsLabel,
            /** Its address; a member without one has no record yet. */
            ip: ipv4.optional(),
            /**
             * Whether DNS answers for it (a StatefulSet passes whether the pod runs).
             * @default true
             */
            ready: z.boolean().default(true),
          })
          .strict(),
      )
      .default([])
      .refine((ps) => new Set(ps.map((p) => p.name)).size === ps.length, { message: 'pod names must be unique' }),
    /**
     * What SRV records point at: "zone" (default; one SRV per port targeting the zone, which resolves to every ready
     * pod — members coming and going only reload dnsmasq) or "pods" (one SRV per port and pod, as Kubernetes answers;
     * a member joining or leaving restarts dnsmasq for a few milliseconds).
     * @default "zone"
     */
    srvTarget: z.enum(['zone', 'pods'], { message: 'must be "zone" or "pods"' }).default('zone'),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Hidden input from the SDK: the stack and resource that own the zone (its owner file on the node). */
    owner: ownerScopeSchema.optional(),
  })
  .strict();

export type HeadlessServiceInputs = z.infer<typeof headlessServiceInputsSchema>;

export interface HeadlessServiceOutputs extends HeadlessServiceInputs {
  node: string;
  zone: string;
  /** The A records served: `<pod>.<zone>` → ip. */
  records: Array<{ name: string; ip: string }>;
  /** The SRV names served: `_<port>._<proto>.<zone>`, each pointing at the zone (which resolves to every ready pod). */
  srv: string[];
}

export function zoneOf(s: Pick<HeadlessServiceInputs, 'name' | 'namespace' | 'domain'>): string {
  return `${s.name}.${s.namespace}.svc.${s.domain}`;
}

/** Ready members with an address: the ones DNS answers for. Pure. */
export function servedRecords(s: HeadlessServiceInputs): Array<{ hostname: string; ip: string }> {
  return s.pods.filter((p) => p.ready && p.ip).map((p) => ({ hostname: p.name, ip: p.ip! }));
}
