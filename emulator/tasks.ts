// UPID tasks: PVE's long operations return a UPID at once and do their work in a worker whose end
// state is read from the last line of its log.
import { ParamError } from './errors';

/** A task failure injected through a FaultRule; workers pass it through unwrapped. */
export class InjectedTaskError extends Error {}

export interface ParsedUpid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

export interface TaskRecord extends ParsedUpid {
  upid: string;
  tokenid?: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  log: string[];
  done: Promise<void>;
}

export interface TaskHandle {
  log(line: string): void;
  warn(line: string): void;
  /** Sleep for the configured task duration (or `ms`). */
  sleep(ms?: number): Promise<void>;
}

export type Worker = (task: TaskHandle) => Promise<void> | void;


const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function parseUpid(upid: string): ParsedUpid | undefined {
  const m = UPID_RE.exec(upid);
  if (!m) return undefined;
  return {
    node: m[1]!, pid: parseInt(m[3]!, 16), pstart: parseInt(m[4]!, 16), starttime: parseInt(m[5]!, 16),
    type: m[6]!, id: m[7]!, user: m[8]!,
  };
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

/** PVE sanitises UPID fields: no ':', whitespace or '/'. */
function upidField(s: string): string {
  return s.replace(/[:\s/]/g, '_');
}

export class TaskManager {
  private readonly tasks = new Map<string, TaskRecord>();
  private nextPid = 0x1a2b0;
  private readonly pstart = 0x3c4d5e;

  constructor(private readonly clock: () => number, private readonly durationMs: number) {}

  /** Start a worker; `failWith` (fault injection) makes it fail with exactly that error at its first sleep. */
  start(opts: { node: string; type: string; id: string; user: string; worker: Worker; failWith?: string; warnings?: number }): string {
    const pid = this.nextPid++;
    const starttime = Math.floor(this.clock() / 1000);
    const upid = `UPID:${opts.node}:${hex8(pid)}:${hex8(this.pstart)}:${hex8(starttime)}:${upidField(opts.type)}:${upidField(opts.id)}:${upidField(opts.user)}:`;
    const bang = opts.user.indexOf('!');
    const rec: TaskRecord = {
      upid, node: opts.node, pid, pstart: this.pstart, starttime, type: opts.type, id: opts.id,
      user: bang >= 0 ? opts.user.slice(0, bang) : opts.user,
      ...(bang >= 0 ? { tokenid: opts.user.slice(bang + 1) } : {}),
      status: 'running', log: [], done: Promise.resolve(),
    };
    let warnings = 0;
    const failWith = opts.failWith;
    let injected = false;
    const plainSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
    const handle: TaskHandle = {
      log: (line) => rec.log.push(...line.split('\n')),
      warn: (line) => {
        warnings++;
        rec.log.push(`WARN: ${line}`);
      },
      // Unref'd: a task still sleeping must not keep a closed emulator's process alive.
      // An injected failure fires at the worker's first sleep, i.e. before it changes anything,
      // so the worker's own error path (cleanup, unlock) runs as it would for a real failure.
      sleep: async (ms = this.durationMs) => {
        await plainSleep(ms);
        if (failWith !== undefined && !injected) {
          injected = true;
          throw new InjectedTaskError(failWith);
        }
      },
    };
    const extraWarnings = opts.warnings ?? 0;
    const body: Worker = async (t) => {
      await opts.worker(t);
      if (failWith !== undefined && !injected) throw new InjectedTaskError(failWith);
      for (let i = 0; i < extraWarnings; i++) t.warn(`injected warning ${i + 1}`);
    };
    this.tasks.set(upid, rec);
    // Run on the next tick so the UPID is returned before the worker does anything observable.
    rec.done = new Promise<void>((r) => setImmediate(r))
      .then(() => body(handle))
      .then(
        () => {
          rec.exitstatus = warnings ? `WARNINGS: ${warnings}` : 'OK';
          rec.log.push(warnings ? `TASK WARNINGS: ${warnings}` : 'TASK OK');
        },
        (err: unknown) => {
          const msg = (err instanceof Error ? err.message : String(err)).replace(/\n+$/, '');
          // fork_worker flattens the error onto the one last line that status is read from.
          rec.exitstatus = msg.replace(/\n/g, ' ');
          rec.log.push(`TASK ERROR: ${rec.exitstatus}`);
        },
      )
      .finally(() => {
        rec.status = 'stopped';
        rec.endtime = Math.floor(this.clock() / 1000);
      });
    return upid;
  }

  /** Look a task up by its UPID string with PVE's 400 errors. */
  get(upid: string): TaskRecord {
    const p = parseUpid(upid);
    if (!p) throw new ParamError({ upid: 'unable to parse worker upid' });
    // Hex fields decode in either case; look the task up by its canonical (uppercase) form.
    const canonical = `UPID:${p.node}:${hex8(p.pid)}:${hex8(p.pstart)}:${hex8(p.starttime)}:${p.type}:${p.id}:${p.user}:`;
    const rec = this.tasks.get(canonical);
    if (!rec) throw new ParamError({ upid: 'no such task' });
    return rec;
  }

  list(node: string): TaskRecord[] {
    return [...this.tasks.values()].filter((t) => t.node === node).reverse();
  }

  async wait(upid: string): Promise<TaskRecord> {
    const rec = this.get(upid);
    await rec.done;
    return rec;
  }

  all(): TaskRecord[] {
    return [...this.tasks.values()];
  }

  clear(): void {
    this.tasks.clear();
  }
}
