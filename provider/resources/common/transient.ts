// Which failures of Proxmox are worth another attempt, and the loop that makes them within a resource's deadline.
// Only steps that are safe to repeat go through here: converging a config (it reads the live state first), start,
// stop and destroy (already running / not running / gone count as success). A create is retried by its caller, and
// only after an owner-key lookup has shown that nothing was made.
import { DeadlineError, InputError } from '../../errors';
import { CreateOutcomeUnknownError, isFlockTimeout, PveApiError, PveConnectionError, pveMessageOf, RetriesExhaustedError, TaskFailedError } from '../../proxmox/errors';
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

/**
 * Another task holds the CT's config flock right now (its 10 s timeout in pve-guest-common `src/PVE/AbstractConfig.pm`
 * `lock_config` ran out). An flock ends with the process that holds it, so this clears when that task ends (a backup
 * or migration can take minutes): it is waited out until the resource's deadline, not for a fixed number of attempts.
 * A `lock` key in the config (`CT is locked (backup)`) is not: it stays after a crashed task, so only a caller that
 * has seen the task holding it may wait it out (`outlast`, pod/config-lock.ts); otherwise it keeps the attempt limit.
 */
export function isLockContention(err: unknown): boolean {
  const message = pveMessageOf(err);
  return message !== undefined && isFlockTimeout(message);
}

/** Whether a failed attempt may be made again: transient, and attempts left (lock contention is bounded by time only). */
export function mayRetry(err: unknown, attempt: number, attempts = DEFAULT_ATTEMPTS): boolean {
  return isTransient(err) && (attempt < attempts || isLockContention(err));
}

/** The pause before the next attempt; a held flock gets at least half a second, so the holder can finish. */
export function retryDelay(err: unknown, attempt: number, attempts = DEFAULT_ATTEMPTS): number {
  const delay = backoffDelay(Math.min(attempt, attempts), { maxAttempts: attempts, baseDelayMs: 250, maxDelayMs: 4000 });
  return isLockContention(err) ? Math.max(500, delay) : delay;
}

export interface TransientRetryOptions {
  attempts?: number;
  onRetry?: (err: unknown, attempt: number) => void;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Asked about every transient failure: resolves true when its cause is known to pass (a lock that a running task
   * holds), and the step is then tried until the deadline whatever the attempt count, and the attempt is not counted
   * against the limit; false leaves the usual rules.
   * It may throw a clearer error instead, which ends the loop (a lock that nothing will release).
   */
  outlast?: (err: unknown) => Promise<boolean>;
}

export const DEFAULT_ATTEMPTS = 5;

/** Runs `fn` until it succeeds, fails for good, runs out of attempts or the deadline passes. */
export async function retryTransient<T>(deadline: Deadline, fn: (attempt: number) => Promise<T>, opts: TransientRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? DEFAULT_ATTEMPTS;
  const pause = opts.sleep ?? defaultSleep;
  // Only failures of other causes count against the limit: after a long wait for a backup, the config change that
  // its unlock races (PVE: "detected modified configuration", the digest moved) still gets its own attempts.
  let counted = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const passing = isTransient(err) && opts.outlast !== undefined && (await opts.outlast(err));
      if (!passing && !mayRetry(err, ++counted, attempts)) throw err;
      const delay = retryDelay(err, attempt, attempts);
      if (deadline.remaining() <= delay + 100) throw err;
      opts.onRetry?.(err, attempt);
      await pause(delay);
    }
  }
}
