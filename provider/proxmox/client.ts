// The PVE API client the resources use. Paths and PVE's typings come from proxmox-api's Proxy; the
// requests run through PveTransport (auth, TLS policy, error mapping, lock/5xx retries). Every
// long-running call takes a time budget (`deadlineMs`, a duration from the call) and waits for its task.
import proxmoxApi, { type Proxmox } from 'proxmox-api';
import type { Dispatcher } from 'undici';
import { InputError } from '../errors';
import { allocateAndCreate } from './allocate';
import { NODE_RE, STORAGE_RE } from './ids';
import type { ConnectionConfig } from './config';
import { CreateOutcomeUnknownError, CreateTaskError, PveApiError, TaskFailedError, isAmbiguousFailure } from './errors';
import { Deadline, type Clock, type RetryPolicy, systemClock } from './retry';
import {
  clusterResourceSchema,
  containerConfigSchema,
  type ContainerConfig,
  containerListEntrySchema,
  containerStatusSchema,
  interfaceSchema,
  networkSchema,
  nextIdSchema,
  nodeSchema,
  pendingEntrySchema,
  storageContentSchema,
  storageConfigSchema,
  storageSchema,
  versionSchema,
  type ClusterResource,
  type ContainerInterface,
  type ContainerListEntry,
  type ContainerStatus,
  type NetworkInterface,
  type PendingEntry,
  type PveNode,
  type PveVersion,
  type StorageConfig,
  type StorageContent,
  type StorageInfo,
  type TaskStatus,
  taskListEntrySchema,
  type TaskListEntry,
} from './schemas';
import { createDispatcher, tlsPolicyFrom } from './tls';
import { warn } from '../diagnostics';
import { waitTask } from './tasks';
import { PveTransport, type CallOptions } from './transport';
import { uploadToStorage, type UploadRequest } from './upload';

export interface PveClientOptions {
  /** Use this dispatcher instead of building one from the config's TLS settings. */
  dispatcher?: Dispatcher;
  clock?: Clock;
  retry?: RetryPolicy;
  log?: (message: string) => void;
  warn?: (message: string) => void;
  /** Default poll interval for tasks. */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  ticketRefreshMs?: number;
  /** See TransportOptions.beforeMutation. */
  beforeMutation?: (what: string) => void;
}

/** A time budget in ms for the whole call (including waiting for its task). */
export interface Budget {
  deadlineMs?: number;
}

export type ConfigValues = Record<string, string | number | boolean | undefined>;
export type GuestType = 'lxc' | 'qemu';

const IFACE_RE = /^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$/;
const DISK_RE = /^(rootfs|mp\d{1,3})$/;
const SIZE_RE = /^\+?\d+(\.\d+)?[KMGT]?$/;

// Path segments go into URLs; reject anything that is not a plain name rather than escaping it.
function checkNode(node: string): string {
  if (!NODE_RE.test(node)) throw new InputError('node', `'${node}' is not a PVE node name`, 'use letters, digits and -');
  return node;
}
function checkVmid(vmid: number): number {
  if (!Number.isInteger(vmid) || vmid < 100 || vmid > 999_999_999) throw new InputError('vmid', `${vmid} is not a VMID`, 'use an integer 100-999999999');
  return vmid;
}
function checkStorage(storage: string): string {
  if (!STORAGE_RE.test(storage)) throw new InputError('storage', `'${storage}' is not a storage id`, 'use the storage name shown in Datacenter → Storage');
  return storage;
}
function checkIface(iface: string): string {
  if (!IFACE_RE.test(iface)) throw new InputError('iface', `'${iface}' is not an interface name`, 'use e.g. vmbr1 (a letter, then 2-21 letters, digits or _)');
  return iface;
}
// proxmox-api's typings come from PVE 8 (net0-3 only, no env/entrypoint); PVE accepts far more.
const loose = (params: Record<string, unknown>) => params as any; // eslint-disable-line @typescript-eslint/no-explicit-any

export class PveClient {
  private readonly inFlightVmids = new Set<number>();
  /** Vmids whose create this client has started and not yet seen end (POST sent, task not settled). */
  private readonly creating = new Set<number>();
  private readonly clock: Clock;

  private constructor(
    readonly config: ConnectionConfig,
    private readonly transport: PveTransport,
    private readonly ownDispatcher: Dispatcher | undefined,
    private readonly opts: PveClientOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  static create(cfg: ConnectionConfig, opts: PveClientOptions = {}): PveClient {
    const own = opts.dispatcher ? undefined : createDispatcher(tlsPolicyFrom(cfg), { warn: opts.warn });
    const transport = new PveTransport(cfg, {
      dispatcher: opts.dispatcher ?? own!,
      clock: opts.clock,
      retry: opts.retry,
      // Retries reach the user as warnings unless the caller takes them.
      log: opts.log ?? ((message) => warn(message)),
      sleep: opts.sleep,
      ticketRefreshMs: opts.ticketRefreshMs,
      beforeMutation: opts.beforeMutation,
    });
    return new PveClient(cfg, transport, own, opts);
  }

  /** Close the connections this client opened (not a dispatcher passed in). */
  async close(): Promise<void> {
    await this.ownDispatcher?.close();
  }

  private deadline(what: string, budget?: Budget): Deadline {
    return new Deadline(what, budget?.deadlineMs ?? this.config.timeouts.operationMs, this.clock);
  }

  private api(options: CallOptions = {}): Proxmox.Api {
    return proxmoxApi(this.transport.engine(options));
  }

  private node(node: string) {
    return this.api().nodes.$(checkNode(node));
  }

  // ------------------------------------------------------------------------------------------- cluster

  async version(): Promise<PveVersion> {
    return versionSchema.parse(await this.api().version.$get());
  }

  async nodes(): Promise<PveNode[]> {
    return nodeSchema.array().parse(await this.api().nodes.$get());
  }

  /** The configured default node, or the only node of a one-node cluster. */
  async defaultNode(): Promise<string> {
    if (this.config.node) return this.config.node;
    const nodes = await this.nodes();
    if (nodes.length === 1) return nodes[0]!.node;
    throw new InputError('proxmox-pods:node', `the cluster has ${nodes.length} nodes (${nodes.map((n) => n.node).join(', ')})`, 'set proxmox-pods:node or give a node per resource');
  }

  /** The lowest free VMID (reserves nothing; see createContainer). */
  async nextId(): Promise<number> {
    return nextIdSchema.parse(await this.api().cluster.nextid.$get());
  }

  async clusterResources(type?: 'vm' | 'storage' | 'node' | 'sdn'): Promise<ClusterResource[]> {
    return clusterResourceSchema.array().parse(await this.api().cluster.resources.$get(type ? { type } : {}));
  }

  /** Which node holds a guest, cluster-wide. */
  async findGuest(vmid: number): Promise<{ node: string; type: GuestType } | undefined> {
    checkVmid(vmid);
    const hit = (await this.clusterResources('vm')).find((r) => r.vmid === vmid && (r.type === 'lxc' || r.type === 'qemu'));
    return hit?.node ? { node: hit.node, type: hit.type as GuestType } : undefined;
  }

  // ------------------------------------------------------------------------------------------- tasks

  async waitTask(node: string, upid: string, opts: Budget & { pollMs?: number } = {}): Promise<TaskStatus> {
    return waitTask(this.transport, checkNode(node), upid, {
      deadline: this.deadline(`PVE task ${upid}`, opts),
      pollMs: opts.pollMs ?? this.opts.pollMs,
      sleep: this.opts.sleep,
    });
  }

  /**
   * The node's tasks that are running now, as far as this user may see them (others' tasks need Sys.Audit on
   * /nodes/<node>). All of them: PVE's `vmid` filter would drop a backup job of several guests, which has no id
   * (pve-manager `PVE/API2/Tasks.pm` `node_tasks`).
   */
  async runningTasks(node: string): Promise<TaskListEntry[]> {
    const rows = taskListEntrySchema.array().parse(await this.node(node).tasks.$get({ source: 'active' }));
    return rows.filter((t) => t.endtime === undefined && (t.status === undefined || t.status === 'RUNNING'));
  }

  private async runTask(node: string, deadline: Deadline, start: () => Promise<string | null>): Promise<TaskStatus | undefined> {
    const upid = await start();
    if (!upid) return undefined;
    return waitTask(this.transport, node, upid, { deadline, pollMs: this.opts.pollMs, sleep: this.opts.sleep });
  }

  // ------------------------------------------------------------------------------------------- containers

  async listContainers(node: string): Promise<ContainerListEntry[]> {
    return containerListEntrySchema.array().parse(await this.node(node).lxc.$get());
  }

  /**
   * Start a create task and return its UPID (the caller waits with waitTask). Without a fixed vmid,
   * the id comes from /cluster/nextid and a lost race (`CT N already exists`) is retried with a new id.
   * A create is never re-POSTed after an ambiguous failure (5xx, lost connection).
   */
  async createContainer(node: string, params: ConfigValues, opts: Budget & { vmid?: number } = {}): Promise<{ vmid: number; upid: string }> {
    checkNode(node);
    const deadline = this.deadline(`create CT on ${node}`, opts);
    const post = async (vmid: number) => {
      try {
        return (await this.api({ deadline }).nodes.$(node).lxc.$post(loose({ ...params, vmid: checkVmid(vmid) }))) as string;
      } catch (err) {
        if (isAmbiguousFailure(err)) throw new CreateOutcomeUnknownError(node, vmid, err);
        throw err;
      }
    };
    if (opts.vmid !== undefined) return { vmid: opts.vmid, upid: await post(opts.vmid) };
    return allocateAndCreate({
      nextId: () => this.nextId(),
      attempt: post,
      deadline,
      inFlight: this.inFlightVmids,
      sleep: this.opts.sleep,
    });
  }

  /**
   * Create and wait for the create task. While it runs the vmid is known as this client's own create
   * (`isCreating`), so a lookup for an interrupted create elsewhere does not wait for it.
   */
  async createContainerAndWait(node: string, params: ConfigValues, opts: Budget & { vmid?: number } = {}): Promise<{ vmid: number }> {
    const deadline = this.deadline(`create CT on ${node}`, opts);
    let vmid: number | undefined;
    try {
      const created = await this.createContainer(node, params, { vmid: opts.vmid, deadlineMs: deadline.remaining() });
      vmid = created.vmid;
      this.creating.add(vmid);
      try {
        await this.waitTask(node, created.upid, { deadlineMs: deadline.remaining() });
      } catch (err) {
        throw new CreateTaskError(node, vmid, err as Error);
      }
      return { vmid };
    } finally {
      if (vmid !== undefined) this.creating.delete(vmid);
    }
  }

  /** Whether this client is creating this vmid right now (or has just allocated it for a create). */
  isCreating(vmid: number): boolean {
    return this.creating.has(vmid) || this.inFlightVmids.has(vmid);
  }

  /** The CT's config (pending values merged in unless `current`), or undefined when it does not exist. */
  async containerConfig(node: string, vmid: number, opts: { current?: boolean } = {}): Promise<ContainerConfig | undefined> {
    const raw = await this.orMissing(() => this.node(node).lxc.$(checkVmid(vmid)).config.$get(opts.current ? { current: true } : {}));
    return raw === undefined ? undefined : (containerConfigSchema.parse(raw) as ContainerConfig);
  }

  /** Pending changes (`[{key, value, pending, delete}]`). A missing CT throws (PveApiError.isMissingConfig). */
  async pendingConfig(node: string, vmid: number): Promise<PendingEntry[]> {
    return pendingEntrySchema.array().parse(await this.node(node).lxc.$(checkVmid(vmid)).pending.$get());
  }

  /** PUT config. With a digest the call is safe to repeat (PVE refuses a stale one), so 5xx are retried. */
  async updateContainerConfig(
    node: string,
    vmid: number,
    params: ConfigValues,
    opts: Budget & { digest?: string; delete?: string[]; revert?: string[] } = {},
  ): Promise<void> {
    const body: Record<string, unknown> = { ...params };
    if (opts.digest) body.digest = opts.digest;
    if (opts.delete?.length) body.delete = opts.delete.join(',');
    if (opts.revert?.length) body.revert = opts.revert.join(',');
    const deadline = this.deadline(`update CT ${vmid}`, opts);
    await this.api({ deadline, idempotent: opts.digest !== undefined }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).config.$put(loose(body));
  }

  async containerStatus(node: string, vmid: number): Promise<ContainerStatus | undefined> {
    const raw = await this.orMissing(() => this.node(node).lxc.$(checkVmid(vmid)).status.current.$get());
    return raw === undefined ? undefined : containerStatusSchema.parse(raw);
  }

  /** Start and wait. Already running is success. */
  async startContainer(node: string, vmid: number, opts: Budget = {}): Promise<void> {
    const deadline = this.deadline(`start CT ${vmid}`, opts);
    await this.ignoring(/CT \d+ already running/, () =>
      this.runTask(node, deadline, () => this.api({ deadline }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).status.start.$post()),
    );
  }

  /** Hard stop and wait. Not running is success. */
  async stopContainer(node: string, vmid: number, opts: Budget = {}): Promise<void> {
    const deadline = this.deadline(`stop CT ${vmid}`, opts);
    await this.ignoring(/CT \d+ not running/, () =>
      this.runTask(node, deadline, () => this.api({ deadline }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).status.stop.$post()),
    );
  }

  /** Clean shutdown and wait; `forceStop` kills after `timeout` seconds. Not running is success. */
  async shutdownContainer(node: string, vmid: number, opts: Budget & { timeout?: number; forceStop?: boolean } = {}): Promise<void> {
    const deadline = this.deadline(`shut down CT ${vmid}`, opts);
    await this.ignoring(/CT \d+ not running/, () =>
      this.runTask(node, deadline, () =>
        this.api({ deadline }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).status.shutdown.$post(loose({ timeout: opts.timeout, forceStop: opts.forceStop })),
      ),
    );
  }

  /** Reboot (applies pending config) and wait. Fails on a stopped CT, as PVE does. */
  async rebootContainer(node: string, vmid: number, opts: Budget & { timeout?: number } = {}): Promise<void> {
    const deadline = this.deadline(`reboot CT ${vmid}`, opts);
    await this.runTask(node, deadline, () =>
      this.api({ deadline }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).status.reboot.$post(loose({ timeout: opts.timeout })),
    );
  }

  /** Destroy and wait. A CT that is already gone is success. */
  async destroyContainer(node: string, vmid: number, opts: Budget & { purge?: boolean; force?: boolean; destroyUnreferencedDisks?: boolean } = {}): Promise<void> {
    const deadline = this.deadline(`destroy CT ${vmid}`, opts);
    const params = loose({ purge: opts.purge, force: opts.force, 'destroy-unreferenced-disks': opts.destroyUnreferencedDisks });
    await this.ignoring(/Configuration file '[^']*' does not exist/, () =>
      this.runTask(node, deadline, () => this.api({ deadline }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).$delete(params)),
    );
  }

  /** Grow a disk (`rootfs`, `mpN`) to `size` (`8G`, or `+2G` to add). Already that size is success. */
  async resizeContainerDisk(node: string, vmid: number, disk: string, size: string, opts: Budget = {}): Promise<void> {
    if (!DISK_RE.test(disk)) throw new InputError('disk', `'${disk}' is not a CT disk`, 'use rootfs or mpN');
    if (!SIZE_RE.test(size)) throw new InputError('size', `'${size}' is not a size`, 'use e.g. 8G or +2G');
    const deadline = this.deadline(`resize ${disk} of CT ${vmid}`, opts);
    await this.ignoring(/disk is already at specified size/, () =>
      this.runTask(node, deadline, () => this.api({ deadline }).nodes.$(checkNode(node)).lxc.$(checkVmid(vmid)).resize.$put(loose({ disk, size }))),
    );
  }

  /** Interfaces of a running CT (`lo`, `eth0`… with hwaddr and inet). */
  async containerInterfaces(node: string, vmid: number): Promise<ContainerInterface[]> {
    const raw = await this.node(node).lxc.$(checkVmid(vmid)).interfaces.$get();
    return interfaceSchema.array().parse(raw);
  }

  // ------------------------------------------------------------------------------------------- network

  /** Interfaces as PVE sees them (pending changes included) and the pending diff, if any. */
  async networks(node: string, type?: string): Promise<{ interfaces: NetworkInterface[]; changes?: string }> {
    const env = (await this.api({ envelope: true }).nodes.$(checkNode(node)).network.$get(loose(type ? { type } : {}))) as unknown as {
      data: unknown;
      changes?: string;
    };
    return { interfaces: networkSchema.array().parse(env.data), ...(env.changes ? { changes: env.changes } : {}) };
  }

  /** Create an interface in the pending config (applyNetwork makes it live). */
  async createNetwork(node: string, params: ConfigValues & { iface: string; type: string }): Promise<void> {
    checkIface(params.iface);
    await this.node(node).network.$post(loose(params));
  }

  async updateNetwork(node: string, iface: string, params: ConfigValues & { type: string }, opts: { delete?: string[] } = {}): Promise<void> {
    const body: Record<string, unknown> = { ...params };
    if (opts.delete?.length) body.delete = opts.delete.join(',');
    await this.node(node).network.$(checkIface(iface)).$put(loose(body));
  }

  /** Delete in the pending config. An interface that does not exist is success. */
  async deleteNetwork(node: string, iface: string): Promise<void> {
    await this.ignoring(/interface does not exist/, () => this.node(node).network.$(checkIface(iface)).$delete());
  }

  /** Apply the pending network config (ifreload) and wait for the srvreload task. */
  async applyNetwork(node: string, opts: Budget = {}): Promise<void> {
    const deadline = this.deadline(`apply network on ${node}`, opts);
    await this.runTask(node, deadline, () => this.api({ deadline }).nodes.$(checkNode(node)).network.$put() as Promise<string>);
  }

  /** Discard the pending network config. */
  async revertNetwork(node: string): Promise<void> {
    await this.node(node).network.$delete();
  }

  // ------------------------------------------------------------------------------------------- storage

  async storages(node: string, content?: string): Promise<StorageInfo[]> {
    return storageSchema.array().parse(await this.node(node).storage.$get(loose(content ? { content } : {})));
  }

  /** The datacenter's storage definitions the caller may see (Datastore.Audit or AllocateSpace on each). */
  async storageConfigs(type?: string): Promise<StorageConfig[]> {
    return storageConfigSchema.array().parse(await this.api().storage.$get(loose(type ? { type } : {})));
  }

  async storageContent(node: string, storage: string, content?: string): Promise<StorageContent[]> {
    const raw = await this.node(node).storage.$(checkStorage(storage)).content.$get(loose(content ? { content } : {}));
    return storageContentSchema.array().parse(raw);
  }

  /** Upload a template/ISO and wait for the copy task; returns the volid. */
  async uploadToStorage(node: string, storage: string, req: UploadRequest, opts: Budget = {}): Promise<string> {
    const deadline = this.deadline(`upload ${req.filename} to ${storage}`, opts);
    const upid = await uploadToStorage(this.transport, checkNode(node), checkStorage(storage), req, deadline);
    if (upid) await waitTask(this.transport, node, upid, { deadline, pollMs: this.opts.pollMs, sleep: this.opts.sleep });
    return `${storage}:${req.content}/${req.filename}`;
  }

  /** Delete a volume and wait for PVE's task. A volume that is already gone is success. */
  async deleteContent(node: string, storage: string, volid: string, opts: Budget = {}): Promise<void> {
    const deadline = this.deadline(`delete ${volid}`, opts);
    await this.ignoring(/does not exist|no such (volume|file)/i, () =>
      this.runTask(node, deadline, () => this.api({ deadline }).nodes.$(checkNode(node)).storage.$(checkStorage(storage)).content.$(volid).$delete()),
    );
  }

  // ------------------------------------------------------------------------------------------- helpers

  private async orMissing<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof PveApiError && err.isMissingConfig) return undefined;
      throw err;
    }
  }

  /** Run a call, treating a PVE error (sync or task) that matches `re` as success. */
  private async ignoring<T>(re: RegExp, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof PveApiError && [err.pveMessage, ...Object.values(err.errors)].some((m) => re.test(m))) return undefined;
      if (err instanceof TaskFailedError && re.test(err.exitstatus)) return undefined;
      throw err;
    }
  }
}
