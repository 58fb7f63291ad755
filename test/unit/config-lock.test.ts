// Which running task holds a CT's config lock, and what a lock refusal names (pod/config-lock.ts).
import { configLockOf, configLockState, describeTask, lockHolder, StaleLockError } from '../../provider/resources/pod/config-lock';
import type { PveClient } from '../../provider/proxmox/client';
import { PveApiError, RetriesExhaustedError, TaskFailedError } from '../../provider/proxmox/errors';
import type { TaskListEntry } from '../../provider/proxmox/schemas';

const refused = (message: string) => new PveApiError({ status: 500, method: 'PUT', path: '/nodes/pve/lxc/105/config', pveMessage: message });
const task = (type: string, id: string, n = 1): TaskListEntry => ({ upid: `UPID:pve:0000000${n}:00000001:6a000000:${type}:${id}:root@pam:`, node: 'pve', type, id, user: 'root@pam', starttime: 1_780_000_000, status: 'RUNNING' });

describe('configLockOf', () => {
  test('the lock named by an API refusal, a failed task, or behind exhausted retries', () => {
    expect(configLockOf(refused('CT is locked (backup)'))).toBe('backup');
    expect(configLockOf(new TaskFailedError('UPID:x', 'CT is locked (snapshot-delete)', []))).toBe('snapshot-delete');
    expect(configLockOf(new RetriesExhaustedError('PUT config', 6, refused('CT is locked (migrate)')))).toBe('migrate');
  });

  test('an flock timeout or any other failure names no config lock', () => {
    expect(configLockOf(refused("can't lock file '/run/lock/lxc/pve-config-105.lock' - got timeout"))).toBeUndefined();
    expect(configLockOf(refused('got timeout'))).toBeUndefined();
    expect(configLockOf(new Error('CT is locked (backup)'))).toBeUndefined();
  });
});

describe('lockHolder', () => {
  test("a running task of this guest holds its lock; another guest's task does not", () => {
    expect(lockHolder([task('vzsnapshot', '104'), task('vzdump', '105', 2)], 105)?.upid).toContain(':vzdump:105:');
    expect(lockHolder([task('vzsnapshot', '104'), task('vzmigrate', '1050')], 105)).toBeUndefined();
  });

  test('a backup job of several guests (a vzdump task with no id) may hold any guest; other tasks with no id do not', () => {
    expect(lockHolder([task('startall', ''), task('vzdump', '', 2)], 105)?.type).toBe('vzdump');
    expect(lockHolder([task('startall', ''), task('aptupdate', '')], 105)).toBeUndefined();
  });

  test("the guest's own task wins over a backup job", () => {
    expect(lockHolder([task('vzdump', ''), task('vzrollback', '105', 2)], 105)?.type).toBe('vzrollback');
  });

  test('a task is described by type, guest, UPID, user and start', () => {
    expect(describeTask(task('vzdump', '105'))).toBe('vzdump 105 (UPID:pve:00000001:00000001:6a000000:vzdump:105:root@pam:, by root@pam, started 2026-05-28T20:26:40.000Z)');
  });
});

describe('configLockState', () => {
  /** A node whose task list and CT config are read in turn from the given answers. */
  function node(taskLists: TaskListEntry[][], locks: Array<string | undefined>): PveClient {
    return {
      runningTasks: async () => taskLists.shift() ?? [],
      containerConfig: async () => ({ lock: locks.shift() }),
    } as unknown as PveClient;
  }

  test('a running task of the guest holds it', async () => {
    expect(await configLockState(node([[task('vzdump', '105')]], []), 'pve', 105, refused('CT is locked (backup)'))).toEqual({ held: task('vzdump', '105') });
  });

  test('no task and no lock any more (the task just ended), or another lock now: try again', async () => {
    expect(await configLockState(node([[]], [undefined]), 'pve', 105, refused('CT is locked (backup)'))).toEqual({ released: true });
    expect(await configLockState(node([[]], ['snapshot']), 'pve', 105, refused('CT is locked (backup)'))).toEqual({ released: true });
  });

  test('a task that took the lock between the two reads is found on the second look, not taken for a crash', async () => {
    expect(await configLockState(node([[], [task('vzdump', '105')]], ['backup']), 'pve', 105, refused('CT is locked (backup)'))).toEqual({ held: task('vzdump', '105') });
  });

  test('the same lock, and no task on either look: stale', async () => {
    await expect(configLockState(node([[], []], ['backup']), 'pve', 105, refused('CT is locked (backup)'))).rejects.toBeInstanceOf(StaleLockError);
  });

  test('mounted is stale without asking the node; other failures are no lock', async () => {
    await expect(configLockState(node([], []), 'pve', 105, refused('CT is locked (mounted)'))).rejects.toThrow('pct unmount 105');
    expect(await configLockState(node([], []), 'pve', 105, refused('got timeout'))).toBeUndefined();
  });
});
