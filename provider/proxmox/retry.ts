// Deadlines and exponential backoff with full jitter. Pure apart from the injected clock/sleep.
import { DeadlineError } from '../errors';
import { RetriesExhaustedError } from './errors';

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 8_000 };

/** Full jitter: uniform in [0, min(max, base·2^attempt)], so parallel clients spread out. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

/** An absolute point in time an operation must finish by. */
export class Deadline {
  readonly at: number;
  constructor(readonly what: string, readonly budgetMs: number, private readonly clock: Clock = systemClock) {
    this.at = clock() + budgetMs;
  }
  remaining(): number {
    return Math.max(0, this.at - this.clock());
  }
  expired(): boolean {
    return this.remaining() <= 0;
  }
  /** Throws DeadlineError once the budget is spent. */
  check(): void {
    if (this.expired()) throw new DeadlineError(this.what, this.budgetMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Asks `settled` until it says yes or the clock passes `until` (epoch ms), pausing 100 ms, 200 ms, … up to 2 s
 * between asks: state that another party changes (a task ending) settles in well under a second most times, and
 * the cap keeps a long wait from hammering the API. Resolves whether it settled; the caller decides what a timeout
 * means.
 */
export async function pollUntil(settled: () => Promise<boolean>, until: number, pause: (ms: number) => Promise<void> = sleep, clock: Clock = systemClock): Promise<boolean> {
  for (let round = 0; ; round++) {
    if (await settled()) return true;
    if (clock() >= until) return false;
    await pause(Math.min(2000, 100 * 2 ** Math.min(round, 5)));
  }
}

export interface RetryOptions {
  what: string;
  policy: RetryPolicy;
  deadline: Deadline;
  /** Whether this error may be retried at all. */
  retryable: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const pause = opts.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    opts.deadline.check();
    try {
      return await fn(attempt);
    } catch (err) {
      if (!opts.retryable(err)) throw err;
      if (attempt + 1 >= opts.policy.maxAttempts) throw new RetriesExhaustedError(opts.what, attempt + 1, err);
      const delay = Math.min(backoffDelay(attempt, opts.policy, opts.random), opts.deadline.remaining());
      if (delay <= 0 && opts.deadline.expired()) throw new RetriesExhaustedError(`${opts.what} (deadline reached)`, attempt + 1, err);
      opts.onRetry?.(err, attempt + 1, delay);
      await pause(delay);
    }
  }
}
