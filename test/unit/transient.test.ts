// Which PVE failures are retried, how often, and how long a held CT lock is waited out (common/transient.ts).
import { isLockContention, mayRetry, retryDelay, retryTransient } from '../../provider/resources/common/transient';
import { PveApiError, pveMessageOf, RetriesExhaustedError, TaskFailedError } from '../../provider/proxmox/errors';
import { Deadline } from '../../provider/proxmox/retry';

const lockTask = () => new TaskFailedError('UPID:pve:1:2:3:vzdestroy:102:root@pam:', "can't lock file '/run/lock/lxc/pve-config-102.lock' - got timeout", []);
const lockedConf = () => new PveApiError({ status: 500, method: 'PUT', path: '/nodes/pve/lxc/102/config', pveMessage: 'CT is locked (backup)' });
const flockApi = () => new PveApiError({ status: 500, method: 'PUT', path: '/nodes/pve/lxc/102/config', pveMessage: "can't lock file '/run/lock/lxc/pve-config-102.lock' - got timeout" });
const busy = () => new PveApiError({ status: 500, method: 'GET', path: '/nodes/pve/lxc/102/status/current', pveMessage: 'got timeout' });
const wrong = () => new PveApiError({ status: 400, method: 'PUT', path: '/nodes/pve/lxc/102/config', pveMessage: 'Parameter verification failed.', errors: { memory: 'invalid' } });

describe('isLockContention', () => {
  test('an flock timeout, in a task or an API answer, and behind exhausted retries', () => {
    expect(isLockContention(lockTask())).toBe(true);
    expect(isLockContention(flockApi())).toBe(true);
    expect(isLockContention(new RetriesExhaustedError('PUT config', 3, flockApi()))).toBe(true);
  });

  test('a lock key in the config (maybe left by a crashed task) is not, nor are other failures', () => {
    expect(isLockContention(lockedConf())).toBe(false);
    expect(isLockContention(busy())).toBe(false);
    expect(isLockContention(new TaskFailedError('UPID:x', 'startup for container failed', []))).toBe(false);
    expect(isLockContention(new Error("can't lock file '/x' - got timeout"))).toBe(false);
  });
});

describe('mayRetry', () => {
  test('a transient failure is retried up to the attempt limit', () => {
    expect(mayRetry(busy(), 4)).toBe(true);
    expect(mayRetry(busy(), 5)).toBe(false);
  });

  test('a held flock is retried past the limit: only the deadline ends it', () => {
    expect(mayRetry(lockTask(), 5)).toBe(true);
    expect(mayRetry(flockApi(), 50)).toBe(true);
  });

  test('a lock key keeps the limit, so its advice (pct unlock) comes in seconds', () => {
    expect(mayRetry(lockedConf(), 4)).toBe(true);
    expect(mayRetry(lockedConf(), 5)).toBe(false);
  });

  test('a request PVE refused as wrong is never retried', () => {
    expect(mayRetry(wrong(), 1)).toBe(false);
  });
});

describe('retryDelay', () => {
  test('a held lock waits at least half a second; other failures may retry sooner', () => {
    for (let i = 0; i < 50; i++) expect(retryDelay(lockTask(), 1 + (i % 8))).toBeGreaterThanOrEqual(500);
    const delays = Array.from({ length: 200 }, () => retryDelay(busy(), 1));
    expect(Math.min(...delays)).toBeLessThan(500);
    expect(Math.max(...delays)).toBeLessThanOrEqual(500);
  });
});

describe('retryTransient', () => {
  test('waits out a lock held for more attempts than the limit, within the deadline', async () => {
    let calls = 0;
    const result = await retryTransient(new Deadline('destroy', 60_000), async () => {
      if (++calls <= 8) throw lockTask();
      return 'destroyed';
    }, { sleep: async () => undefined });
    expect(result).toBe('destroyed');
    expect(calls).toBe(9);
  });

  test('gives up on a held lock when the deadline has no room for another pause', async () => {
    let now = 0;
    const deadline = new Deadline('destroy', 5_000, () => now);
    let calls = 0;
    await expect(retryTransient(deadline, async () => {
      calls++;
      throw lockTask();
    }, { sleep: async (ms) => void (now += ms) })).rejects.toBeInstanceOf(TaskFailedError);
    expect(calls).toBeGreaterThan(1);
    expect(now).toBeLessThanOrEqual(5_000);
  });

  test('other transient failures stop at the attempt limit', async () => {
    let calls = 0;
    await expect(retryTransient(new Deadline('status', 60_000), async () => {
      calls++;
      throw busy();
    }, { sleep: async () => undefined })).rejects.toBeInstanceOf(PveApiError);
    expect(calls).toBe(5);
  });

  test('outlast: a lock key known to pass is tried past the attempt limit, until it clears', async () => {
    let calls = 0;
    const asked: unknown[] = [];
    const result = await retryTransient(new Deadline('update', 60_000), async () => {
      if (++calls <= 9) throw lockedConf();
      return 'updated';
    }, { sleep: async () => undefined, outlast: async (err) => (asked.push(err), true) });
    expect(result).toBe('updated');
    expect(calls).toBe(10);
    expect(asked).toHaveLength(9);
  });

  test('outlast: attempts spent waiting out a lock do not count against the limit for what follows it', async () => {
    // As when a backup ends: its unlock changes the config, and the next PUT's digest is stale.
    const modified = () => new PveApiError({ status: 500, method: 'PUT', path: '/nodes/pve/lxc/102/config', pveMessage: 'detected modified configuration - file changed by other user? Try again.' });
    let calls = 0;
    const result = await retryTransient(new Deadline('update', 60_000), async () => {
      calls++;
      if (calls <= 7) throw lockedConf();
      if (calls <= 9) throw modified();
      return 'updated';
    }, { sleep: async () => undefined, outlast: async (err) => pveMessageOf(err) === 'CT is locked (backup)' });
    expect(result).toBe('updated');
    expect(calls).toBe(10);
    // The limit itself still holds for those other failures.
    calls = 0;
    await expect(retryTransient(new Deadline('update', 60_000), async () => {
      if (++calls <= 7) throw lockedConf();
      throw modified();
    }, { sleep: async () => undefined, outlast: async (err) => pveMessageOf(err) === 'CT is locked (backup)' })).rejects.toThrow(/detected modified configuration/);
    expect(calls).toBe(12);
  });

  test('outlast: false keeps the attempt limit; a thrown error ends the loop at once', async () => {
    let calls = 0;
    await expect(retryTransient(new Deadline('update', 60_000), async () => {
      calls++;
      throw lockedConf();
    }, { sleep: async () => undefined, outlast: async () => false })).rejects.toBeInstanceOf(PveApiError);
    expect(calls).toBe(5);
    calls = 0;
    const stale = new Error('stale');
    await expect(retryTransient(new Deadline('update', 60_000), async () => {
      calls++;
      throw lockedConf();
    }, { sleep: async () => undefined, outlast: async () => { throw stale; } })).rejects.toBe(stale);
    expect(calls).toBe(1);
  });

  test('outlast is not asked about failures that are not transient', async () => {
    let asked = 0;
    await expect(retryTransient(new Deadline('update', 60_000), async () => {
      throw wrong();
    }, { sleep: async () => undefined, outlast: async () => (asked++, true) })).rejects.toBeInstanceOf(PveApiError);
    expect(asked).toBe(0);
  });
});
