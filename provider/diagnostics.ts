// Warnings: what the provider has to tell the user short of an error ("layer chain kept", "template kept", "PVE call
// retried"). `warn` may be called from any depth (services included); the message goes to the operation that is
// running (an AsyncLocalStorage scope opened by `withOperation` around each create/read/update/delete) and to every
// sink (the Pulumi engine's log in the dynamic-provider process, see engine-log.ts; tests add their own).
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Warning {
  /** What the operation works on, e.g. `Pod web`; absent outside any operation. */
  resource?: string;
  message: string;
}

export type WarningSink = (warning: Warning) => void;

interface Operation {
  resource: string;
  warnings: string[];
}

const scope = new AsyncLocalStorage<Operation>();
const sinks = new Set<WarningSink>();

/** Reports `message` about the running operation's resource (or `resource`, when given). */
export function warn(message: string, resource?: string): void {
  const op = scope.getStore();
  const warning: Warning = { message, ...(resource ?? op?.resource ? { resource: resource ?? op!.resource } : {}) };
  op?.warnings.push(message);
  for (const sink of sinks) {
    try {
      sink(warning);
    } catch (err) {
      // A sink that cannot deliver must not turn a warning into a failed operation; stderr is the last resort.
      process.stderr.write(`proxmox-pods: a warning could not be delivered (${(err as Error).message}): ${message}\n`);
    }
  }
}

/** Runs `fn` as one operation on `resource`; every `warn` inside it (however deep) is collected. */
export async function withOperation<T>(resource: string, fn: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const op: Operation = { resource, warnings: [] };
  const result = await scope.run(op, fn);
  return { result, warnings: op.warnings };
}

/** Adds a sink; the returned function removes it. */
export function addWarningSink(sink: WarningSink): () => void {
  sinks.add(sink);
  return () => {
    sinks.delete(sink);
  };
}

/** The message of an unknown thrown value, for warnings that name a failure they did not throw. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
