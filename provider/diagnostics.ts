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

/** Delivers a warning; a returned promise is awaited before the operation reports back to the engine. */
export type WarningSink = (warning: Warning) => void | Promise<void>;

interface Operation {
  resource: string;
  warnings: string[];
  deliveries: Promise<void>[];
}

const scope = new AsyncLocalStorage<Operation>();
const sinks = new Set<WarningSink>();

/** Reports `message` about the running operation's resource (or `resource`, when given). */
export function warn(message: string, resource?: string): void {
  const op = scope.getStore();
  const warning: Warning = { message, ...(resource ?? op?.resource ? { resource: resource ?? op!.resource } : {}) };
  op?.warnings.push(message);
  for (const sink of sinks) {
    const undelivered = (err: unknown) => {
      // A sink that cannot deliver must not turn a warning into a failed operation; stderr is the last resort (the
      // engine shows a dynamic provider's stderr too, unstructured).
      process.stderr.write(`warning: proxmox-pods: ${format(warning)} (not delivered as a warning: ${messageOf(err)})\n`);
    };
    try {
      const delivery = sink(warning);
      if (delivery) {
        const handled = delivery.catch(undelivered);
        op?.deliveries.push(handled);
      }
    } catch (err) {
      undelivered(err);
    }
  }
}

/** `Pod web: message`. */
export const format = (w: Warning): string => (w.resource ? `${w.resource}: ${w.message}` : w.message);

/** How long an operation waits for its warnings to be delivered before it returns anyway. */
const DELIVERY_WAIT_MS = 5_000;

/** Runs `fn` as one operation on `resource`; every `warn` inside it (however deep) is collected. */
export async function withOperation<T>(resource: string, fn: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const op: Operation = { resource, warnings: [], deliveries: [] };
  try {
    const result = await scope.run(op, fn);
    return { result, warnings: op.warnings };
  } finally {
    // The engine may end the run as soon as the operation answers: deliver first (failed or not).
    await settled(op.deliveries);
  }
}

async function settled(deliveries: Promise<void>[]): Promise<void> {
  if (deliveries.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, DELIVERY_WAIT_MS);
    timer.unref();
  });
  await Promise.race([Promise.allSettled(deliveries), cap]);
  clearTimeout(timer);
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
