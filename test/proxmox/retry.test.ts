import { DeadlineError } from '../../provider/errors';
import { isVmidTaken, allocateAndCreate, VmidAllocationError } from '../../provider/proxmox/allocate';
import { PveApiError, RetriesExhaustedError, TaskFailedError } from '../../provider/proxmox/errors';
import { backoffDelay, Deadline, pollUntil, withRetry } from '../../provider/proxmox/retry';
import { isTaskSuccess } from '../../provider/proxmox/tasks';
import { encodeParams, isRetryable } from '../../provider/proxmox/transport';
import { redact } from '../../provider/proxmox/secret';

const apiError = (status: number, pveMessage: string, errors?: Record<string, string>) =>
  new PveApiError({ status, method: 'GET', path: '/x', pveMessage, errors, auth: 'token' });
const LOCK = "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout";

describe('pollUntil', () => {
  it('asks until settled, pausing 100 ms doubling to a 2 s cap', async () => {
    const pauses: number[] = [];
    let asks = 0;
    const settled = await pollUntil(async () => ++asks === 9, Number.MAX_SAFE_INTEGER, async (ms) => void pauses.push(ms));
    expect(settled).toBe(true);
    expect(pauses).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });
  it('reports a timeout instead of throwing, after one last ask at the limit', async () => {
    let now = 0;
    let asks = 0;
    const settled = await pollUntil(async () => (asks++, false), 1000, async (ms) => void (now += ms), () => now);
    expect(settled).toBe(false);
    expect(asks).toBe(5); // at 0, 100, 300, 700, 1500 ms
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(3, policy, () => 0.999)).toBe(799);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });
});

describe('withRetry', () => {
  it('retries retryable errors, then gives up naming the last error', async () => {
    let calls = 0;
    const run = withRetry(async () => {
      calls++;
      throw apiError(500, LOCK);
    }, { what: 'op', policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, deadline: new Deadline('op', 10_000), retryable: () => true, sleep: async () => {} });
    await expect(run).rejects.toThrow(RetriesExhaustedError);
    await expect(run).rejects.toThrow(/after 3 attempts.*got timeout/);
    expect(calls).toBe(3);
  });
  it('does not retry a non-retryable error and stops at the deadline', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw new Error('boom'); }, { what: 'op', policy: { maxAttempts: 9, baseDelayMs: 1, maxDelayMs: 1 }, deadline: new Deadline('op', 10_000), retryable: () => false })).rejects.toThrow('boom');
    expect(calls).toBe(1);
    let now = 0;
    const deadline = new Deadline('slow op', 100, () => now);
    now = 200;
    await expect(withRetry(async () => 1, { what: 'op', policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, deadline, retryable: () => true })).rejects.toThrow(DeadlineError);
  });
});

describe('isRetryable', () => {
  it('retries lock errors for any call, 5xx only for idempotent calls', () => {
    expect(isRetryable(apiError(500, LOCK), false)).toBe(true);
    expect(isRetryable(apiError(500, 'CT is locked (create)'), false)).toBe(true);
    expect(isRetryable(apiError(596, 'Connection timed out'), false)).toBe(false);
    expect(isRetryable(apiError(596, 'Connection timed out'), true)).toBe(true);
    expect(isRetryable(apiError(595, 'Connection refused'), true)).toBe(true);
    expect(isRetryable(apiError(500, 'internal hiccup'), true)).toBe(true);
    expect(isRetryable(apiError(500, "Configuration file 'nodes/pve/lxc/100.conf' does not exist"), true)).toBe(false);
    expect(isRetryable(apiError(400, 'Parameter verification failed.'), true)).toBe(false);
    expect(isRetryable(apiError(401, 'Authentication failed!'), true)).toBe(false);
  });
});

describe('PveApiError messages', () => {
  it('carry PVE text and advice per status', () => {
    expect(apiError(401, 'Authentication failed!').message).toMatch(/Authentication failed!.*check proxmox-pods:apiToken/);
    expect(apiError(403, 'Permission check failed (/vms/100, VM.Allocate)').message).toMatch(/grant the privilege on that path \(\/vms\/100, VM.Allocate\)/);
    expect(apiError(500, LOCK).message).toMatch(/another task holds the CT lock/);
    expect(apiError(500, 'CT is locked (backup)').message).toMatch(/lock 'backup'.*pct unlock/);
    const p = apiError(400, 'Parameter verification failed.', { memory: 'value must have a minimum value of 16' });
    expect(p.message).toMatch(/\[memory: value must have a minimum value of 16\].*fix the parameters/);
    expect(apiError(500, "Configuration file 'nodes/pve/lxc/1.conf' does not exist").isMissingConfig).toBe(true);
  });
  it('task errors include the exit status and log tail', () => {
    const e = new TaskFailedError('UPID:pve:00000001:00000002:00000003:vzcreate:100:root@pam:', 'unable to create CT 100 - oops', ['line a', 'TASK ERROR: unable to create CT 100 - oops']);
    expect(e.message).toMatch(/failed: unable to create CT 100 - oops\n.*last log lines:\n.*line a/s);
    expect(isTaskSuccess('OK')).toBe(true);
    expect(isTaskSuccess('WARNINGS: 3')).toBe(true);
    expect(isTaskSuccess('WARNINGS: x')).toBe(false);
    expect(isTaskSuccess('some error')).toBe(false);
  });
});

describe('vmid allocation', () => {
  it('recognises both "already exists" forms for the tried id only', () => {
    expect(isVmidTaken(apiError(500, "CT 105 already exists on node 'pve'"), 105)).toBe(true);
    expect(isVmidTaken(apiError(500, "VM 105 already exists on node 'pve2'"), 105)).toBe(true);
    expect(isVmidTaken(apiError(500, "unable to create CT 105 - CT 105 already exists on node 'pve'"), 105)).toBe(true);
    expect(isVmidTaken(apiError(500, "CT 1050 already exists on node 'pve'"), 105)).toBe(false);
    expect(isVmidTaken(apiError(500, 'storage full'), 105)).toBe(false);
  });
  it('takes a fresh id after losing a race and skips ids in flight', async () => {
    const taken = new Set([100, 101]);
    const tried: number[] = [];
    const inFlight = new Set<number>([102]);
    const r = await allocateAndCreate({
      nextId: async () => 100,
      attempt: async (vmid) => {
        tried.push(vmid);
        if (taken.has(vmid)) throw apiError(500, `CT ${vmid} already exists on node 'pve'`);
        return `UPID-${vmid}`;
      },
      deadline: new Deadline('alloc', 10_000),
      inFlight,
      sleep: async () => {},
    });
    // nextId keeps answering 100 (a stale view), so each retry walks past what is taken or in flight.
    expect(tried[0]).toBe(100);
    expect(r.vmid).toBeGreaterThan(102);
    expect(r.upid).toBe(`UPID-${r.vmid}`);
    // Ids it created or lost stay skipped for a while (a stale nextid answer can still name them); 102 was never ours.
    expect(inFlight.has(102)).toBe(true);
    expect(inFlight.has(r.vmid)).toBe(true);
  });
  it('passes other errors through and gives up after maxAttempts', async () => {
    await expect(allocateAndCreate({ nextId: async () => 100, attempt: async () => { throw apiError(403, 'Permission check failed (/vms/100, VM.Allocate)'); }, deadline: new Deadline('a', 1000), inFlight: new Set(), sleep: async () => {} })).rejects.toThrow(/VM.Allocate/);
    await expect(allocateAndCreate({ nextId: async () => 100, attempt: async (v) => { throw apiError(500, `CT ${v} already exists on node 'pve'`); }, deadline: new Deadline('a', 1000), inFlight: new Set(), maxAttempts: 3, sleep: async () => {} })).rejects.toThrow(VmidAllocationError);
  });
});

describe('encodeParams', () => {
  it('encodes booleans as 1/0, repeats arrays, drops null/undefined, keeps NUL in env', () => {
    const f = encodeParams({ start: true, onboot: false, a: [1, 2], skip: undefined, nothing: null, env: 'A=1\0B=2' });
    expect(f.toString()).toBe('start=1&onboot=0&a=1&a=2&env=A%3D1%00B%3D2');
  });
});

describe('redact', () => {
  it('removes secrets and their URI-encoded forms, ignores tiny or empty ones', () => {
    const ticket = 'PVE:root@pam:66A1B2C3::ab+c/d=';
    expect(redact(`cookie ${ticket} and ${encodeURIComponent(ticket)}`, [ticket])).toBe('cookie [secret] and [secret]');
    expect(redact('abc', ['', undefined, 'ab'])).toBe('abc');
  });
});

describe('advice for names PVE does not know', () => {
  test('an unknown storage or volume is an input to fix, not an object to refresh away', () => {
    const storage = new PveApiError({ status: 500, method: 'POST', path: '/nodes/pve/lxc', pveMessage: "storage 'tank' does not exist" });
    expect(storage.message).toMatch(/no storage "tank" is configured for this node; check the storage id \(Datacenter → Storage\)/);
    expect(storage.message).not.toMatch(/refresh/);
    const volume = new PveApiError({ status: 500, method: 'POST', path: '/nodes/pve/lxc', pveMessage: "volume 'local:vztmpl/x.tar.zst' does not exist" });
    expect(volume.message).toMatch(/the volume local:vztmpl\/x.tar.zst is not on its storage/);
    const ct = new PveApiError({ status: 500, method: 'GET', path: '/nodes/pve/lxc/100/config', pveMessage: "Configuration file 'nodes/pve/lxc/100.conf' does not exist" });
    expect(ct.message).toMatch(/run `pulumi refresh`/);
  });
});
