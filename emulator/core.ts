// Everything a route handler may touch, bundled so handlers stay plain functions of (ctx).
import { AuthService, Identity } from './auth';
import { ClusterState } from './cluster';
import { ParamError } from './errors';
import { FaultTable, MatchedFault } from './faults';
import { FlockTable } from './flock';
import type { Permissions } from './permissions';
import type { ParamSchema, Params } from './params';
import { TaskManager, Worker } from './tasks';

export interface CoreOptions {
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
