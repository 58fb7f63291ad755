// Everything a route handler may touch, bundled so handlers stay plain functions of (ctx).
import { AuthService, Identity } from './auth';
import { ClusterState, type StorageDef } from './cluster';
import { ParamError } from './errors';
import { FaultTable, MatchedFault } from './faults';
import { FlockTable } from './flock';
import type { Permissions } from './permissions';
import type { ParamSchema, Params } from './params';
import { TaskManager, Worker } from './tasks';
import type { RuntimeBackend } from './runtime/backend';

/**
 * A real backend for parts of a node (tests: a network namespace stands for the node). The in-memory state stays the
 * source of truth for the API; the backend makes the host follow it.
 */
export interface HostBackend {
  /** Called inside the `srvreload` task with the interfaces that were active before and are active now. */
  applyNetwork?(node: string, before: ReadonlyArray<Record<string, unknown>>, after: ReadonlyArray<Record<string, unknown>>): Promise<void>;
  /** Called inside the create task for every new CT disk (e.g. `zfs create` of a zfspool subvol). A throw fails the create. */
  allocateVolume?(node: string, storage: StorageDef, volid: string, bytes: number): Promise<void>;
  /** Called inside the destroy task for every disk the CT owned. */
  freeVolume?(node: string, storage: StorageDef, volid: string): Promise<void>;
}

export interface CoreOptions {
  hostBackend?: HostBackend;
  /** How CTs are restored and run: in memory (default) or as real LXC containers (emulator/runtime/). */
  runtime?: RuntimeBackend;
  taskDurationMs: number;
  lockTimeoutMs: number;
  resourcesLagMs: number;
  clock: () => number;
}

export interface Core {
  opts: CoreOptions;
  state: ClusterState;
  tasks: TaskManager;
  flocks: FlockTable;
  auth: AuthService;
  faults: FaultTable;
  perms: Permissions;
  fingerprint: string;
}

export interface UploadedFile {
  filename: string;
  data: Buffer;
}

export interface Ctx {
  core: Core;
  identity: Identity | undefined;
  params: Params;
  file?: UploadedFile;
  fault?: MatchedFault;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: Method;
  /** `/nodes/{node}/lxc/{vmid}`; a final `{name*}` takes the rest of the path, slashes included. */
  path: string;
  schema: ParamSchema;
  /** No authentication at all (`/access/ticket`). */
  noAuth?: boolean;
  /** `allowtoken => 0`. */
  noToken?: boolean;
  csrfExempt?: boolean;
  multipart?: boolean;
  /** Privileges checked after parameter validation: [acl path, privilege] pairs. */
  perms?: (params: Params) => Array<[string, string]>;
  handler(ctx: Ctx): unknown;
}

/** A result with extra top-level keys next to `data` (`total`, `changes`). */
export class Reply {
  constructor(readonly data: unknown, readonly extra: Record<string, unknown>) {}
}

/** Fork a worker the way `fork_worker` does, honouring an injected task failure. */
export function startTask(ctx: Ctx, node: string, type: string, id: string, worker: Worker): string {
  return ctx.core.tasks.start({
    node, type, id, user: ctx.identity?.full ?? 'root@pam', worker,
    ...(ctx.fault?.taskError !== undefined ? { failWith: ctx.fault.taskError } : {}),
    ...(ctx.fault?.taskWarnings ? { warnings: ctx.fault.taskWarnings } : {}),
  });
}

/** Privilege check from inside a handler. */
export function checkPerm(ctx: Ctx, path: string, priv: string): void {
  ctx.core.perms.check(ctx.identity, path, priv);
}

export function canPerm(ctx: Ctx, path: string, priv: string): boolean {
  return ctx.core.perms.can(ctx.identity, path, priv);
}

/** `raise_param_exc` for a single key. */
export function paramError(key: string, msg: string): never {
  throw new ParamError({ [key]: msg });
}

/** Unref'd so pending delays never hold a closed emulator's process open. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
