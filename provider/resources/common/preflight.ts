// The preview's read-only look at the cluster. After a resource's inputs pass its schema, its kind's preflight
// (provider/resources/<kind>/preflight.ts) asks the cluster what `up` would run into: is the endpoint reachable with
// these credentials and this TLS pin, do the node, storages, templates and bridges exist, can the storage hold what
// goes there, is a port already forwarded. Every lookup is cached for the life of the provider process (one
// process serves every resource of a `pulumi preview`), so 50 pods cost one call per distinct thing, not 50.
//
// When the cluster cannot be reached the preview fails, saying so, unless the user opted out with
// `proxmox-pods:offlinePreview` (or PROXMOX_PODS_OFFLINE_PREVIEW): then only the checks that need no cluster run.
import { ProxmoxPodsError } from '../../errors';
import { PveClient } from '../../proxmox/client';
import { PveApiError } from '../../proxmox/errors';
import { listForwards, type ForwardSpec, type ForwardState } from '../../host/nftables';
import type { CheckFailure } from '../types';
import { pveClient, stackSetting } from './connection';
import { hostExecutor } from './hosts';
import { containsUnknown } from './unknowns';

export const OFFLINE_HINT = 'to preview without the cluster, set `pulumi config set proxmox-pods:offlinePreview true` (or PROXMOX_PODS_OFFLINE_PREVIEW=true)';

/** The preflight client gives up sooner than resource operations do: a preview should not hang on a dead host. */
const PREFLIGHT_TIMEOUTS = { requestMs: 10_000, operationMs: 20_000 };
const PREFLIGHT_RETRY = { maxAttempts: 2, baseDelayMs: 200, maxDelayMs: 1_000 };
/** How many alternatives a message lists. */
const MAX_LISTED = 8;

/** A value the preflight may judge: present and fully known (unknown values wait for `up`). */
export function known<T>(v: T | undefined): v is T {
  return v !== undefined && v !== null && !containsUnknown(v);
}

export function listed(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

export function isOfflinePreview(): boolean {
  const raw = stackSetting('offlinePreview') ?? process.env.PROXMOX_PODS_OFFLINE_PREVIEW;
  return raw !== undefined && /^(1|true|yes|on)$/i.test(raw.trim());
}

export interface StorageEntry { storage: string; type?: string; content: string[]; active?: boolean }

/** Cached read-only lookups against one cluster. */
export class ClusterView {
  private readonly memo = new Map<string, { seq: number; value: Promise<unknown> }>();
  /** Counts fetches: an answer fetched after a question was asked has a higher number than the question saw. */
  private seq = 0;

  constructor(readonly pve: PveClient) {}

  private get<T>(key: string, load: () => Promise<T>, fresh = false): Promise<T> {
    const hit = this.memo.get(key);
    if (hit && !fresh) return hit.value as Promise<T>;
    const value = load();
    this.memo.set(key, { seq: ++this.seq, value });
    // A failed lookup is not cached: the next resource asks again (and reports its own failure).
    value.catch(() => { if (this.memo.get(key)?.value === value) this.memo.delete(key); });
    return value;
  }

  /**
   * A cached answer; when it lacks what is wanted and was fetched before the question was asked, it is fetched once
   * more: something made earlier in the same `up` (a bridge, an uploaded template) must not be reported missing.
   * Questions waiting at the same time share that one new fetch.
   */
  private async lookup<T>(key: string, load: () => Promise<T>, found: (v: T) => boolean): Promise<T> {
    const asked = this.seq;
    const v = await this.get(key, load);
    if (found(v)) return v;
    const entry = this.memo.get(key);
    if (entry && entry.seq > asked) return entry.value as Promise<T>;
    return this.get(key, load, true);
  }

  /** GET /version: proves the endpoint, TLS and credentials in one call (any authenticated user may read it). */
  version(): Promise<unknown> {
    return this.get('version', () => this.pve.version());
  }

  async nodes(wanted?: string): Promise<Array<{ node: string; status?: string }>> {
    return this.lookup('nodes', () => this.pve.nodes(), (ns) => wanted === undefined || ns.some((n) => n.node === wanted));
  }

  /** The storages enabled on `node` with their content types (GET /nodes/{node}/storage). */
  async storages(node: string, wanted?: string): Promise<StorageEntry[]> {
    return this.lookup(
      `storages/${node}`,
      async () => (await this.pve.storages(node)).map((s) => ({
        storage: s.storage,
        ...(s.type ? { type: s.type } : {}),
        content: String(s.content ?? '').split(',').map((c) => c.trim()).filter(Boolean),
        ...(s.active !== undefined ? { active: Number(s.active) === 1 } : {}),
      })),
      (list) => wanted === undefined || list.some((s) => s.storage === wanted),
    );
  }

  async volumes(node: string, storage: string, content: string, wanted?: string): Promise<string[]> {
    return this.lookup(`volumes/${node}/${storage}/${content}`, async () => (await this.pve.storageContent(node, storage, content)).map((v) => v.volid), (vs) => wanted === undefined || vs.includes(wanted));
  }

  /** Bridges on the node as PVE's network config has them (pending changes included, as PVE's GET returns them). */
  async bridges(node: string, wanted?: string): Promise<string[]> {
    return this.lookup(
      `bridges/${node}`,
      async () => (await this.pve.networks(node)).interfaces.filter((i) => i.type === 'bridge' || i.type === 'OVSBridge').map((i) => i.iface),
      (bs) => wanted === undefined || bs.includes(wanted),
    );
  }

  /** The forwards in the provider's nftables table on the node (needs `proxmox-pods:hosts`). */
  async forwards(node: string): Promise<ForwardState[]> {
    return this.get(`forwards/${node}`, async () => listForwards(await hostExecutor(node)));
  }
}

/** What the program itself is about to make, as seen by earlier checks in this process (same `preview`/`up`). */
export const planned = {
  bridges: new Set<string>(),
  forwards: new Map<string, { node: string; spec: ForwardSpec }>(),
};

export interface PreflightContext {
  /** Undefined when the user opted out of cluster checks (offlinePreview). */
  cluster?: ClusterView;
  /** The resource's previous inputs (empty on create). */
  olds: Record<string, unknown>;
}

type Connection = { cluster?: ClusterView; failure?: CheckFailure };
const connections = new WeakMap<PveClient, Promise<Connection>>();

function unreachable(reason: string): Connection {
  return { failure: { property: '', reason: `the preview cannot check this resource against the cluster: ${reason}; ${OFFLINE_HINT}` } };
}

/** Why a connection failed: the typed errors' messages already name the setting to fix. */
export function connectionProblem(err: unknown): string {
  if (err instanceof ProxmoxPodsError) return err.message;
  return `unexpected error reaching PVE: ${err instanceof Error ? err.message : String(err)}`;
}

/** The cluster view for this process's stack configuration, or why there is none (cached per configuration). */
export async function connectCluster(): Promise<Connection> {
  if (isOfflinePreview()) return {};
  let base: PveClient;
  try {
    base = pveClient();
  } catch (err) {
    // No endpoint, malformed token, conflicting TLS settings: the message names the setting.
    return unreachable(connectionProblem(err));
  }
  let conn = connections.get(base);
  if (!conn) {
    conn = (async () => {
      const client = PveClient.create({ ...base.config, timeouts: PREFLIGHT_TIMEOUTS }, { retry: PREFLIGHT_RETRY });
      const view = new ClusterView(client);
      try {
        await view.version();
        return { cluster: view };
      } catch (err) {
        await client.close().catch(() => undefined); // closing a client that never connected cannot matter
        return unreachable(connectionProblem(err));
      }
    })();
    connections.set(base, conn);
  }
  return conn;
}

/**
 * A lookup that PVE refused for lack of a privilege (403) tells nothing about the object: the check is skipped
 * rather than failed, since the token may still hold what `up` needs. Anything else propagates.
 */
export async function unlessForbidden<T>(lookup: () => Promise<T>): Promise<T | undefined> {
  try {
    return await lookup();
  } catch (err) {
    if (err instanceof PveApiError && err.status === 403) return undefined;
    throw err;
  }
}

// --------------------------------------------------------------------------------------- shared checks

export type NodeResult = { node?: string; failures: CheckFailure[] };

/**
 * The node a resource lands on, as create would choose it: the input, else proxmox-pods:node, else the only node.
 * A node that is not in the cluster, or an ambiguous choice, is a failure on `field`.
 */
export async function resolveNode(cluster: ClusterView, explicit: unknown, field = 'node'): Promise<NodeResult> {
  if (explicit !== undefined && !known(explicit)) return { failures: [] };
  const fromConfig = cluster.pve.config.node;
  const wanted = typeof explicit === 'string' ? explicit : fromConfig;
  const nodes = (await cluster.nodes(wanted)).map((n) => n.node);
  if (wanted !== undefined) {
    if (nodes.includes(wanted)) return { node: wanted, failures: [] };
    const source = typeof explicit === 'string' ? `node "${wanted}"` : `proxmox-pods:node is "${wanted}", which`;
    return { failures: [{ property: field, reason: `${source} is not a node of the cluster (nodes: ${listed(nodes)}); use one of them` }] };
  }
  if (nodes.length === 1) return { node: nodes[0]!, failures: [] };
  return { failures: [{ property: field, reason: `the cluster has ${nodes.length} nodes (${listed(nodes)}); set ${field} on the resource, or proxmox-pods:node for every resource` }] };
}

const CONTENT_WORDS: Record<string, string> = { rootdir: 'container root disks', vztmpl: 'container templates', images: 'disk images' };

/** The storage exists on the node and can hold `content`; otherwise a failure on `field` that says what to use. */
export async function storageFailure(cluster: ClusterView, node: string, storage: string, content: string, field: string, note = ''): Promise<CheckFailure[]> {
  const list = await unlessForbidden(() => cluster.storages(node, storage));
  if (!list) return [];
  const what = CONTENT_WORDS[content] ?? `"${content}" content`;
  const fitting = list.filter((s) => s.content.includes(content) && s.active !== false).map((s) => s.storage);
  const alternatives = fitting.length ? `storages on ${node} that hold ${what}: ${listed(fitting)}` : `no storage on ${node} holds ${what} yet (add "${content}" to one under Datacenter → Storage → Edit → Content)`;
  const entry = list.find((s) => s.storage === storage);
  if (!entry) {
    return [{ property: field, reason: `storage "${storage}"${note} does not exist on node ${node} or is not enabled there; ${alternatives}` }];
  }
  if (!entry.content.includes(content)) {
    return [{
      property: field,
      reason: `storage "${storage}"${note} on node ${node} cannot hold ${what}: its content types are ${listed(entry.content)}, without "${content}"; use another (${alternatives}) or add "${content}" to its content under Datacenter → Storage → Edit`,
    }];
  }
  if (entry.active === false) return [{ property: field, reason: `storage "${storage}"${note} is not active on node ${node}; check it under ${node} → ${storage} → Summary, or use another (${alternatives})` }];
  return [];
}

/** A template volid (`local:vztmpl/x.tar.zst`) exists on its storage on the node. */
export async function templateFailure(cluster: ClusterView, node: string, volid: string, field: string): Promise<CheckFailure[]> {
  const storage = volid.slice(0, volid.indexOf(':'));
  const storageProblems = await storageFailure(cluster, node, storage, 'vztmpl', field, ` (of template ${volid})`);
  if (storageProblems.length) return storageProblems;
  const volumes = await unlessForbidden(() => cluster.volumes(node, storage, 'vztmpl', volid));
  if (!volumes || volumes.includes(volid)) return [];
  const others = volumes.filter((v) => v.startsWith(`${storage}:`));
  return [{
    property: field,
    reason: `template ${volid} is not on storage "${storage}" of node ${node} (templates there: ${listed(others)}); download it (\`pveam update && pveam download ${storage} <name>\`), upload it, or use an OciImage`,
  }];
}

/** The bridge exists on the node, or an earlier resource of this program makes it. */
export async function bridgeFailure(cluster: ClusterView, node: string, bridge: string, field: string): Promise<CheckFailure[]> {
  if (planned.bridges.has(`${node}/${bridge}`)) return [];
  const bridges = await unlessForbidden(() => cluster.bridges(node, bridge));
  if (!bridges || bridges.includes(bridge)) return [];
  return [{ property: field, reason: `bridge "${bridge}" does not exist on node ${node} (bridges there: ${listed(bridges)}); use one of them, or create it (a DeploymentBridge, or ${node} → System → Network in PVE)` }];
}
