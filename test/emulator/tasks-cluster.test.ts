// Checklist items 10–12, 28, 36 and fault injection: UPIDs, task status/log/list, nextid, resources.
import { startEmulator, RunningEmulator } from '../../emulator';
import { Client, createCt, startCt, TEMPLATE } from './helpers';

let emu: RunningEmulator;
let c: Client;

beforeAll(async () => {
  emu = await startEmulator({ nodes: 2, taskDurationMs: 20, lockTimeoutMs: 200 });
  c = new Client(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});
afterEach(() => emu.faults.clear());

describe('tasks', () => {
  test('UPID format, running → stopped, token user split into user + tokenid', async () => {
    // Its own emulator with 1 s tasks: a 20 ms task had often ended before the status read on a loaded machine.
    const slow = await startEmulator({ nodes: 2, taskDurationMs: 1000 });
    const c = new Client(slow);
    try {
    const upid: string = await c.data('POST', '/nodes/pve1/lxc', { form: { vmid: '100', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
    const m = /^UPID:pve1:([0-9A-F]{8}):([0-9A-F]{8}):([0-9A-F]{8}):vzcreate:100:root@pam!ci:$/.exec(upid);
    expect(m).not.toBeNull();
    const running = await c.data('GET', `/nodes/pve1/tasks/${upid}/status`);
    expect(running).toMatchObject({ status: 'running', type: 'vzcreate', id: '100', user: 'root@pam', tokenid: 'ci', node: 'pve1', upid });
    expect(running.exitstatus).toBeUndefined();
    expect(running.pid).toBe(parseInt(m![1]!, 16));
    expect(running.starttime).toBe(parseInt(m![3]!, 16));
    const done = await c.waitTask('pve1', upid);
    expect(done.exitstatus).toBe('OK');
    // %-encoded UPIDs work as well as raw ones, and lowercase hex decodes.
    expect((await c.data('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`)).upid).toBe(upid);
    const lower = upid.replace(/:([0-9A-F]{8}):/, (_, h: string) => `:${h.toLowerCase()}:`);
    expect((await c.data('GET', `/nodes/pve1/tasks/${lower}/status`)).upid).toBe(upid);
    } finally {
      await c.close();
      await slow.close();
    }
    // The tests below work on CT 100 of the suite's emulator.
    const shared = new Client(emu);
    await shared.waitTask('pve1', await shared.data('POST', '/nodes/pve1/lxc', { form: { vmid: '100', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } }));
    await shared.close();
  });

  test('bad and unknown UPIDs → 400', async () => {
    let r = await c.call('GET', '/nodes/pve1/tasks/garbage/status');
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ upid: 'unable to parse worker upid' });
    r = await c.call('GET', '/nodes/pve1/tasks/UPID:pve1:00000001:00000002:00000003:vzstart:1:root@pam:/status');
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ upid: 'no such task' });
  });

  test('log: [{n,t}] with total, paging, last line TASK OK / TASK ERROR', async () => {
    const upid = await c.data('POST', '/nodes/pve1/lxc/100/status/start');
    await c.waitTask('pve1', upid);
    const log = await c.call('GET', `/nodes/pve1/tasks/${upid}/log`);
    expect(log.json.total).toBe(log.json.data.length);
    expect(log.json.data.at(-1)).toEqual({ n: log.json.total, t: 'TASK OK' });
    const page = await c.call('GET', `/nodes/pve1/tasks/${upid}/log`, { query: { start: '0', limit: '0' } });
    expect(page.json.data).toEqual([]);
    expect(page.json.total).toBe(log.json.total);
  });

  test('injected task error, WARNINGS (a success), latency and HTTP failures', async () => {
    emu.faults.add({ method: 'POST', path: '/nodes/pve1/lxc/100/status/stop', taskError: 'command lxc-stop failed\nexit code 1' });
    let upid = await c.data('POST', '/nodes/pve1/lxc/100/status/stop');
    let st = await c.waitTask('pve1', upid);
    expect(st.exitstatus).toBe('command lxc-stop failed exit code 1');
    const log = await c.data('GET', `/nodes/pve1/tasks/${upid}/log`);
    expect(log.at(-1).t).toBe('TASK ERROR: command lxc-stop failed exit code 1');
    expect((await c.data('GET', '/nodes/pve1/lxc/100/status/current')).status).toBe('running');

    emu.faults.add({ path: /\/status\/stop$/, taskWarnings: 2 });
    upid = await c.data('POST', '/nodes/pve1/lxc/100/status/stop');
    st = await c.waitTask('pve1', upid);
    expect(st.exitstatus).toBe('WARNINGS: 2');
    expect((await c.data('GET', `/nodes/pve1/tasks/${upid}/log`)).at(-1).t).toBe('TASK WARNINGS: 2');
    expect((await c.data('GET', '/nodes/pve1/lxc/100/status/current')).status).toBe('stopped');

    emu.faults.add({ method: 'GET', path: '/version', status: 503, message: 'service unavailable', times: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await c.call('GET', '/version');
      expect(r.status).toBe(503);
      expect(r.reason).toBe('service unavailable');
      expect(r.json).toEqual({ data: null, message: 'service unavailable\n' });
    }
    expect((await c.call('GET', '/version')).status).toBe(200);

    emu.faults.add({ path: '/nodes', latencyMs: 150 });
    const t0 = Date.now();
    expect((await c.call('GET', '/nodes')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  test('an injected create failure runs the worker cleanup: no config, no lock, vmid reusable', async () => {
    emu.faults.add({ method: 'POST', path: '/nodes/pve2/lxc', taskError: 'unable to create CT 150 - disk full' });
    const upid = await c.data('POST', '/nodes/pve2/lxc', { form: { vmid: '150', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
    expect((await c.waitTask('pve2', upid)).exitstatus).toBe('unable to create CT 150 - disk full');
    expect(emu.state.containers().some((x) => x.vmid === 150)).toBe(false);
    expect(emu.state.storageContent('pve2', 'local-zfs').some((v) => v['vmid'] === 150)).toBe(false);
    const again = await c.data('POST', '/nodes/pve2/lxc', { form: { vmid: '150', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
    expect((await c.waitTask('pve2', again)).exitstatus).toBe('OK');
    // Injected destroy failure leaves the CT, unlocked.
    emu.faults.add({ method: 'DELETE', path: '/nodes/pve2/lxc/150', taskError: 'zfs error: dataset is busy' });
    const d = await c.data('DELETE', '/nodes/pve2/lxc/150');
    expect((await c.waitTask('pve2', d)).exitstatus).toBe('zfs error: dataset is busy');
    expect(emu.state.containers().find((x) => x.vmid === 150)!.config['lock']).toBeUndefined();
    await c.waitTask('pve2', await c.data('DELETE', '/nodes/pve2/lxc/150'));
    expect(emu.state.containers().some((x) => x.vmid === 150)).toBe(false);
  });

  test('task list: filters, total, stopped tasks carry status/endtime', async () => {
    const r = await c.call('GET', '/nodes/pve1/tasks', { query: { typefilter: 'vzstop', limit: '1' } });
    expect(r.json.total).toBe(2);
    expect(r.json.data).toHaveLength(1);
    expect(r.json.data[0]).toMatchObject({ type: 'vzstop', id: '100', user: 'root@pam!ci', node: 'pve1' });
    expect(r.json.data[0].endtime).toEqual(expect.any(Number));
    const errors = await c.data('GET', '/nodes/pve1/tasks', { query: { errors: '1' } });
    expect(errors.map((t: any) => t.status)).toEqual(['command lxc-stop failed exit code 1']);
    const pve2 = await c.data('GET', '/nodes/pve2/tasks');
    expect(pve2.length).toBeGreaterThan(0);
    expect(pve2.every((t: any) => t.node === 'pve2')).toBe(true);
  });

  test("active tasks read status RUNNING (PVE's node_tasks); the vmid filter drops a backup job with no id", async () => {
    await createCt(c, 150, {}, 'pve1');
    await createCt(c, 151, {}, 'pve1');
    const one = emu.state.lockingTask({ node: 'pve1', guests: [150], perGuestMs: 1_500 });
    const job = emu.state.lockingTask({ node: 'pve1', guests: [150, 151], perGuestMs: 200 });
    const active = await c.data('GET', '/nodes/pve1/tasks', { query: { source: 'active' } });
    expect(active.map((t: any) => [t.upid, t.status, t.id])).toEqual(expect.arrayContaining([[one.upid, 'RUNNING', '150'], [job.upid, 'RUNNING', '']]));
    expect(active.every((t: any) => t.endtime === undefined)).toBe(true);
    const for150 = await c.data('GET', '/nodes/pve1/tasks', { query: { source: 'active', vmid: '150' } });
    expect(for150.map((t: any) => t.upid)).toEqual([one.upid]);
    await Promise.all([one.done, job.done]);
    expect(await c.data('GET', '/nodes/pve1/tasks', { query: { source: 'active' } })).toEqual([]);
  });
});

describe('cluster', () => {
  test('nextid: lowest free id as a string, ?vmid=used → 400, and it reserves nothing', async () => {
    expect(await c.data('GET', '/cluster/nextid')).toBe('101');
    const used = await c.call('GET', '/cluster/nextid', { query: { vmid: '100' } });
    expect(used.status).toBe(400);
    expect(used.json.errors).toEqual({ vmid: 'VM 100 already exists' });
    expect(await c.data('GET', '/cluster/nextid', { query: { vmid: '555' } })).toBe('555');
    // Two clients race on the same id: one wins, the loser gets the sync error.
    const [a, b] = await Promise.all([c.data('GET', '/cluster/nextid'), c.data('GET', '/cluster/nextid')]);
    expect(a).toBe(b);
    const results = await Promise.all(['pve1', 'pve2'].map((n) => c.call('POST', `/nodes/${n}/lxc`, { form: { vmid: a, ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 500]);
    expect(results.find((r) => r.status === 500)!.reason).toMatch(new RegExp(`^CT ${a} already exists on node 'pve[12]'$`));
    await emu.state.idle();
  });

  test('/nodes, /nodes/{n}/status, /version, unknown node', async () => {
    const nodes = await c.data('GET', '/nodes');
    expect(nodes.map((n: any) => n.node)).toEqual(['pve1', 'pve2']);
    expect(nodes[0]).toMatchObject({ id: 'node/pve1', type: 'node', status: 'online', ssl_fingerprint: emu.fingerprint });
    const st = await c.data('GET', '/nodes/pve2/status');
    expect(st.memory.total).toBeGreaterThan(0);
    const bad = await c.call('GET', '/nodes/nope/status');
    expect(bad.status).toBe(500);
    expect(bad.reason).toMatch(/^hostname lookup 'nope' failed/);
  });

  test('/cluster/resources ids and type filter', async () => {
    const all = await c.data('GET', '/cluster/resources');
    const ids = all.map((r: any) => r.id);
    expect(ids).toEqual(expect.arrayContaining(['lxc/100', 'node/pve1', 'node/pve2', 'storage/pve1/local', 'storage/pve2/local-zfs']));
    const vms = await c.data('GET', '/cluster/resources', { query: { type: 'vm' } });
    expect(vms.every((r: any) => r.type === 'lxc')).toBe(true);
    expect(vms.find((r: any) => r.vmid === 100)).toMatchObject({ node: 'pve1', status: 'stopped', name: 'CT100' });
    const stor = await c.data('GET', '/cluster/resources', { query: { type: 'storage' } });
    expect(stor.find((r: any) => r.id === 'storage/pve1/local')).toMatchObject({ plugintype: 'dir', content: 'backup,iso,vztmpl', status: 'available' });
    expect((await c.call('GET', '/cluster/resources', { query: { type: 'qemu' } })).status).toBe(400);
  });

  test('optional status lag: guests read unknown right after a change', async () => {
    let now = 1_800_000_000_000;
    const lag = await startEmulator({ taskDurationMs: 5, resourcesLagMs: 10_000, clock: () => now, httpPort: 0 });
    const lc = new Client(lag);
    try {
      await createCt(lc, 100);
      await startCt(lc, 100);
      const fresh = (await lc.data('GET', '/cluster/resources', { query: { type: 'vm' } }))[0];
      expect(fresh.status).toBe('unknown');
      now += 10_001;
      expect((await lc.data('GET', '/cluster/resources', { query: { type: 'vm' } }))[0].status).toBe('running');
    } finally {
      await lc.close();
      await lag.close();
    }
  });
});
