// Which failures of Proxmox are worth another attempt, and the loop that makes them within a resource's deadline.
// Only steps that are safe to repeat go through here: converging a config (it reads the live state first), start,
// stop and destroy (already running / not running / gone count as success). A create is retried by its caller, and
// only after an owner-key lookup has shown that nothing was made.
import { DeadlineError, InputError } from '../../errors';
import { CreateOutcomeUnknownError, PveApiError, PveConnectionError, RetriesExhaustedError, TaskFailedError } from '../../proxmox/errors';
import { backoffDelay, sleep as defaultSleep, type Deadline } from '../../proxmox/retry';
import { NotOwnedError } from './owner';
import { PartialCreateError } from './partial';

/** PVE messages that say the request itself is wrong: repeating it cannot help. */
const PERMANENT = /does not exist|not found|no such|does not support|not allowed|permission|invalid|unable to parse|value '.*' does not have|wrong type|checksum mismatch|not a template|already exists in pool|storage '[^']*' is not/i;

export function isTransient(err: unknown): boolean {
  if (err instanceof PartialCreateError || err instanceof InputError || err instanceof NotOwnedError || err instanceof DeadlineError) return false;
  if (err instanceof RetriesExhaustedError) return isTransient(err.last);
  if (err instanceof CreateOutcomeUnknownError) return true;
  if (err instanceof PveConnectionError) return !err.certificate;
  if (err instanceof TaskFailedError) return !PERMANENT.test(err.exitstatus);
  if (err instanceof PveApiError) {
    if (err.isLockError || /detected modified configuration/.test(err.pveMessage)) return true;
    return err.status >= 500 && !PERMANENT.test(err.pveMessage);
  }
  return false;
}

export interface TransientRetryOptions {
  attempts?: number;
  onRetry?: (err: unknown, attempt: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_ATTEMPTS = 5;

/** Runs `fn` until it succeeds, fails for good, runs out of attempts or the deadline passes. */
export async function retryTransient<T>(deadline: Deadline, fn: (attempt: number) => Promise<T>, opts: TransientRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? DEFAULT_ATTEMPTS;
  const pause = opts.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || attempt >= attempts) throw err;
      const delay = backoffDelay(attempt, { maxAttempts: attempts, baseDelayMs: 250, maxDelayMs: 4000 });
      if (deadline.remaining() <= delay + 100) throw err;
      opts.onRetry?.(err, attempt);
      await pause(delay);
    }
  }
}
