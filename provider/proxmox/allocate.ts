// VMID allocation. /cluster/nextid reserves nothing, so two creates racing for the same id both get it
// and one of them loses with `CT N already exists`. The loser takes a fresh id and tries again; ids
// handed out by this process and not yet settled are skipped, so parallel creates from one program
// rarely collide in the first place.
import { ProxmoxPodsError } from '../errors';
import { PveApiError } from './errors';
import { backoffDelay, type Deadline, sleep as defaultSleep } from './retry';

/** Both the early check and the lost race at lock time (`unable to create CT N - CT N already exists`). */
export function isVmidTaken(err: unknown, vmid: number): boolean {
  if (!(err instanceof PveApiError)) return false;
  const m = err.pveMessage;
  return new RegExp(`\\b(?:CT|VM) ${vmid} already exists`).test(m) || new RegExp(`unable to create CT ${vmid} - .*already exists`).test(m);
}

export class VmidAllocationError extends ProxmoxPodsError {
  constructor(attempts: number) {
    super(`could not find a free VMID after ${attempts} attempts (every id was taken by parallel creates); retry, or pin a vmid`, 'E_VMID_ALLOCATION');
  }
}

export interface AllocateOptions {
  nextId: () => Promise<number>;
  /** Try to create with this id; throw the PVE error on failure. */
  attempt: (vmid: number) => Promise<string>;
  deadline: Deadline;
  maxAttempts?: number;
  inFlight: Set<number>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const SETTLE_MS = 30_000;

function releaseLater(set: Set<number>, vmid: number): void {
  const timer = setTimeout(() => set.delete(vmid), SETTLE_MS);
  timer.unref?.();
}

export async function allocateAndCreate(opts: AllocateOptions): Promise<{ vmid: number; upid: string }> {
  const max = opts.maxAttempts ?? 50;
  const pause = opts.sleep ?? defaultSleep;
  // Ids at or below one we lost are not tried again, so a stale nextid answer cannot loop us.
  let floor = 0;
  for (let attempt = 0; attempt < max; attempt++) {
    opts.deadline.check();
    let vmid = Math.max(await opts.nextId(), floor);
    while (opts.inFlight.has(vmid)) vmid++;
    opts.inFlight.add(vmid);
    try {
      const upid = await opts.attempt(vmid);
      return { vmid, upid };
    } catch (err) {
      if (!isVmidTaken(err, vmid)) {
        opts.inFlight.delete(vmid);
        throw err;
      }
      floor = vmid + 1;
      // Spread out competing clients a little so they stop picking the same next id.
      await pause(backoffDelay(Math.min(attempt, 4), { maxAttempts: max, baseDelayMs: 20, maxDelayMs: 400 }, opts.random));
    } finally {
      // The id is taken now (our CT config exists, or someone else's does). A /cluster/nextid answer computed before
      // that config was written can still name it, so the id stays skipped for a while instead of being released
      // at once: that was the source of the `already exists` races between parallel creates of one program.
      if (opts.inFlight.has(vmid)) releaseLater(opts.inFlight, vmid);
    }
  }
  throw new VmidAllocationError(max);
}
