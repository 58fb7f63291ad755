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

export class FaultTable {
  private rules: Array<FaultRule & { left: number }> = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** Consume the first live rule matching this call. */
  take(method: string, path: string): MatchedFault | undefined {
    const rule = this.rules.find(
      (r) => r.left > 0 && (!r.method || r.method.toUpperCase() === method) && (typeof r.path === 'string' ? r.path === path : r.path.test(path)),
    );
    if (!rule) return undefined;
    rule.left--;
    this.rules = this.rules.filter((r) => r.left > 0);
    const { status, message, taskError, taskWarnings, latencyMs, dropConnection } = rule;
    return { status, message, taskError, taskWarnings, latencyMs, dropConnection };
  }
}
