// Fault injection: a rule matches method + path (the part after /api2/json) and fails, delays, or
// makes the task of the next `times` matching calls fail.
export interface FaultRule {
  method?: string;
  path: string | RegExp;
  times?: number;
  status?: number;
  message?: string;
  taskError?: string;
  /** The task succeeds but logs this many warnings (exitstatus `WARNINGS: n`). */
  taskWarnings?: number;
  latencyMs?: number;
  /**
   * Drop the connection without an answer: `before` the call is carried out (the request never reached PVE) or
   * `after` it (PVE acted, the answer was lost). Clients see a reset either way and cannot tell which.
   */
  dropConnection?: 'before' | 'after';
}

export interface MatchedFault {
  dropConnection?: 'before' | 'after';
  taskWarnings?: number;
  status?: number;
  message?: string;
  taskError?: string;
  latencyMs?: number;
}

/**
 * Random faults for convergence tests: each call that matches one of `rules` fails with probability `rate`, as one
 * of the rules it matches picked at random; both draws come from a PRNG seeded with `seed`, so that a run with the
 * same calls in the same order replays.
 */
export interface ChaosOptions {
  seed: number;
  rate: number;
  rules: Array<Omit<FaultRule, 'times'>>;
}

/** mulberry32: a small, well-spread 32-bit PRNG; reproducible from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultTable {
  private rules: Array<FaultRule & { left: number }> = [];
  private chaosRules: ChaosOptions['rules'] = [];
  private chaosRate = 0;
  private random: () => number = Math.random;
  /** How many faults chaos injected (per rule index), for tests to show that faults really happened. */
  readonly chaosHits: number[] = [];

  /** Turns random faults on (or off with `undefined`). */
  chaos(opts: ChaosOptions | undefined): void {
    this.chaosRules = opts?.rules ?? [];
    this.chaosRate = opts?.rate ?? 0;
    this.random = opts ? prng(opts.seed) : Math.random;
    this.chaosHits.length = 0;
  }

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
    this.chaos(undefined);
  }

  /** Consume the first live rule matching this call. */
  take(method: string, path: string): MatchedFault | undefined {
    const matches = (r: Omit<FaultRule, 'times'>) => (!r.method || r.method.toUpperCase() === method) && (typeof r.path === 'string' ? r.path === path : r.path.test(path));
    const rule = this.rules.find((r) => r.left > 0 && matches(r));
    if (!rule) {
      // Every rule that matches gets its share: several rules for one call (a 500, or a task that fails) are all
      // exercised, not only the first.
      const candidates = this.chaosRules.flatMap((r, i) => (matches(r) ? [i] : []));
      if (candidates.length === 0 || this.random() >= this.chaosRate) return undefined;
      const i = candidates[Math.floor(this.random() * candidates.length)]!;
      this.chaosHits[i] = (this.chaosHits[i] ?? 0) + 1;
      const { status, message, taskError, taskWarnings, latencyMs, dropConnection } = this.chaosRules[i]!;
      return { status, message, taskError, taskWarnings, latencyMs, dropConnection };
    }
    rule.left--;
    this.rules = this.rules.filter((r) => r.left > 0);
    const { status, message, taskError, taskWarnings, latencyMs, dropConnection } = rule;
    return { status, message, taskError, taskWarnings, latencyMs, dropConnection };
  }
}
