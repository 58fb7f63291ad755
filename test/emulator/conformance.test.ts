// Conformance: each area pinned to what PVE's own code does (file and function cited per test), so a client that
// works against the emulator works against PVE. Raw HTTP, so status lines and bodies are checked byte for byte.
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, RunningEmulator } from '../../emulator';
import { Client, createCt, startCt, TEMPLATE } from './helpers';

let emu: RunningEmulator;
let c: Client;
const node = 'pve';

beforeAll(async () => {
  emu = await startEmulator({ taskDurationMs: 20, lockTimeoutMs: 2000 });
  c = new Client(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});

const raw = (method: string, path: string, body: string, contentType = 'application/x-www-form-urlencoded') =>
  c.call(method, path, { rawBody: { body, contentType } });

describe('request parsing (pve-http-server AnyEvent.pm decode_urlencoded/extract_params; pve-common RESTHandler.pm handle)', () => {
  beforeAll(async () => {
    await createCt(c, 300, { net0: 'name=eth0,bridge=vmbr0', net1: 'name=eth1,bridge=vmbr0', net2: 'name=eth2,bridge=vmbr0', onboot: '1' });
  });

  test('repeated `delete` keys are joined with "," ($normalize_legacy_param_formats, pve-configid-list): both go', async () => {
    const r = await raw('PUT', `/nodes/${node}/lxc/300/config`, 'delete=net1&delete=net2');
    expect(r.status).toBe(200);
    const conf = await c.data('GET', `/nodes/${node}/lxc/300/config`);
    expect(conf.net1).toBeUndefined();
    expect(conf.net2).toBeUndefined();
    expect(conf.net0).toBeDefined();
  });

  test('JSON arrays for a -list param are accepted and joined', async () => {
    await c.data('PUT', `/nodes/${node}/lxc/300/config`, { form: { net1: 'name=eth1,bridge=vmbr0', cores: '1' } });
    const r = await c.call('PUT', `/nodes/${node}/lxc/300/config`, { json: { delete: ['net1', 'cores'] } });
    expect(r.status).toBe(200);
    const conf = await c.data('GET', `/nodes/${node}/lxc/300/config`);
    expect(conf.net1).toBeUndefined();
    expect(conf.cores).toBeUndefined();
  });

  test('a repeated non-list param is an ARRAY: 400 with JSONSchema.pm check_type\'s message', async () => {
    const r = await raw('PUT', `/nodes/${node}/lxc/300/config`, 'hostname=a&hostname=b');
    expect(r.status).toBe(400);
    expect(r.reason).toBe('Parameter verification failed.');
    expect(r.json).toEqual({ data: null, message: 'Parameter verification failed.\n', errors: { hostname: "type check ('string') failed - got ARRAY" } });
    const j = await c.call('PUT', `/nodes/${node}/lxc/300/config`, { json: { cores: [1, 2], memory: { a: 1 }, onboot: true } });
    expect(j.json.errors).toEqual({ cores: "type check ('integer') failed - got ARRAY", memory: "type check ('integer') failed - got HASH" });
  });

  test('`;` separates pairs too; only the text between the first and second `=` is the value; the query string wins', async () => {
    await raw('PUT', `/nodes/${node}/lxc/300/config`, 'cores=2;swap=256');
    let conf = await c.data('GET', `/nodes/${node}/lxc/300/config`);
    expect([conf.cores, conf.swap]).toEqual([2, 256]);
    await raw('PUT', `/nodes/${node}/lxc/300/config`, 'searchdomain=a=b');
    expect((await c.data('GET', `/nodes/${node}/lxc/300/config`)).searchdomain).toBe('a');
    await c.call('PUT', `/nodes/${node}/lxc/300/config`, { form: { cores: '3' }, query: { cores: '4' } });
    conf = await c.data('GET', `/nodes/${node}/lxc/300/config`);
    expect(conf.cores).toBe(4);
  });

  test('errors before the handler: message in the status line and (pve-http-server 6.0 `error`) as the text body', async () => {
    const r = await c.call('DELETE', `/nodes/${node}/lxc/999`, { rawBody: { body: 'x=1', contentType: 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(501);
    expect(r.reason).toBe("Unexpected content for method 'DELETE'");
    expect(r.text).toBe("Unexpected content for method 'DELETE'");
    expect(r.contentType).toBeNull();
    const bad = await raw('PUT', `/nodes/${node}/lxc/300/config`, '[1,2]', 'application/json');
    expect(bad.status).toBe(500);
    expect(bad.reason).toBe('Not a HASH reference');
  });
});

describe('config write/read (pve-container src/PVE/LXC/Config.pm write_pct_config, parse_pct_config, update_pct_config)', () => {
  test('description= (empty) means the key is gone, in config and in /pending', async () => {
    await createCt(c, 310, { description: 'line one\nline two' });
    expect((await c.data('GET', `/nodes/${node}/lxc/310/config`)).description).toBe('line one\nline two\n');
    await raw('PUT', `/nodes/${node}/lxc/310/config`, 'description=');
    const conf = await c.data('GET', `/nodes/${node}/lxc/310/config`);
    expect('description' in conf).toBe(false);
    const pending = await c.data('GET', `/nodes/${node}/lxc/310/pending`);
    expect(pending.some((p: any) => p.key === 'description')).toBe(false);
    // A running CT takes description at once (fastplug) and writes no line for the empty value either.
    await c.data('PUT', `/nodes/${node}/lxc/310/config`, { form: { description: 'x' } });
    await startCt(c, 310);
    await raw('PUT', `/nodes/${node}/lxc/310/config`, 'description=');
    expect((await c.data('GET', `/nodes/${node}/lxc/310/pending`)).some((p: any) => p.key === 'description')).toBe(false);
  });

  test('property strings are kept as sent, except where PVE re-prints (NICs, mount points)', async () => {
    await createCt(c, 311, { features: 'nesting=on', net0: 'bridge=vmbr0,name=eth0,rate=12.50,firewall=on' });
    const conf = await c.data('GET', `/nodes/${node}/lxc/311/config`);
    expect(conf.features).toBe('nesting=on');
    // print_lxc_network: default order (required name first), booleans 1/0, numbers as written.
    expect(conf.net0).toMatch(/^name=eth0,bridge=vmbr0,firewall=1,hwaddr=[0-9A-F:]{17},rate=12\.50,type=veth$/);
    await c.data('PUT', `/nodes/${node}/lxc/311/config`, { form: { tags: 'B;a,b', nameserver: '1.1.1.1,8.8.8.8', cpulimit: '1.50' } });
    const after = await c.data('GET', `/nodes/${node}/lxc/311/config`);
    expect(after.tags).toBe('a;b'); // GuestHelpers.pm get_unique_tags
    expect(after.nameserver).toBe('1.1.1.1 8.8.8.8'); // LXC.pm verify_nameserver_list
    expect(after.cpulimit).toBe('1.50'); // Config.pm check_type keeps numbers as written
  });

  test('rootfs is always disk-0, then the mount points in order, whatever order they were sent in', async () => {
    await raw('POST', `/nodes/${node}/lxc`, `vmid=312&ostemplate=${encodeURIComponent(TEMPLATE)}&mp1=${encodeURIComponent('local-zfs:1,mp=/b')}&mp0=${encodeURIComponent('local-zfs:1,mp=/a')}&rootfs=local-zfs%3A2`)
      .then(async (r) => c.waitTask(node, r.json.data));
    const conf = await c.data('GET', `/nodes/${node}/lxc/312/config`);
    expect(conf.rootfs).toBe('local-zfs:subvol-312-disk-0,size=2G');
    expect(conf.mp0).toBe('local-zfs:subvol-312-disk-1,mp=/a,size=1G');
    expect(conf.mp1).toBe('local-zfs:subvol-312-disk-2,mp=/b,size=1G');
  });

  test('deleting a mount point keeps its volume as unusedN; deleting unusedN frees it (vmconfig_apply_pending)', async () => {
    await c.data('PUT', `/nodes/${node}/lxc/312/config`, { form: { delete: 'mp1' } });
    const conf = await c.data('GET', `/nodes/${node}/lxc/312/config`);
    expect(conf.unused0).toBe('local-zfs:subvol-312-disk-2');
    await c.data('PUT', `/nodes/${node}/lxc/312/config`, { form: { delete: 'unused0' } });
    expect(emu.state.storageContent(node, 'local-zfs').some((v) => v['volid'] === 'local-zfs:subvol-312-disk-2')).toBe(false);
  });
});

describe('start with a missing bridge (pve-container src/lxcnetaddbr; src/PVE/LXC.pm monitor_start)', () => {
  test('the start task fails with PVE\'s message and the bridge line in its log', async () => {
    await createCt(c, 320, { net0: 'name=eth0,bridge=vmbr9,ip=dhcp' });
    const upid = await c.data('POST', `/nodes/${node}/lxc/320/status/start`);
    const st = await c.waitTask(node, upid);
    expect(st.exitstatus).toBe("startup for container '320' failed");
    const log = (await c.data('GET', `/nodes/${node}/tasks/${upid}/log`)).map((l: any) => l.t);
    expect(log).toContain("bridge 'vmbr9' does not exist");
    expect((await c.data('GET', `/nodes/${node}/lxc/320/status/current`)).status).toBe('stopped');
    // With an MTU, update_pct_config reads the bridge's MTU (PVE::Network read_bridge_mtu) and dies at once.
    const r = await c.call('PUT', `/nodes/${node}/lxc/320/config`, { form: { net1: 'name=eth1,bridge=vmbr7,mtu=1400' } });
    expect(r.status).toBe(500);
    expect(r.reason).toBe("bridge 'vmbr7' does not exist");
  });
});

describe('snapshots (pve-container src/PVE/API2/LXC/Snapshot.pm; pve-guest-common AbstractConfig.pm snapshot_*)', () => {
  test('names as pve-snapshot-name (pve-configid), reserved names, lock `snapshot` while taken, parent chain', async () => {
    await createCt(c, 330);
    const bad = await c.call('POST', `/nodes/${node}/lxc/330/snapshot`, { form: { snapname: 'a' } });
    expect(bad.json.errors).toEqual({ snapname: "invalid format - invalid configuration ID 'a'\n" });
    const reserved = await c.call('POST', `/nodes/${node}/lxc/330/snapshot`, { form: { snapname: 'current' } });
    expect([reserved.status, reserved.reason]).toEqual([500, "unable to use snapshot name 'current' (reserved name)"]);
    const upid = await c.data('POST', `/nodes/${node}/lxc/330/snapshot`, { form: { snapname: 's1', description: 'one' } });
    await new Promise((r) => setTimeout(r, 5));
    const during = await c.data('GET', `/nodes/${node}/lxc/330/config`);
    expect(['snapshot', undefined]).toContain(during.lock);
    expect((await c.waitTask(node, upid)).exitstatus).toBe('OK');
    expect((await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/330/snapshot`, { form: { snapname: 's2' } }))).exitstatus).toBe('OK');
    const list = await c.data('GET', `/nodes/${node}/lxc/330/snapshot`);
    expect(list.map((s: any) => [s.name, s.parent])).toEqual([['s1', undefined], ['s2', 's1'], ['current', 's2']]);
    expect(list[0].description).toBe('one\n');
    const dup = await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/330/snapshot`, { form: { snapname: 's1' } }));
    expect(dup.exitstatus).toBe("snapshot name 's1' already used");
    expect((await c.data('GET', `/nodes/${node}/lxc/330/snapshot/s1/config`)).rootfs).toBe('local-zfs:subvol-330-disk-0,size=4G');
  });

  test('ZFS rolls back only to the newest snapshot; delete relinks the parent', async () => {
    const old = await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/330/snapshot/s1/rollback`));
    expect(old.exitstatus).toBe("can't rollback, 's1' is not most recent snapshot on 'local-zfs:subvol-330-disk-0'");
    await c.data('PUT', `/nodes/${node}/lxc/330/config`, { form: { cores: '3' } });
    expect((await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/330/snapshot/s2/rollback`))).exitstatus).toBe('OK');
    expect((await c.data('GET', `/nodes/${node}/lxc/330/config`)).cores).toBeUndefined();
    expect((await c.waitTask(node, await c.data('DELETE', `/nodes/${node}/lxc/330/snapshot/s2`))).exitstatus).toBe('OK');
    const list = await c.data('GET', `/nodes/${node}/lxc/330/snapshot`);
    expect(list.map((s: any) => [s.name, s.parent])).toEqual([['s1', undefined], ['current', 's1']]);
    const gone = await c.waitTask(node, await c.data('DELETE', `/nodes/${node}/lxc/330/snapshot/nope`));
    expect(gone.exitstatus).toBe("snapshot 'nope' does not exist");
    // A dir storage has no snapshot feature.
    await createCt(c, 331, { rootfs: 'local-lvm:1', mp0: 'local-zfs:1,mp=/x' });
    expect((await c.waitTask(node, await c.data('POST', `/nodes/${node}/lxc/331/snapshot`, { form: { snapname: 'ok' } }))).exitstatus).toBe('OK');
  });
});

describe('clone (pve-container src/PVE/API2/LXC.pm clone_vm; pve-storage ZFSPoolPlugin volume_has_feature, clone_image)', () => {
  test('template=1 at create has no base volume: PVE refuses the linked clone; POST template makes one', async () => {
    await createCt(c, 340, { template: '1' });
    const r = await c.call('POST', `/nodes/${node}/lxc/340/clone`, { form: { newid: '341' } });
    expect(r.status).toBe(500);
    expect(r.reason).toBe("Linked clone feature for 'local-zfs:subvol-340-disk-0' is not available");
    expect((await c.data('GET', `/nodes/${node}/lxc/340/config`)).lock).toBeUndefined();
    expect(emu.state.containers().some((x) => x.vmid === 341)).toBe(false);

    await createCt(c, 342);
    await c.data('POST', `/nodes/${node}/lxc/342/template`);
    await emu.state.idle();
    const st = await c.call('POST', `/nodes/${node}/lxc/342/clone`, { form: { newid: '343', storage: 'local-zfs' } });
    expect(st.reason).toBe("parameter 'storage' not allowed for linked clones");
    const upid = await c.data('POST', `/nodes/${node}/lxc/342/clone`, { form: { newid: '343', hostname: 'linked' } });
    expect((await c.waitTask(node, upid)).exitstatus).toBe('OK');
    const conf = await c.data('GET', `/nodes/${node}/lxc/343/config`);
    expect(conf).toMatchObject({ hostname: 'linked', rootfs: 'local-zfs:basevol-342-disk-0/subvol-343-disk-0,size=4G' });
    expect(conf.template).toBeUndefined();
    expect((await c.data('GET', `/nodes/${node}/lxc/342/config`)).lock).toBeUndefined();
  });

  test('the source is locked `disk` and the new CT `create` while the clone runs', async () => {
    // A slow emulator, so the worker's window is wide enough to observe on a loaded machine.
    const slow = await startEmulator({ taskDurationMs: 1500, lockTimeoutMs: 5000 });
    const sc = new Client(slow);
    try {
      await createCt(sc, 400);
      const upid = await sc.data('POST', `/nodes/${node}/lxc/400/clone`, { form: { newid: '401' } });
      // set_lock($vmid, 'disk') and create_and_lock_config($newid) happen before the worker is forked.
      expect((await sc.data('GET', `/nodes/${node}/lxc/400/config`)).lock).toBe('disk');
      expect((await sc.data('GET', `/nodes/${node}/lxc/401/config`)).lock).toBe('create');
      const busy = await sc.call('PUT', `/nodes/${node}/lxc/400/config`, { form: { cores: '2' } });
      expect(busy.reason).toBe('CT is locked (disk)');
      expect((await sc.waitTask(node, upid, 20000)).exitstatus).toBe('OK');
      expect((await sc.data('GET', `/nodes/${node}/lxc/400/config`)).lock).toBeUndefined();
      expect((await sc.data('GET', `/nodes/${node}/lxc/401/config`)).rootfs).toBe('local-zfs:subvol-401-disk-0,size=4G');
    } finally {
      await sc.close();
      await slow.close();
    }
  });

  test('full clone of a running CT needs a snapshot', async () => {
    await createCt(c, 344);
    await startCt(c, 344);
    const r = await c.call('POST', `/nodes/${node}/lxc/344/clone`, { form: { newid: '345', full: '1' } });
    expect(r.reason).toBe('Full clone of a running container is only possible from a snapshot');
  });
});

describe('pools (pve-manager PVE/API2/Pool.pm)', () => {
  test('create, add a CT, read members, refuse deleting a non-empty pool, remove', async () => {
    await createCt(c, 350);
    await c.data('POST', '/pools', { form: { poolid: 'dev', comment: 'team' } });
    expect((await c.call('POST', '/pools', { form: { poolid: 'dev' } })).reason).toBe("pool 'dev' already exists");
    await c.data('PUT', '/pools', { form: { poolid: 'dev', vms: '350' } });
    const read = await c.data('GET', '/pools/dev');
    expect(read.comment).toBe('team');
    expect(read.members.map((m: any) => [m.id, m.type, m.vmid])).toEqual([['lxc/350', 'lxc', 350]]);
    expect((await c.call('DELETE', '/pools/dev')).reason).toBe("pool 'dev' is not empty (contains VM 350)");
    await c.data('PUT', '/pools', { form: { poolid: 'dev', vms: '350', delete: '1' } });
    await c.data('DELETE', '/pools', { query: { poolid: 'dev' } });
    expect(await c.data('GET', '/pools')).toEqual([]);
  });
});

describe('node and datacenter read-outs (pve-manager PVE/API2/Nodes.pm, Cluster.pm; pve-storage Status.pm download_url)', () => {
  let files: Server;
  let base: string;
  beforeAll(async () => {
    files = createServer((req, res) => {
      const body = Buffer.from('template bytes');
      res.writeHead(200, { 'Content-Type': 'application/zstd; x=y', 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((r) => files.close(() => r())));

  test('qemu list, version, dns, time, hosts, aplinfo, rrddata, users, permissions, cluster options', async () => {
    expect(await c.data('GET', `/nodes/${node}/qemu`)).toEqual([]);
    expect((await c.data('GET', `/nodes/${node}/version`)).release).toBe('9.1');
    expect(await c.data('GET', `/nodes/${node}/dns`)).toHaveProperty('search');
    expect(await c.data('GET', `/nodes/${node}/time`)).toHaveProperty('timezone');
    const hosts = await c.data('GET', `/nodes/${node}/hosts`);
    expect(hosts.digest).toMatch(/^[0-9a-f]{40}$/);
    expect((await c.data('GET', `/nodes/${node}/aplinfo`))[0].template).toBe('debian-12-standard_12.7-1_amd64.tar.zst');
    expect(await c.data('GET', `/nodes/${node}/rrddata`, { query: { timeframe: 'hour' } })).toHaveLength(70);
    expect((await c.data('GET', '/access/users')).map((u: any) => u.userid)).toContain('root@pam');
    expect((await c.data('GET', '/access/permissions'))['/']['VM.Allocate']).toBe(1);
    expect(await c.data('GET', '/cluster/options')).toHaveProperty('mac_prefix');
  });

  test('query-url-metadata and download-url fetch from loopback only', async () => {
    const meta = await c.data('GET', `/nodes/${node}/query-url-metadata`, { query: { url: `${base}/path/alpine.tar.zst` } });
    expect(meta).toEqual({ filename: 'alpine.tar.zst', size: 14, mimetype: 'application/zstd' });
    const upid = await c.data('POST', `/nodes/${node}/storage/local/download-url`, { form: { url: `${base}/x`, content: 'vztmpl', filename: 'alpine.tar.zst' } });
    expect((await c.waitTask(node, upid)).exitstatus).toBe('OK');
    expect(emu.state.volumeData(node, 'local:vztmpl/alpine.tar.zst')?.toString()).toBe('template bytes');
    const far = await c.call('GET', `/nodes/${node}/query-url-metadata`, { query: { url: 'http://192.0.2.1/x' } });
    expect(far.status).toBe(500);
  });
});
