// Shapes of the PVE answers the client reads. Loose objects: PVE adds fields between releases and the
// callers may want them, but the fields we rely on are checked. Numbers PVE sometimes sends as strings
// (vmid on old releases, nextid) are coerced.
import { z } from 'zod';

const intLike = z.union([z.number(), z.string().regex(/^\d+$/)]).transform((v) => Number(v));

export const versionSchema = z.looseObject({ version: z.string(), release: z.string().optional(), repoid: z.string().optional() });
export type PveVersion = z.infer<typeof versionSchema>;

export const nodeSchema = z.looseObject({ node: z.string(), status: z.string().optional() });
export type PveNode = z.infer<typeof nodeSchema>;

export const clusterResourceSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  node: z.string().optional(),
  vmid: intLike.optional(),
  status: z.string().optional(),
  name: z.string().optional(),
  storage: z.string().optional(),
  /** Guests: PVE's `;`-joined tags, and the config lock (`create` while a create task runs). */
  tags: z.string().optional(),
  lock: z.string().optional(),
});
export type ClusterResource = z.infer<typeof clusterResourceSchema>;

export const taskStatusSchema = z.looseObject({
  upid: z.string(),
  node: z.string(),
  status: z.enum(['running', 'stopped']),
  exitstatus: z.string().optional(),
  type: z.string().optional(),
  id: z.string().optional(),
  user: z.string().optional(),
  tokenid: z.string().optional(),
});
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/**
 * One row of `GET /nodes/{node}/tasks`. With `source=active` PVE lists the node's active-task file, which still holds
 * tasks that ended but are not archived yet (with their exit status); a running one reads `status: 'RUNNING'`
 * (pve-manager `PVE/API2/Tasks.pm` `node_tasks`).
 */
export const taskListEntrySchema = z.looseObject({
  upid: z.string(),
  node: z.string(),
  type: z.string(),
  id: z.string().optional(),
  user: z.string().optional(),
  starttime: intLike.optional(),
  endtime: intLike.optional(),
  status: z.string().optional(),
});
export type TaskListEntry = z.infer<typeof taskListEntrySchema>;

export const taskLogSchema = z.array(z.looseObject({ n: z.number(), t: z.string() }));

export const containerStatusSchema = z.looseObject({
  status: z.string(),
  vmid: intLike.optional(),
  name: z.string().optional(),
  lock: z.string().optional(),
});
export type ContainerStatus = z.infer<typeof containerStatusSchema>;

export const containerListEntrySchema = z.looseObject({ vmid: intLike, status: z.string(), name: z.string().optional() });
export type ContainerListEntry = z.infer<typeof containerListEntrySchema>;

export const pendingEntrySchema = z.looseObject({
  key: z.string(),
  value: z.unknown().optional(),
  pending: z.unknown().optional(),
  delete: z.number().optional(),
});
export type PendingEntry = z.infer<typeof pendingEntrySchema>;

export const interfaceSchema = z.looseObject({
  name: z.string(),
  hwaddr: z.string().optional(),
  inet: z.string().optional(),
  inet6: z.string().optional(),
});
export type ContainerInterface = z.infer<typeof interfaceSchema>;

export const networkSchema = z.looseObject({ iface: z.string(), type: z.string() });
export type NetworkInterface = z.infer<typeof networkSchema>;

export const storageSchema = z.looseObject({ storage: z.string(), type: z.string().optional(), content: z.string().optional() });
export type StorageInfo = z.infer<typeof storageSchema>;

/** A storage.cfg entry (`GET /storage`); `pool` is the dataset of a zfspool storage. */
export const storageConfigSchema = z.looseObject({ storage: z.string(), type: z.string(), content: z.string().optional(), pool: z.string().optional() });
export type StorageConfig = z.infer<typeof storageConfigSchema>;

export const storageContentSchema = z.looseObject({
  volid: z.string(),
  content: z.string().optional(),
  format: z.string().optional(),
  size: z.number().optional(),
  vmid: intLike.optional(),
});
export type StorageContent = z.infer<typeof storageContentSchema>;

export const nextIdSchema = intLike;

// A container's config as GET /nodes/{node}/lxc/{vmid}/config returns it (pve-container src/PVE/LXC/Config.pm
// `$confdesc` and `parse_pct_config`): the keys the provider reads are typed; the rest pass through untouched.
const volumeKeys = Object.fromEntries(['rootfs', ...Array.from({ length: 10 }, (_, i) => `mp${i}`), ...Array.from({ length: 10 }, (_, i) => `net${i}`)].map((k) => [k, z.string().optional()]));
export const containerConfigSchema = z.looseObject({
  hostname: z.string().optional(),
  description: z.string().optional(),
  tags: z.string().optional(),
  cores: intLike.optional(),
  memory: intLike.optional(),
  swap: intLike.optional(),
  onboot: intLike.optional(),
  unprivileged: intLike.optional(),
  template: intLike.optional(),
  nameserver: z.string().optional(),
  searchdomain: z.string().optional(),
  features: z.string().optional(),
  /** PVE 9.1: NUL-separated NAME=value pairs. */
  env: z.string().optional(),
  entrypoint: z.string().optional(),
  cmode: z.string().optional(),
  arch: z.string().optional(),
  ostype: z.string().optional(),
  /** A config lock (`create`, `backup`, `snapshot`, ...): another task owns the CT. */
  lock: z.string().optional(),
  /** sha1 of the config file, for a safe PUT. */
  digest: z.string().optional(),
  /** Raw `lxc.*` entries (set only by PVE's OCI create), as [key, value] pairs. */
  lxc: z.array(z.tuple([z.string(), z.string()])).optional(),
  ...volumeKeys,
});
export type ContainerConfig = z.infer<typeof containerConfigSchema> & { rootfs?: string; net0?: string; [key: `mp${number}` | `net${number}`]: string | undefined };
