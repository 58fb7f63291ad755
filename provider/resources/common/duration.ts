// Deadlines: the engine gives dynamic providers no custom timeouts, so every resource takes its own
// (`timeouts: { create: "10m" }`) and the provider enforces them.
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  return m ? Math.round(Number(m[1]) * UNITS[m[2]]) : undefined;
}

export const durationSchema = z.string().refine((s) => parseDuration(s) !== undefined && parseDuration(s)! > 0, {
  message: 'must be a duration such as "90s", "10m" or "1h"',
});

export const timeoutsSchema = z
  .object({
    /**
     * Deadline of a create, such as "10m".
     * @default "10m"
     */
    create: durationSchema.optional(),
    /**
     * Deadline of an update.
     * @default "10m"
     */
    update: durationSchema.optional(),
    /**
     * Deadline of a delete.
     * @default "5m"
     */
    delete: durationSchema.optional(),
  })
  .strict();
export type Timeouts = z.infer<typeof timeoutsSchema>;

export const DEFAULT_TIMEOUTS_MS = { create: 10 * 60_000, update: 10 * 60_000, delete: 5 * 60_000 };

export function timeoutMs(t: Timeouts | undefined, op: keyof typeof DEFAULT_TIMEOUTS_MS): number {
  const given = t?.[op];
  return (given && parseDuration(given)) || DEFAULT_TIMEOUTS_MS[op];
}

// One clock for every step of one operation, shared with the PVE client's own waits and retries.
export { Deadline } from '../../proxmox/retry';
