// Whether the Pulumi engine that started this dynamic-provider process is still there.
//
// What @pulumi/pulumi's cmd/dynamic-provider (3.276) allows: it receives the engine's address as an argument but
// never connects to it; its `cancel` RPC is a no-op; create/update/delete get no deadline, no cancellation and no URN.
// So nothing tells the provider that its engine is gone, and when the CLI is killed the process lives on, re-parented,
// finishing whatever it was doing. The one signal left is the parent pid: the engine starts this process directly
// (pulumi-resource-pulumi-nodejs execs node), so a changed `process.ppid` means the engine is gone. Then:
//  - no new create/update/delete starts (provider/dynamic.ts), and no new mutating PVE request is sent
//    (the transport's guard, provider/resources/common/connection.ts);
//  - the process exits within the poll interval (the same watch as scripts/langhost/exit-with-parent.js, which
//    our plugin wrapper preloads; started here too so that an official Pulumi install gets it).
import { ProxmoxPodsError } from './errors';

interface ParentWatch {
  parent: number;
  gone: () => boolean;
  hooks: Array<() => void>;
}

declare global {
  // Shared with scripts/langhost/exit-with-parent.js when that was preloaded: one watch per process.
  var __proxmoxPodsParentWatch: ParentWatch | undefined;
}

export class EngineGoneError extends ProxmoxPodsError {
  constructor(what: string, parent: number) {
    super(
      `${what} was not started: the Pulumi engine that asked for it (pid ${parent}) is gone, so nothing would record the result; ` +
        'run `pulumi cancel` if the stack is locked, then `pulumi refresh` and `pulumi up` (README, "Failures and recovery")',
      'E_ENGINE_GONE',
    );
  }
}

const DEFAULT_POLL_MS = 500;

function pollMs(): number {
  const n = Number(process.env.PROXMOX_PODS_PARENT_POLL_MS);
  return Number.isInteger(n) && n >= 50 && n <= 60_000 ? n : DEFAULT_POLL_MS;
}

/**
 * The process's parent watch, started on first use. `exitWhenGone` (the dynamic-provider host) also exits the process
 * once the parent is gone; elsewhere (tests, the CLI) the watch only answers `gone()`.
 */
export function parentWatch(opts: { exitWhenGone?: boolean } = {}): ParentWatch {
  let watch = globalThis.__proxmoxPodsParentWatch;
  if (!watch) {
    // Normally the preload (which also honours PROXMOX_PODS_PARENT_PID) has started the watch; this is the fallback.
    const parent = process.ppid;
    watch = { parent, gone: () => process.ppid !== parent, hooks: [] };
    globalThis.__proxmoxPodsParentWatch = watch;
    if (opts.exitWhenGone && parent > 1) {
      const w = watch;
      const timer = setInterval(() => {
        if (!w.gone()) return;
        clearInterval(timer);
        process.stderr.write(`proxmox-pods: the Pulumi engine (pid ${w.parent}) is gone; the provider process ${process.pid} exits\n`);
        process.exit(1);
      }, pollMs());
      timer.unref();
    }
  }
  return watch;
}

/** Throws EngineGoneError when the engine that started this process is gone. */
export function assertEngineAlive(what: string): void {
  const w = parentWatch();
  if (w.gone()) throw new EngineGoneError(what, w.parent);
}
