// A pod whose container carries a config lock (`CT is locked (backup)`) against the emulator: a lock that a running
// task holds (a backup of this CT, or a backup job of several guests) is waited out and the change then lands; a
// lock no task holds fails at once with what to do; a lock held past the deadline names the task that held it.
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { createPod, deletePod, updatePod } from '../../provider/resources/pod/lifecycle';
import { LockHeldError, StaleLockError } from '../../provider/resources/pod/config-lock';
import { podInputsSchema } from '../../provider/resources/pod/schema';
import { setStackConfig } from '../../provider/resources/common/connection';

jest.setTimeout(60_000);

const T = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const spec = (over: Record<string, unknown> = {}) => podInputsSchema.parse({ name: 'web', image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, memory: 512, ...over });

describe('Pod steps on a CT with a config lock', () => {
  let emu: RunningEmulator;
  let ctx: { pve: PveClient; note: (m: string) => void };
  let notes: string[];

  beforeAll(async () => {
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    // Few and short transport retries, so each refusal reaches the pod's own loop in well under a second.
    const pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }), { retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 100 } });
    ctx = { pve, note: (m) => notes.push(m) };
    setStackConfig({});
  });
  beforeEach(() => (notes = []));
  afterEach(async () => {
    await emu.state.idle();
    emu.state.reset();
  });
  afterAll(async () => {
    await ctx?.pve.close();
    await emu?.close();
  });

  const memoryOf = (vmid: number) => emu.state.containers().find((c) => c.vmid === vmid)?.config.memory;

  test('a backup of this CT: the update waits for its task, past the attempt limit, then lands', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    const vmid = Number(id);
    // Longer than five attempts can wait (their pauses are at most 0.5 + 1 + 2 + 4 s, retryDelay): landing at all
    // means the lock was waited out past the attempt limit.
    const backup = emu.state.lockingTask({ node: 'pve', guests: [vmid], perGuestMs: 12_000 });
    let backupEnded = 0;
    void backup.done.then(() => (backupEnded = Date.now()));
    const { outs: updated } = await updatePod(id, outs, spec({ memory: 1024 }), ctx);
    // Not before the backup ended: it was waited for, not raced.
    expect(backupEnded).toBeGreaterThan(0);
    expect(memoryOf(vmid)).toBe(1024);
    expect(updated.memory).toBe(1024);
    expect(notes.some((n) => n.includes(`locked by the running task vzdump ${vmid} (${backup.upid}`))).toBe(true);
    await deletePod(id, updated, ctx);
  });

  test('a backup job of several guests (a vzdump task with no id) is waited for too', async () => {
    const first = await createPod(spec({ name: 'db' }), ctx);
    const { id, outs } = await createPod(spec(), ctx);
    const job = emu.state.lockingTask({ node: 'pve', guests: [Number(first.id), Number(id)], perGuestMs: 2_500 });
    // Until the job reaches this pod's CT, the update has nothing to wait for; start it while this CT is locked.
    while (emu.state.containers().find((c) => c.vmid === Number(id))?.config.lock !== 'backup') await new Promise((r) => setTimeout(r, 20));
    await updatePod(id, outs, spec({ memory: 768 }), ctx);
    expect(memoryOf(Number(id))).toBe(768);
    expect(notes.some((n) => n.includes(`locked by the running task vzdump (${job.upid}`))).toBe(true);
    await job.done;
  });

  test('a lock no task holds fails at once, names the lock and says `pct unlock`; nothing is changed', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    const vmid = Number(id);
    emu.state.setLock(vmid, 'backup');
    const started = Date.now();
    const err = await updatePod(id, outs, spec({ memory: 1024 }), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleLockError);
    expect((err as Error).message).toContain(`CT ${vmid} on node pve is locked (backup): no task that could hold it is running on pve`);
    expect((err as Error).message).toContain(`\`pct unlock ${vmid}\` on pve`);
    // The first refusal decides it; the attempt limit is not sat out.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(memoryOf(vmid)).toBe(512);
    emu.state.setLock(vmid, undefined);
  });

  test('`pct mount` (no task) is named as such, with its own fix', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    emu.state.setLock(Number(id), 'mounted');
    const err = await updatePod(id, outs, spec({ memory: 1024 }), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleLockError);
    expect((err as Error).message).toContain(`run \`pct unmount ${id}\``);
    emu.state.setLock(Number(id), undefined);
  });

  test('a lock held past the deadline fails naming the task that held it; the next update lands', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    const backup = emu.state.lockingTask({ node: 'pve', guests: [Number(id)], perGuestMs: 8_000 });
    const err = await updatePod(id, outs, spec({ memory: 1024, timeouts: { update: '3s' } }), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as Error).message).toContain(`stayed locked (backup) by the running task vzdump ${id} (${backup.upid}`);
    expect(memoryOf(Number(id))).toBe(512);
    await backup.done;
    await updatePod(id, outs, spec({ memory: 1024 }), ctx);
    expect(memoryOf(Number(id))).toBe(1024);
  });

  test('adopting a container during its backup waits for the backup, then takes it over; a stale lock is refused', async () => {
    const unmanaged = (vmid: number) => ctx.pve.createContainerAndWait('pve', { ostemplate: T, rootfs: 'local-zfs:2', hostname: 'legacy', memory: 256 }, { vmid });
    await unmanaged(300);
    const backup = emu.state.lockingTask({ node: 'pve', guests: [300], perGuestMs: 3_000 });
    const { outs } = await createPod(spec({ name: 'legacy', adopt: true, vmid: 300 }), ctx);
    expect(outs.vmid).toBe(300);
    expect(memoryOf(300)).toBe(512);
    expect(notes.some((n) => n.includes(backup.upid))).toBe(true);
    await deletePod('300', outs, ctx);

    await unmanaged(301);
    emu.state.setLock(301, 'snapshot');
    const err = await createPod(spec({ name: 'legacy', adopt: true, vmid: 301 }), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleLockError);
    expect(memoryOf(301)).toBe(256);
    emu.state.setLock(301, undefined);
  });

  test('destroy during a backup waits for it, then removes the CT', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    const backup = emu.state.lockingTask({ node: 'pve', guests: [Number(id)], perGuestMs: 3_000 });
    await deletePod(id, outs, ctx);
    expect(emu.state.containers()).toEqual([]);
    expect(notes.some((n) => n.includes(backup.upid))).toBe(true);
  });
});
