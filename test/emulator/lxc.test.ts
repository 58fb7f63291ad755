// Checklist items 13–27: container create, config/pending/digest, locks, power, destroy, interfaces.
import { startEmulator, RunningEmulator } from '../../emulator';
import { Client, createCt, startCt, TEMPLATE } from './helpers';

let emu: RunningEmulator;
let c: Client;
const node = 'pve';

beforeAll(async () => {
  emu = await startEmulator({ taskDurationMs: 20, lockTimeoutMs: 200 });
  c = new Client(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});

describe('create', () => {
  test('defaults, disk naming per storage type and the async lock: create window', async () => {
    // A slower emulator so the `lock: create` window is wide enough to observe deterministically.
    const slow = await startEmulator({ taskDurationMs: 300, lockTimeoutMs: 2000, httpPort: 0 });
    const sc = new Client(slow);
    try {
      const upid = await sc.data('POST', `/nodes/${node}/lxc`, { form: { vmid: '200', ostemplate: TEMPLATE, rootfs: 'local-zfs:8' } });
      expect(upid).toMatch(/^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzcreate:200:root@pam!ci:$/);
      // Visible at once, locked.
      const during = await sc.data('GET', `/nodes/${node}/lxc/200/config`);
      expect(during.lock).toBe('create');
      const listed = (await sc.data('GET', `/nodes/${node}/lxc`)).find((x: any) => x.vmid === 200);
      expect(listed.lock).toBe('create');
      // A PUT queues behind the create worker's flock (300 ms task < 2 s lock timeout), then applies.
      const put = await sc.call('PUT', `/nodes/${node}/lxc/200/config`, { form: { cores: '2' } });
      expect(put.status).toBe(200);
      expect((await sc.waitTask(node, upid)).exitstatus).toBe('OK');
      const conf = await sc.data('GET', `/nodes/${node}/lxc/200/config`);
      expect(conf).toMatchObject({ rootfs: 'local-zfs:subvol-200-disk-0,size=8G', hostname: 'CT200', memory: 512, swap: 512, unprivileged: 1, cores: 2 });
      expect(conf.lock).toBeUndefined();
      expect(conf.digest).toMatch(/^[0-9a-f]{40}$/);
      expect(slow.state.storageContent(node, 'local-zfs').map((v) => v['volid'])).toContain('local-zfs:subvol-200-disk-0');
    } finally {
      await sc.close();
      await slow.close();
    }
    await createCt(c, 200, { rootfs: 'local-zfs:8' });
    await createCt(c, 201, { rootfs: 'local-lvm:2', mp0: 'local-lvm:1,mp=/data,backup=1' });
    const lvm = await c.data('GET', `/nodes/${node}/lxc/201/config`);
    expect(lvm.rootfs).toBe('local-lvm:vm-201-disk-0,size=2G');
    expect(lvm.mp0).toBe('local-lvm:vm-201-disk-1,mp=/data,backup=1,size=1G');
  });

  test('default storage local lacks rootdir → 400 on storage; bare size uses storage param', async () => {
    const r = await c.call('POST', `/nodes/${node}/lxc`, { form: { vmid: '202', ostemplate: TEMPLATE } });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ storage: "storage 'local' does not support container directories" });
    expect(emu.state.containers().some((x) => x.vmid === 202)).toBe(false);
    await createCt(c, 202, { storage: 'local-zfs', rootfs: '3' });
    expect((await c.data('GET', `/nodes/${node}/lxc/202/config`)).rootfs).toBe('local-zfs:subvol-202-disk-0,size=3G');
  });

  test('used VMID → synchronous 500, no task; QEMU guests give VM …', async () => {
    const before = (await c.call('GET', `/nodes/${node}/tasks`, { query: { source: 'all' } })).json.total;
    const r = await c.call('POST', `/nodes/${node}/lxc`, { form: { vmid: '200', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
    expect(r.status).toBe(500);
    expect(r.reason).toBe("CT 200 already exists on node 'pve'");
    expect((await c.call('GET', `/nodes/${node}/tasks`, { query: { source: 'all' } })).json.total).toBe(before);
    emu.state.addQemuGuest(node, 299);
    const vm = await c.call('POST', `/nodes/${node}/lxc`, { form: { vmid: '299', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
    expect(vm.reason).toBe("VM 299 already exists on node 'pve'");
  });

  test('failure surfaces only in the task and removes the config', async () => {
    const upid = await c.data('POST', `/nodes/${node}/lxc`, { form: { vmid: '203', ostemplate: 'local:vztmpl/missing.tar.zst', rootfs: 'local-zfs:1' } });
    const st = await c.waitTask(node, upid);
    expect(st.exitstatus).toBe("unable to create CT 203 - volume 'local:vztmpl/missing.tar.zst' does not exist");
    const log = await c.call('GET', `/nodes/${node}/tasks/${upid}/log`);
    expect(log.json.data.at(-1).t).toBe("TASK ERROR: unable to create CT 203 - volume 'local:vztmpl/missing.tar.zst' does not exist");
    expect((await c.call('GET', `/nodes/${node}/lxc/203/config`)).status).toBe(500);
    expect(emu.state.storageContent(node, 'local-zfs').some((v) => String(v['volid']).includes('-203-'))).toBe(false);
  });

  test('read-back normalisation: tags, description newline, env NUL list', async () => {
    await createCt(c, 204, { tags: 'Web,db;web Beta', description: 'line one\nline two', env: 'A=1\0B=two words' });
    const conf = await c.data('GET', `/nodes/${node}/lxc/204/config`);
    expect(conf.tags).toBe('beta;db;web');
    expect(conf.description).toBe('line one\nline two\n');
    expect(conf.env).toBe('A=1\0B=two words');
  });

  test('start=1 forks a separate vzstart task', async () => {
    const upid = await c.data('POST', `/nodes/${node}/lxc`, { form: { vmid: '205', ostemplate: TEMPLATE, rootfs: 'local-zfs:1', start: '1' } });
    await c.waitTask(node, upid);
    await emu.state.idle();
    const tasks = (await c.data('GET', `/nodes/${node}/tasks`, { query: { vmid: '205' } })).map((t: any) => t.type);
    expect(tasks.sort()).toEqual(['vzcreate', 'vzstart']);
    expect((await c.data('GET', `/nodes/${node}/lxc/205/status/current`)).status).toBe('running');
  });
});

describe('config, pending and digest', () => {
  test('stopped CT: everything applies at once; digest changes; stale digest rejected', async () => {
    await createCt(c, 210);
    const d1 = (await c.data('GET', `/nodes/${node}/lxc/210/config`)).digest;
    await c.data('PUT', `/nodes/${node}/lxc/210/config`, { form: { nameserver: '1.1.1.1', memory: '1024' } });
    const conf = await c.data('GET', `/nodes/${node}/lxc/210/config`);
    expect(conf).toMatchObject({ nameserver: '1.1.1.1', memory: 1024 });
    expect(conf.digest).not.toBe(d1);
    const stale = await c.call('PUT', `/nodes/${node}/lxc/210/config`, { form: { cores: '3', digest: d1 } });
    expect(stale.status).toBe(500);
    expect(stale.reason).toBe('detected modified configuration - file changed by other user? Try again.');
    expect((await c.call('PUT', `/nodes/${node}/lxc/210/config`, { form: { cores: '3', digest: conf.digest } })).status).toBe(200);
    expect((await c.data('GET', `/nodes/${node}/lxc/210/pending`)).every((p: any) => p.pending === undefined)).toBe(true);
  });

  test('no options → no options specified', async () => {
    const r = await c.call('PUT', `/nodes/${node}/lxc/210/config`, { form: {} });
    expect(r.status).toBe(500);
    expect(r.reason).toBe('no options specified');
  });

  test('running CT: fastplug/hotplug apply now, others stay pending until start/reboot', async () => {
    await createCt(c, 211, { net0: 'name=eth0,bridge=vmbr0,ip=dhcp' });
    await startCt(c, 211);
    const d1 = (await c.data('GET', `/nodes/${node}/lxc/211/config`)).digest;
    await c.data('PUT', `/nodes/${node}/lxc/211/config`, { form: { hostname: 'web1', memory: '256', nameserver: '9.9.9.9', entrypoint: '/app/run', env: 'X=1' } });
    const merged = await c.data('GET', `/nodes/${node}/lxc/211/config`);
    expect(merged).toMatchObject({ hostname: 'web1', memory: 256, nameserver: '9.9.9.9', entrypoint: '/app/run' });
    expect(merged.digest).not.toBe(d1);
    const current = await c.data('GET', `/nodes/${node}/lxc/211/config`, { query: { current: '1' } });
    expect(current.hostname).toBe('web1');
    expect(current.memory).toBe(256);
    expect(current.nameserver).toBeUndefined();
    const pending = await c.data('GET', `/nodes/${node}/lxc/211/pending`);
    const byKey = Object.fromEntries(pending.map((p: any) => [p.key, p]));
    expect(byKey.nameserver).toEqual({ key: 'nameserver', pending: '9.9.9.9' });
    expect(byKey.hostname).toEqual({ key: 'hostname', value: 'web1' });
    expect(byKey.env).toEqual({ key: 'env', pending: 'X=1' });
    // Deleting a key that is only pending does not drop its pending value: update_pct_config queues the delete,
    // cleanup_pending (pve-guest-common AbstractConfig.pm) discards it because the key is not set, so the value
    // still applies at the next start. `revert` is how a pending value goes.
    await c.data('PUT', `/nodes/${node}/lxc/211/config`, { form: { delete: 'nameserver' } });
    expect((await c.data('GET', `/nodes/${node}/lxc/211/pending`)).find((p: any) => p.key === 'nameserver')).toEqual({ key: 'nameserver', pending: '9.9.9.9' });
    await c.data('PUT', `/nodes/${node}/lxc/211/config`, { form: { revert: 'nameserver' } });
    // reboot applies pending
    const upid = await c.data('POST', `/nodes/${node}/lxc/211/status/reboot`);
    expect((await c.waitTask(node, upid)).exitstatus).toBe('OK');
    const after = await c.data('GET', `/nodes/${node}/lxc/211/config`, { query: { current: '1' } });
    expect(after.entrypoint).toBe('/app/run');
    expect(after.nameserver).toBeUndefined();
    expect((await c.data('GET', `/nodes/${node}/lxc/211/pending`)).some((p: any) => p.pending !== undefined || p.delete)).toBe(false);
  });

  test('new volumes in a config update are allocated; a running CT hot-plugs a new mount point', async () => {
    await startCt(c, 210);
    await c.data('PUT', `/nodes/${node}/lxc/210/config`, { form: { mp0: 'local-zfs:2,mp=/var/lib/data,backup=1' } });
    const conf = await c.data('GET', `/nodes/${node}/lxc/210/config`, { query: { current: '1' } });
    expect(conf.mp0).toBe('local-zfs:subvol-210-disk-1,mp=/var/lib/data,backup=1,size=2G');
    expect(emu.state.storageContent(node, 'local-zfs').some((v) => v['volid'] === 'local-zfs:subvol-210-disk-1')).toBe(true);
    // Changing an existing mount point on a running CT stays pending; the old volume becomes unused0.
    await c.data('PUT', `/nodes/${node}/lxc/210/config`, { form: { mp0: 'local-lvm:1,mp=/var/lib/data' } });
    const pending = await c.data('GET', `/nodes/${node}/lxc/210/pending`);
    expect(pending.find((p: any) => p.key === 'mp0')).toEqual({ key: 'mp0', value: conf.mp0, pending: 'local-lvm:vm-210-disk-0,mp=/var/lib/data,size=1G' });
    expect((await c.data('GET', `/nodes/${node}/lxc/210/config`)).unused0).toBeUndefined();
    // The reboot applies it; only then does the old volume become unused0.
    await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/210/status/reboot`));
    const after = await c.data('GET', `/nodes/${node}/lxc/210/config`);
    expect(after.mp0).toBe('local-lvm:vm-210-disk-0,mp=/var/lib/data,size=1G');
    expect(after.unused0).toBe('local-zfs:subvol-210-disk-1');
    await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/210/status/stop`));
  });

  test('delete/revert rules', async () => {
    const put = (form: Record<string, string>) => c.call('PUT', `/nodes/${node}/lxc/210/config`, { form });
    let r = await put({ delete: 'bogus' });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ delete: "unknown option 'bogus'" });
    r = await put({ delete: 'cores', cores: '2' });
    expect(r.status).toBe(400);
    expect(r.json.errors.delete).toBe("you can't use '-cores' and -delete cores' at the same time");
    r = await put({ delete: 'memory' });
    expect(r.status).toBe(500);
    expect(r.reason).toBe("unable to delete required option 'memory'");
    r = await put({ delete: 'unprivileged' });
    // pve-container src/PVE/LXC/Config.pm update_pct_config: deleting it and setting it have their own messages.
    expect(r.reason).toBe("unable to delete read-only option: 'unprivileged'");
    r = await put({ unprivileged: '0' });
    expect(r.reason).toBe("unable to modify read-only option: 'unprivileged'");
    // Deleting a key that is not set only warns.
    expect((await put({ delete: 'searchdomain' })).status).toBe(200);
  });

  test('snapshot and current together → 400 on both', async () => {
    const r = await c.call('GET', `/nodes/${node}/lxc/210/config`, { query: { current: '1', snapshot: 'x' } });
    expect(r.status).toBe(400);
    expect(Object.keys(r.json.errors).sort()).toEqual(['current', 'snapshot']);
  });
});

describe('locks', () => {
  test('a config lock blocks PUT/resize/destroy synchronously and start/stop inside the task', async () => {
    await createCt(c, 220);
    await startCt(c, 220);
    expect((await c.call('PUT', `/nodes/${node}/lxc/220/config`, { form: { lock: 'backup' } })).status).toBe(400); // not settable via API
    emu.state.setLock(220, 'backup');
    for (const [m, p, form] of [
      ['PUT', '/config', { cores: '2' }],
      ['PUT', '/resize', { disk: 'rootfs', size: '+1G' }],
    ] as const) {
      const r = await c.call(m, `/nodes/${node}/lxc/220${p}`, { form });
      expect(r.status).toBe(500);
      expect(r.reason).toBe('CT is locked (backup)');
    }
    const del = await c.call('DELETE', `/nodes/${node}/lxc/220`, { query: { force: '1' } });
    expect(del.reason).toBe('CT is locked (backup)');
    const stop = await c.data('POST', `/nodes/${node}/lxc/220/status/stop`);
    expect((await c.waitTask(node, stop)).exitstatus).toBe('CT is locked (backup)');
    emu.state.setLock(220, undefined);
    expect((await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/220/status/stop`))).exitstatus).toBe('OK');
    emu.state.setLock(220, 'snapshot');
    expect((await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/220/status/start`))).exitstatus).toBe('CT is locked (snapshot)');
    emu.state.setLock(220, undefined);
  });

  test('per-CT flock: a PUT during a running task waits, then times out', async () => {
    const slow = await startEmulator({ taskDurationMs: 400, lockTimeoutMs: 100, httpPort: 0 });
    const sc = new Client(slow);
    try {
      await createCt(sc, 100);
      const upid = await sc.data('POST', `/nodes/pve/lxc/100/status/start`);
      const t0 = Date.now();
      const r = await sc.call('PUT', `/nodes/pve/lxc/100/config`, { form: { cores: '2' } });
      expect(r.status).toBe(500);
      expect(r.reason).toBe("can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
      await sc.waitTask('pve', upid);
      expect((await sc.call('PUT', `/nodes/pve/lxc/100/config`, { form: { cores: '2' } })).status).toBe(200);
    } finally {
      await sc.close();
      await slow.close();
    }
  });
});

describe('power', () => {
  test('sync errors: already running / not running / VM not running; missing CT start still gets a UPID', async () => {
    await createCt(c, 230);
    let r = await c.call('POST', `/nodes/${node}/lxc/230/status/stop`);
    expect(r.reason).toBe('CT 230 not running');
    r = await c.call('POST', `/nodes/${node}/lxc/230/status/shutdown`);
    expect(r.reason).toBe('CT 230 not running');
    r = await c.call('POST', `/nodes/${node}/lxc/230/status/reboot`);
    expect(r.reason).toBe('VM 230 not running');
    await startCt(c, 230);
    r = await c.call('POST', `/nodes/${node}/lxc/230/status/start`);
    expect(r.status).toBe(500);
    expect(r.reason).toBe('CT 230 already running');
    const upid = await c.data('POST', `/nodes/${node}/lxc/239/status/start`);
    expect((await c.waitTask(node, upid)).exitstatus).toBe("Configuration file 'nodes/pve/lxc/239.conf' does not exist");
  });

  test('shutdown that the CT ignores: container did not stop, unless forceStop', async () => {
    emu.state.setIgnoreShutdown(230, true);
    let upid = await c.data('POST', `/nodes/${node}/lxc/230/status/shutdown`, { form: { timeout: '0' } });
    expect((await c.waitTask(node, upid)).exitstatus).toBe('container did not stop');
    expect((await c.data('GET', `/nodes/${node}/lxc/230/status/current`)).status).toBe('running');
    upid = await c.data('POST', `/nodes/${node}/lxc/230/status/shutdown`, { form: { timeout: '0', forceStop: '1' } });
    expect((await c.waitTask(node, upid)).exitstatus).toBe('OK');
    const cur = await c.data('GET', `/nodes/${node}/lxc/230/status/current`);
    expect(cur.status).toBe('stopped');
    expect(cur.ha).toEqual({ managed: 0 });
  });

  test('interfaces: lo + eth0 with static ip, dhcp lease stable per MAC', async () => {
    await createCt(c, 231, { net0: 'name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1', net1: 'name=eth1,bridge=vmbr0,ip=dhcp,hwaddr=BC:24:11:00:01:02' });
    expect((await c.call('GET', `/nodes/${node}/lxc/231/interfaces`)).status).toBe(500);
    await startCt(c, 231);
    const ifs = await c.data('GET', `/nodes/${node}/lxc/231/interfaces`);
    expect(ifs.map((i: any) => i.name)).toEqual(['lo', 'eth0', 'eth1']);
    expect(ifs[1].inet).toBe('10.0.0.5/24');
    expect(ifs[1].hwaddr).toMatch(/^bc:24:11:/);
    expect(ifs[2].hwaddr).toBe('bc:24:11:00:01:02');
    expect(ifs[2]['ip-addresses'][0]).toEqual({ 'ip-address': ifs[2].inet.split('/')[0], 'ip-address-type': 'inet', prefix: Number(ifs[2].inet.split('/')[1]) });
    const again = await c.data('GET', `/nodes/${node}/lxc/231/interfaces`);
    expect(again[2].inet).toBe(ifs[2].inet);
  });
});

describe('destroy, resize, template, missing CTs', () => {
  test('destroy rules and the destroyed lock window', async () => {
    await createCt(c, 240, { protection: '1' });
    let r = await c.call('DELETE', `/nodes/${node}/lxc/240`);
    expect(r.reason).toBe("can't remove CT 240 - protection mode enabled");
    await c.data('PUT', `/nodes/${node}/lxc/240/config`, { form: { delete: 'protection' } });
    await startCt(c, 240);
    r = await c.call('DELETE', `/nodes/${node}/lxc/240`);
    expect(r.reason).toBe('unable to destroy CT 240 - container is running');
    const upid = await c.data('DELETE', `/nodes/${node}/lxc/240`, { query: { force: '1', purge: '1', 'destroy-unreferenced-disks': '1' } });
    expect((await c.waitTask(node, upid)).exitstatus).toBe('OK');
    expect((await c.call('GET', `/nodes/${node}/lxc/240/config`)).status).toBe(500);
    expect(emu.state.storageContent(node, 'local-zfs').some((v) => v['vmid'] === 240)).toBe(false);

    // The `destroyed` lock window, observed on a slower emulator so it is deterministic.
    const slow = await startEmulator({ taskDurationMs: 300, httpPort: 0 });
    const sc = new Client(slow);
    try {
      await createCt(sc, 100);
      const d = await sc.data('DELETE', `/nodes/pve/lxc/100`);
      expect((await sc.data('GET', `/nodes/pve/lxc/100/config`)).lock).toBe('destroyed');
      // A PUT queues on the flock the destroy worker holds, and then finds the config gone.
      expect((await sc.call('PUT', `/nodes/pve/lxc/100/config`, { form: { cores: '2' } })).reason).toBe("Configuration file 'nodes/pve/lxc/100.conf' does not exist");
      await sc.waitTask('pve', d);
      expect((await sc.call('GET', `/nodes/pve/lxc/100/config`)).status).toBe(500);
    } finally {
      await sc.close();
      await slow.close();
    }
  });

  test('resize grows, refuses shrink and same size', async () => {
    await createCt(c, 241);
    const upid = await c.data('PUT', `/nodes/${node}/lxc/241/resize`, { form: { disk: 'rootfs', size: '+2G' } });
    expect((await c.waitTask(node, upid)).type).toBe('resize');
    expect((await c.data('GET', `/nodes/${node}/lxc/241/config`)).rootfs).toBe('local-zfs:subvol-241-disk-0,size=6G');
    expect((await c.call('PUT', `/nodes/${node}/lxc/241/resize`, { form: { disk: 'rootfs', size: '5G' } })).reason).toBe('unable to shrink disk size');
    expect((await c.call('PUT', `/nodes/${node}/lxc/241/resize`, { form: { disk: 'rootfs', size: '6G' } })).reason).toBe('disk is already at specified size');
    const bad = await c.call('PUT', `/nodes/${node}/lxc/241/resize`, { form: { disk: 'mp999', size: '1G' } });
    expect(bad.status).toBe(400);
  });

  test('template returns null while work happens asynchronously', async () => {
    await createCt(c, 242);
    const r = await c.call('POST', `/nodes/${node}/lxc/242/template`);
    expect(r.text).toBe('{"data":null}');
    await emu.state.idle();
    const conf = await c.data('GET', `/nodes/${node}/lxc/242/config`);
    expect(conf.template).toBe(1);
    expect(conf.rootfs).toBe('local-zfs:basevol-242-disk-0,size=4G');
    expect((await c.call('POST', `/nodes/${node}/lxc/242/template`)).reason).toBe("you can't convert a template to a template");
    const st = await c.data('POST', `/nodes/${node}/lxc/242/status/start`);
    expect((await c.waitTask(node, st)).exitstatus).toBe("you can't start a CT if it's a template");
  });

  test('a CT on another node is a missing config file', async () => {
    const multi = await startEmulator({ nodes: 2, taskDurationMs: 10, httpPort: 0 });
    const mc = new Client(multi);
    try {
      expect(multi.nodes).toEqual(['pve1', 'pve2']);
      await createCt(mc, 100, {}, 'pve1');
      for (const [m, p] of [['GET', '/config'], ['GET', '/status/current'], ['GET', '/pending'], ['DELETE', ''], ['PUT', '/resize']] as const) {
        const r = await mc.call(m, `/nodes/pve2/lxc/100${p}`, m === 'PUT' ? { form: { disk: 'rootfs', size: '+1G' } } : {});
        expect(r.status).toBe(500);
        expect(r.reason).toBe("Configuration file 'nodes/pve2/lxc/100.conf' does not exist");
      }
      // VMIDs are cluster-wide.
      const dup = await mc.call('POST', '/nodes/pve2/lxc', { form: { vmid: '100', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
      expect(dup.reason).toBe("CT 100 already exists on node 'pve1'");
    } finally {
      await mc.close();
      await multi.close();
    }
  });
});
