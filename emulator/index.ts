// Public entry point: start an in-process Proxmox VE API emulator on HTTPS (and optionally HTTP).
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { InputError } from '../provider/errors';
import { parseApiToken } from '../provider/proxmox/token-id';
import { AuthService, newTokenString, parseTokenString } from './auth';
import { createSelfSigned } from './certificate';
import { ClusterState, nodeNames } from './cluster';
import type { Core, HostBackend } from './core';
import { FaultTable } from './faults';
import { FlockTable } from './flock';
import { AclEntry, Permissions } from './permissions';
import { volumeRow } from './routes/storage';
import { accessRoutes } from './routes/access';
import { clusterRoutes } from './routes/cluster';
import { lxcRoutes } from './routes/lxc';
import { networkRoutes } from './routes/network';
import { storageRoutes } from './routes/storage';
import { taskRoutes } from './routes/tasks';
import { snapshotRoutes } from './routes/snapshots';
import { cloneRoutes } from './routes/clone';
import { poolRoutes } from './routes/pools';
import { nodeInfoRoutes } from './routes/node-info';
import { Router } from './router';
import { createHandler } from './server';
import { TaskManager } from './tasks';
import { attachRuntime, checkLxcHost, type RuntimeKind } from './runtime';

export type { FaultRule, ChaosOptions } from './faults';
export type { AclEntry } from './permissions';
export type { HostBackend } from './core';
export { zfsVolumeBackend } from './zfs-volumes';

export interface EmulatorOptions {
  /** default 1 → node 'pve'; N>1 → 'pve1'..'pveN' */
  nodes?: number;
  /** default '127.0.0.1' */
  host?: string;
  /** HTTPS port, 0 = random (default 0) */
  port?: number;
  /** plain HTTP listener too; 0 = random (default 0); false = none */
  httpPort?: number | false;
  /** 'root@pam!ci=<uuid>'; if empty, one random token is generated */
  tokens?: string[];
  /** default random */
  rootPassword?: string;
  /** default 50 */
  taskDurationMs?: number;
  /** default 10000 (PVE); tests pass ~200 */
  lockTimeoutMs?: number;
  /** Delay before every 401. Default 0 here and in the CLI; real PVE waits 3000. */
  authFailureDelayMs?: number;
  /** pre-2025 mode: reason phrase only, body {"data":null} */
  legacyErrors?: boolean;
  /** ms epoch, for ticket expiry tests */
  clock?: () => number;
  /**
   * Extra privilege-separated tokens (privsep=1), each with its own ACL; with an empty ACL every
   * privileged call answers 403 `Permission check failed (<path>, <priv>)`. Not included in `token`.
   */
  privsepTokens?: Array<{ token: string; acl?: AclEntry[] }>;
  /** Make real host state follow the API (e.g. bridges in a network namespace per node). */
  hostBackend?: HostBackend;
  /** The dataset of every node's `local-zfs` storage (storage.cfg `pool`); default `rpool/data`. */
  zfsPool?: string;
  /** /cluster/resources reports `unknown` guest status this long after a status change (PVE: ~10 s). Default 0. */
  resourcesLagMs?: number;
  /**
   * `memory` (default): CTs are records. `lxc`: every node a network namespace, every CT a real LXC container
   * (root and LXC needed; fails fast otherwise). See emulator/README.md.
   */
  runtime?: RuntimeKind;
  /** lxc runtime: where LXC configs and directory volumes live (default: a fresh directory, removed on close). */
  runtimeDir?: string;
}

export interface RunningEmulator {
  url: string;
  httpUrl?: string;
  fingerprint: string;
  caCertPem: string;
  token: string;
  rootPassword: string;
  nodes: string[];
  /** lxc runtime: `proxmox-pods:hosts` for this emulator (each node → the network namespace standing for it). */
  hosts?: Record<string, { netns: string }>;
  faults: Pick<FaultTable, 'add' | 'clear' | 'chaos' | 'chaosHits'>;
  state: {
    containers(): Array<{ node: string; vmid: number; status: string; config: Record<string, unknown> }>;
    networks(node: string): Array<Record<string, unknown>>;
    storageContent(node: string, storage: string): Array<Record<string, unknown>>;
    reset(): void;
    /** Raw bytes of an uploaded volume (undefined for seeded or allocated volumes). */
    volumeData(node: string, volid: string): Buffer | undefined;
    /** Make a CT ignore clean shutdown requests (to exercise `container did not stop`). */
    setIgnoreShutdown(vmid: number, ignore: boolean): void;
    /** Set or clear a CT's config lock, as `pct set --lock` / `pct unlock` on the host would (the API cannot). */
    setLock(vmid: number, lock?: string): void;
    /**
     * Run a task that holds guests' config lock, as vzdump does on a node: each guest is locked with `lock` in turn for
     * `perGuestMs`, then unlocked. One guest gives the task that guest's id; several give it none, as a backup job of
     * several guests does (pve-manager `PVE/API2/VZDump.pm`). The task runs as root@pam, like a scheduled job.
     */
    lockingTask(opts: { node: string; guests: number[]; lock?: string; type?: string; perGuestMs: number }): { upid: string; done: Promise<void> };
    /** Register a QEMU guest, which only matters for VMID collisions. */
    addQemuGuest(node: string, vmid: number): void;
    /** Resolves when every task started so far has finished. */
    idle(): Promise<void>;
  };
  close(): Promise<void>;
}

/**
 * The stack config that points a proxmox-pods program at this emulator: its HTTPS endpoint, its pinned certificate and
 * its API token (a Pulumi secret). Spread it into a stack's config, e.g. with the Automation API.
 */
export function stackConfig(emu: Pick<RunningEmulator, 'url' | 'fingerprint' | 'token'>): Record<string, string | { secret: string }> {
  return { 'proxmox-pods:endpoint': emu.url, 'proxmox-pods:tlsFingerprint': emu.fingerprint, 'proxmox-pods:apiToken': { secret: emu.token } };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const clock = opts.clock ?? Date.now;
  const tokenStrings = opts.tokens?.length ? opts.tokens : [newTokenString('root@pam', 'ci')];
  const tokens = tokenStrings.map((t) => {
    const def = parseTokenString(t);
    if (!def) {
      const parsed = parseApiToken(t);
      const why = 'problem' in parsed ? `: ${parsed.problem}` : '';
      throw new InputError('tokens', `'${t.replace(/=.*$/, '=***')}' is not a token${why}`, 'use USER@REALM!ID=SECRET, e.g. root@pam!ci=<uuid>');
    }
    return def;
  });
  const perms = new Permissions();
  for (const p of opts.privsepTokens ?? []) {
    const def = parseTokenString(p.token);
    if (!def) throw new InputError('privsepTokens', `'${p.token.replace(/=.*$/, '=***')}' is not a token`, 'use USER@REALM!ID=SECRET');
    tokens.push({ ...def, privsep: 1 });
    perms.addPrivsepToken(`${def.user}!${def.tokenid}`, p.acl ?? []);
  }
  // Before anything else is made (a certificate, a listener): where containers cannot run, say so at once.
  if (opts.runtime === 'lxc') await checkLxcHost();
  const rootPassword = opts.rootPassword ?? randomBytes(12).toString('base64url');
  const nodes = nodeNames(opts.nodes ?? 1);
  const cert = await createSelfSigned(host);

  const core: Core = {
    opts: { hostBackend: opts.hostBackend, taskDurationMs: opts.taskDurationMs ?? 50, lockTimeoutMs: opts.lockTimeoutMs ?? 10000, resourcesLagMs: opts.resourcesLagMs ?? 0, clock },
    state: new ClusterState(nodes, clock, opts.zfsPool),
    tasks: new TaskManager(clock, opts.taskDurationMs ?? 50),
    flocks: new FlockTable(opts.lockTimeoutMs ?? 10000),
    auth: new AuthService(tokens, rootPassword, clock),
    faults: new FaultTable(),
    perms,
    fingerprint: cert.fingerprint,
  };
  const runtime = await attachRuntime(core, opts);
  const router = new Router();
  router.add([...accessRoutes, ...clusterRoutes, ...lxcRoutes, ...taskRoutes, ...storageRoutes, ...networkRoutes, ...snapshotRoutes, ...cloneRoutes, ...poolRoutes, ...nodeInfoRoutes]);
  const handler = createHandler(core, router, { legacyErrors: !!opts.legacyErrors, authFailureDelayMs: opts.authFailureDelayMs ?? 0 });
  const onRequest = (req: Parameters<typeof handler>[0], res: Parameters<typeof handler>[1]) => void handler(req, res);

  const https = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, onRequest);
  const servers: Server[] = [https];
  let port: number;
  try {
    port = await listen(https, opts.port ?? 0, host);
  } catch (e) {
    await runtime?.close?.();
    throw e;
  }
  let httpUrl: string | undefined;
  if (opts.httpPort !== false) {
    const http = createHttpServer(onRequest);
    servers.push(http);
    try {
      httpUrl = `http://${urlHost(host)}:${await listen(http, opts.httpPort ?? 0, host)}`;
    } catch (e) {
      await closeServer(https);
      await runtime?.close?.();
      throw e;
    }
  }

  return {
    url: `https://${urlHost(host)}:${port}`,
    ...(httpUrl ? { httpUrl } : {}),
    fingerprint: cert.fingerprint,
    caCertPem: cert.certPem,
    token: tokenStrings[0]!,
    rootPassword,
    nodes,
    ...(runtime?.hosts ? { hosts: runtime.hosts } : {}),
    faults: { add: (r) => core.faults.add(r), clear: () => core.faults.clear(), chaos: (o) => core.faults.chaos(o), chaosHits: core.faults.chaosHits },
    state: {
      containers: () =>
        [...core.state.guests.values()].map((c) => ({ node: c.node, vmid: c.vmid, status: c.status, config: { ...c.conf } })),
      networks: (node) => (core.state.nodes.get(node)?.network.active ?? []).map((i) => ({ ...i })),
      storageContent: (node, storage) => [...(core.state.nodes.get(node)?.storages.get(storage)?.volumes.values() ?? [])].map(volumeRow),
      reset: () => {
        core.state.reset();
        core.tasks.clear();
        core.faults.clear();
      },
      volumeData: (node, volid) => core.state.findVolume(node, volid)?.data,
      setIgnoreShutdown: (vmid, ignore) => {
        const ct = core.state.guests.get(vmid);
        if (ct) ct.ignoreShutdown = ignore;
      },
      setLock: (vmid, lock) => {
        const ct = core.state.guests.get(vmid);
        if (!ct) return;
        if (lock === undefined) delete ct.conf['lock'];
        else ct.conf['lock'] = lock;
      },
      lockingTask: ({ node, guests, lock = 'backup', type = 'vzdump', perGuestMs }) => {
        const upid = core.tasks.start({
          node, type, id: guests.length === 1 ? String(guests[0]) : '', user: 'root@pam',
          worker: async (task) => {
            for (const vmid of guests) {
              const ct = core.state.guests.get(vmid);
              if (!ct) continue;
              ct.conf['lock'] = lock;
              task.log(`locked CT ${vmid} (${lock})`);
              try {
                await task.sleep(perGuestMs);
              } finally {
                delete ct.conf['lock'];
              }
            }
          },
        });
        return { upid, done: core.tasks.get(upid).done };
      },
      addQemuGuest: (node, vmid) => void core.state.qemu.set(vmid, node),
      idle: async () => {
        await Promise.all(core.tasks.all().map((t) => t.done));
      },
    },
    close: async () => {
      await Promise.all(servers.map(closeServer));
      if (runtime) {
        // Workers still touching containers finish first, so closing removes everything they made.
        await Promise.all(core.tasks.all().map((t) => t.done.then(() => undefined, () => undefined)));
        await runtime.close?.();
      }
    },
  };
}
