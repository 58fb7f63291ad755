// A container whose config carries a `lock` key (`CT is locked (backup)`) refuses every change. The key is set for the
// whole run of a task (a backup, a migration, a snapshot) and removed when it ends, but a task that crashed leaves it
// behind. Waiting helps with the first and never ends with the second, and `pct unlock` is right for the second and
// harmful during the first (it lets a change land in the middle of a backup). So which one it is is decided from the
// node's running tasks, never guessed.
import { ProxmoxPodsError } from '../../errors';
import { configLockIn, pveMessageOf } from '../../proxmox/errors';
import type { TaskListEntry } from '../../proxmox/schemas';
import type { PveClient } from '../../proxmox/client';

/**
 * Locks that `pct` sets from the command line without a task (pve-container `src/PVE/CLI/pct.pm`: `mount` sets
 * `mounted` until `pct unmount`, `fstrim` sets `fstrim` while it runs): the task list cannot tell whether they are live.
 */
const TASKLESS: Record<string, (vmid: number) => string> = {
  mounted: (vmid) => `it is mounted on the node by \`pct mount\`; run \`pct unmount ${vmid}\` there when done with it`,
  fstrim: (vmid) => `\`pct fstrim\` sets it while it runs on the node (no task shows it); wait for it, or run \`pct unlock ${vmid}\` there if it crashed`,
};

/** The lock named by a `CT is locked (<lock>)` refusal, from the API or from a task; undefined for anything else. */
export function configLockOf(err: unknown): string | undefined {
  const message = pveMessageOf(err);
  return message === undefined ? undefined : configLockIn(message);
}

/**
 * The running task that holds a guest's config lock: one whose id is the guest, or a backup job of several guests,
 * which runs as one `vzdump` task with no id (pve-manager `PVE/API2/VZDump.pm` `vzdump`: the task id is set only for
 * a single guest) and locks each guest in turn.
 */
export function lockHolder(running: readonly TaskListEntry[], vmid: number): TaskListEntry | undefined {
  return running.find((t) => t.id === String(vmid)) ?? running.find((t) => t.type === 'vzdump' && !t.id);
}

/** A lock no running task holds: waiting cannot end it, only the user can. */
export class StaleLockError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly vmid: number, readonly lock: string, detail: string, options?: { cause?: unknown }) {
    super(`CT ${vmid} on node ${node} is locked (${lock}): ${detail}`, 'E_STALE_LOCK', options);
  }
}

/** A lock a running task still held when the resource's time ran out. */
export class LockHeldError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly vmid: number, readonly lock: string, readonly holder: TaskListEntry, options?: { cause?: unknown }) {
    super(
      `CT ${vmid} on node ${node} stayed locked (${lock}) by the running task ${describeTask(holder)} until this operation's time ran out; ` +
        "run `pulumi up` again once that task has ended, or give the pod more time (its `timeouts` input, e.g. `{ update: '30m' }`)",
      'E_LOCK_HELD',
      options,
    );
  }
}

export function describeTask(t: TaskListEntry): string {
  const started = t.starttime === undefined ? '' : `, started ${new Date(Number(t.starttime) * 1000).toISOString()}`;
  return `${t.type}${t.id ? ` ${t.id}` : ''} (${t.upid}${t.user ? `, by ${t.user}` : ''}${started})`;
}

/** What a config-lock refusal means now: a task holds it, it is already gone, or none will ever release it. */
export type LockState = { held: TaskListEntry } | { released: true } | undefined;

/**
 * Who holds the config lock that `err` reports: the running task (wait for it), nobody any more (the task ended
 * between the refusal and this look: try again), or a StaleLockError that says what the user must do. Undefined when
 * `err` is no config-lock refusal.
 */
export async function configLockState(pve: PveClient, node: string, vmid: number, err: unknown): Promise<LockState> {
  const lock = configLockOf(err);
  if (lock === undefined) return undefined;
  const taskless = TASKLESS[lock];
  if (taskless) throw new StaleLockError(node, vmid, lock, taskless(vmid), { cause: err });
  const holder = lockHolder(await pve.runningTasks(node), vmid);
  if (holder) return { held: holder };
  // Tasks first, config second: the lock may have gone with a task that just ended, or been replaced by another
  // task's (the next refusal is judged on its own). The same lock is looked for once more among the tasks, in case
  // a task that took it started between the two reads; only then is it stale.
  const current = (await pve.containerConfig(node, vmid))?.lock;
  if (current !== lock) return { released: true };
  const late = lockHolder(await pve.runningTasks(node), vmid);
  if (late) return { held: late };
  throw new StaleLockError(
    node,
    vmid,
    lock,
    `no task that could hold it is running on ${node}, so an earlier task left it behind. Check the node's task list ` +
      `(tasks of other users are listed only with Sys.Audit on /nodes/${node}); if none runs for CT ${vmid}, run ` +
      `\`pct unlock ${vmid}\` on ${node} and \`pulumi up\` again`,
    { cause: err },
  );
}
