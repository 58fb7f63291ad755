// Waiting for PVE tasks (UPIDs). A task is done when its status is `stopped`; `OK` and `WARNINGS: n`
// are successes (PVE's status_is_error treats warnings as OK), anything else is the error text.
import { DeadlineError } from '../errors';
import { TaskFailedError } from './errors';
import { parseUpid } from './properties';
import { Deadline, sleep as defaultSleep } from './retry';
import { taskLogSchema, taskStatusSchema, type TaskStatus } from './schemas';
import type { PveTransport } from './transport';

export interface WaitTaskOptions {
  deadline: Deadline;
  /** First poll interval; it grows to 4× this value for long tasks. */
  pollMs?: number;
  /** How many log lines to put into a TaskFailedError. */
  logLines?: number;
  sleep?: (ms: number) => Promise<void>;
}

export function isTaskSuccess(exitstatus: string | undefined): boolean {
  return exitstatus === 'OK' || /^WARNINGS: \d+$/.test(exitstatus ?? '');
}

/** The node that runs a task is in its UPID; prefer it over the caller's guess. */
export function taskNode(node: string, upid: string): string {
  try {
    return parseUpid(upid).node;
  } catch {
    // Not a UPID we can parse: the node the caller sent the request to is the task's node (it was the answer's).
    return node;
  }
}

const taskPath = (node: string, upid: string) => `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}`;

export async function waitTask(transport: PveTransport, node: string, upid: string, opts: WaitTaskOptions): Promise<TaskStatus> {
  const where = taskNode(node, upid);
  const pause = opts.sleep ?? defaultSleep;
  const base = opts.pollMs ?? 300;
  for (let round = 0; ; round++) {
    const raw = await transport.request('GET', `${taskPath(where, upid)}/status`, {}, { deadline: opts.deadline });
    const status = taskStatusSchema.parse(raw);
    if (status.status === 'stopped') {
      if (isTaskSuccess(status.exitstatus)) return status;
      // The failed task is the error; its log tail only adds detail, so a log we cannot read leaves it out.
      const tail = await taskLogTail(transport, where, upid, opts.logLines ?? 10, opts.deadline).catch(() => []);
      throw new TaskFailedError(upid, status.exitstatus ?? 'unknown exit status', tail);
    }
    const delay = Math.min(base * 4, Math.round(base * 1.25 ** round));
    if (opts.deadline.remaining() <= delay) throw new DeadlineError(`PVE task ${upid}`, opts.deadline.budgetMs);
    await pause(delay);
  }
}

/** The last `lines` lines of a task log (PVE pages it with start/limit and reports `total`). */
export async function taskLogTail(transport: PveTransport, node: string, upid: string, lines: number, deadline: Deadline): Promise<string[]> {
  const path = `${taskPath(node, upid)}/log`;
  const head = await transport.request<{ total?: number }>('GET', path, { start: 0, limit: 1 }, { deadline, envelope: true });
  const total = typeof head.total === 'number' ? head.total : 0;
  const start = Math.max(0, total - lines);
  const log = taskLogSchema.parse(await transport.request('GET', path, { start, limit: lines }, { deadline }));
  return log.map((l) => l.t);
}
