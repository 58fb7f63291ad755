// PVE's per-guest flock (/run/lock/lxc/pve-config-<vmid>.lock): FIFO, and a waiter that does not get it
// within the timeout fails with PVE's exact message.
import { ApiError } from './errors';

type Release = () => void;

export class FlockTable {
  private readonly queues = new Map<number, Array<(r: Release) => void>>();
  private readonly held = new Set<number>();

  constructor(private readonly timeoutMs: number) {}

  static message(vmid: number): string {
    return `can't lock file '/run/lock/lxc/pve-config-${vmid}.lock' - got timeout`;
  }

  isHeld(vmid: number): boolean {
    return this.held.has(vmid);
  }

  acquire(vmid: number, timeoutMs = this.timeoutMs): Promise<Release> {
    if (!this.held.has(vmid)) {
      this.held.add(vmid);
      return Promise.resolve(this.releaser(vmid));
    }
    return new Promise<Release>((resolve, reject) => {
      const queue = this.queues.get(vmid) ?? [];
      this.queues.set(vmid, queue);
      const waiter = (r: Release) => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(new ApiError(500, FlockTable.message(vmid)));
      }, timeoutMs);
      timer.unref();
      queue.push(waiter);
    });
  }

  /** Run `fn` holding the lock. */
  async with<T>(vmid: number, fn: () => Promise<T> | T, timeoutMs?: number): Promise<T> {
    const release = await this.acquire(vmid, timeoutMs);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(vmid: number): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queues.get(vmid)?.shift();
      if (next) next(this.releaser(vmid));
      else this.held.delete(vmid);
    };
  }
}
