// Which running task holds a CT's config lock, and what a lock refusal names (pod/config-lock.ts).
import { configLockOf, describeTask, lockHolder } from '../../provider/resources/pod/config-lock';
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
