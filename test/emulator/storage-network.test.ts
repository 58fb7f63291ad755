// Checklist items 29, 33–35: storage listing, content, delete with delay, multipart upload, host network pending/apply.
import { createHash } from 'node:crypto';
import { startEmulator, RunningEmulator } from '../../emulator';
import { Client, createCt } from './helpers';

let emu: RunningEmulator;
let c: Client;

beforeAll(async () => {
  emu = await startEmulator({ taskDurationMs: 20, lockTimeoutMs: 200, rootPassword: 'pw-12345' });
  c = new Client(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});
afterEach(() => emu.faults.clear());

function multipart(fields: Record<string, string>, file?: { name: string; data: Buffer }): { body: Buffer; contentType: string } {
  const boundary = `----emu${process.pid}${Date.now()}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    parts.push(file.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('storage', () => {
  test('storage listing with content filter; field names differ from /cluster/resources', async () => {
    const all = await c.data('GET', '/nodes/pve/storage');
    expect(all.map((s: any) => s.storage).sort()).toEqual(['local', 'local-lvm', 'local-zfs']);
    const rootdir = await c.data('GET', '/nodes/pve/storage', { query: { content: 'rootdir' } });
    expect(rootdir.map((s: any) => s.storage).sort()).toEqual(['local-lvm', 'local-zfs']);
    const local = all.find((s: any) => s.storage === 'local');
    expect(local).toMatchObject({ type: 'dir', content: 'backup,iso,vztmpl', enabled: 1, active: 1, shared: 0 });
    expect(local.total).toBe(local.used + local.avail);
  });

  test('datacenter storage config: GET /storage with type filter shows the zfspool dataset; GET /storage/{id}', async () => {
    const all = await c.data('GET', '/storage');
    expect(all.map((s: any) => s.storage).sort()).toEqual(['local', 'local-lvm', 'local-zfs']);
    const zfs = await c.data('GET', '/storage', { query: { type: 'zfspool' } });
    expect(zfs).toEqual([expect.objectContaining({ storage: 'local-zfs', type: 'zfspool', pool: 'rpool/data', content: 'images,rootdir', sparse: 1 })]);
    expect(await c.data('GET', '/storage/local-zfs')).toMatchObject({ storage: 'local-zfs', pool: 'rpool/data' });
    expect((await c.call('GET', '/storage/nope')).status).toBe(500);
  });

  test('content listing: seeded template and CT disks with owner vmid and format', async () => {
    await createCt(c, 300);
    const tmpl = await c.data('GET', '/nodes/pve/storage/local/content', { query: { content: 'vztmpl' } });
    expect(tmpl[0]).toMatchObject({ volid: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', content: 'vztmpl', format: 'tzst' });
    const disks = await c.data('GET', '/nodes/pve/storage/local-zfs/content', { query: { vmid: '300' } });
    expect(disks).toEqual([expect.objectContaining({ volid: 'local-zfs:subvol-300-disk-0', content: 'rootdir', format: 'subvol', vmid: 300, size: 4 * 1024 ** 3 })]);
  });

  test('upload: multipart, extension check, checksum pair, mismatch fails the task, overwrite, no CSRF', async () => {
    const data = Buffer.from('pretend this is a tar archive');
    const sha = createHash('sha256').update(data).digest('hex');
    // Ticket auth without a CSRF token is fine for this endpoint.
    const login = await c.data('POST', '/access/ticket', { auth: 'none', form: { username: 'root@pam', password: 'pw-12345' } });
    const auth = { ticket: login.ticket as string };
    let r = await c.call('POST', '/nodes/pve/storage/local/upload', { auth, rawBody: multipart({ content: 'vztmpl', checksum: sha, 'checksum-algorithm': 'sha256' }, { name: 'app.tar', data }) });
    expect(r.status).toBe(200);
    expect(r.json.data).toMatch(/:imgcopy::root@pam:$/);
    expect((await c.waitTask('pve', r.json.data)).exitstatus).toBe('OK');
    expect(emu.state.volumeData('pve', 'local:vztmpl/app.tar')).toEqual(data);

    r = await c.call('POST', '/nodes/pve/storage/local/upload', { rawBody: multipart({ content: 'vztmpl' }, { name: 'app.zip', data }) });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ filename: 'wrong file extension' });

    r = await c.call('POST', '/nodes/pve/storage/local/upload', { rawBody: multipart({ content: 'vztmpl', checksum: sha }, { name: 'app.tar', data }) });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ 'checksum-algorithm': "missing property required by 'checksum'" });

    r = await c.call('POST', '/nodes/pve/storage/local/upload', { rawBody: multipart({ content: 'vztmpl', checksum: 'deadbeef', 'checksum-algorithm': 'sha256' }, { name: 'other.tar', data }) });
    expect((await c.waitTask('pve', r.json.data)).exitstatus).toBe(`checksum mismatch: got '${sha}' != expect 'deadbeef'`);
    expect(emu.state.storageContent('pve', 'local').some((v) => v['volid'] === 'local:vztmpl/other.tar')).toBe(false);

    const v2 = Buffer.from('second version, longer than the first one');
    r = await c.call('POST', '/nodes/pve/storage/local/upload', { rawBody: multipart({ content: 'vztmpl' }, { name: 'app.tar', data: v2 }) });
    await c.waitTask('pve', r.json.data);
    expect(emu.state.volumeData('pve', 'local:vztmpl/app.tar')).toEqual(v2);
    expect((await c.data('GET', '/nodes/pve/storage/local/content', { query: { content: 'vztmpl' } })).find((v: any) => v.volid === 'local:vztmpl/app.tar').size).toBe(v2.length);

    r = await c.call('POST', '/nodes/pve/storage/local-zfs/upload', { rawBody: multipart({ content: 'vztmpl' }, { name: 'x.tar', data }) });
    expect(r.status).toBe(500);
    expect(r.reason).toBe("can't upload to storage type 'zfspool', not a file based storage!");
    // A non-multipart body is not an upload.
    r = await c.call('POST', '/nodes/pve/storage/local/upload', { form: { content: 'vztmpl', filename: 'x.tar' } });
    expect(r.status).toBe(400);
  });

  test('content paths: raw slash, %2F, storage-relative, mismatch; delete with delay', async () => {
    const got = await c.data('GET', '/nodes/pve/storage/local/content/local:vztmpl/app.tar');
    expect(got.format).toBe('tar');
    expect((await c.data('GET', `/nodes/pve/storage/local/content/${encodeURIComponent('local:vztmpl/app.tar')}`)).size).toBe(got.size);
    expect((await c.data('GET', '/nodes/pve/storage/local/content/vztmpl/app.tar')).size).toBe(got.size);
    const mismatch = await c.call('GET', '/nodes/pve/storage/local/content/local-zfs:subvol-300-disk-0');
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.errors).toEqual({ volume: 'storage ID mismatch (local-zfs != local)' });

    expect(await c.data('DELETE', '/nodes/pve/storage/local/content/local:vztmpl/app.tar', { query: { delay: '5' } })).toBeNull();
    expect(emu.state.storageContent('pve', 'local').some((v) => v['volid'] === 'local:vztmpl/app.tar')).toBe(false);
    const gone = await c.call('DELETE', '/nodes/pve/storage/local/content/local:vztmpl/app.tar', { query: { delay: '5' } });
    expect(gone.status).toBe(500);
    expect(gone.reason).toBe("volume 'local:vztmpl/app.tar' does not exist");
    // Without delay: a UPID of type imgdel.
    const upid = await c.data('DELETE', '/nodes/pve/storage/local-zfs/content/local-zfs:subvol-300-disk-0');
    expect(upid).toMatch(/:imgdel:300@local-zfs:root@pam!ci:$/);
    await c.waitTask('pve', upid);
  });

  test('delete with delay returns the UPID when the task outlasts it', async () => {
    const slow = await startEmulator({ taskDurationMs: 1300, httpPort: 0 });
    const sc = new Client(slow);
    try {
      const r = await sc.data('DELETE', '/nodes/pve/storage/local/content/local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', { query: { delay: '1' } });
      expect(r).toMatch(/^UPID:pve:.*:imgdel:local:/);
    } finally {
      await sc.close();
      await slow.close();
    }
  });
});

describe('host network', () => {
  test('edits are pending with a changes diff until apply (srvreload); revert discards', async () => {
    const before = await c.call('GET', '/nodes/pve/network');
    expect(before.json.changes).toBeUndefined();
    expect(before.json.data.map((i: any) => i.iface)).toEqual(['lo', 'eno1', 'vmbr0']);

    await c.data('POST', '/nodes/pve/network', { form: { iface: 'vmbr1', type: 'bridge', cidr: '10.10.0.1/24', autostart: '1', bridge_vlan_aware: '1', comments: 'deployment web' } });
    const dup = await c.call('POST', '/nodes/pve/network', { form: { iface: 'vmbr1', type: 'bridge' } });
    expect(dup.status).toBe(400);
    expect(dup.json.errors).toEqual({ iface: 'interface already exists' });
    const conflict = await c.call('POST', '/nodes/pve/network', { form: { iface: 'vmbr2', type: 'bridge', cidr: '10.0.0.1/24', address: '10.0.0.1' } });
    expect(conflict.json.errors).toEqual({ address: 'address conflicts with cidr' });

    const pending = await c.call('GET', '/nodes/pve/network', { query: { type: 'bridge' } });
    expect(pending.json.data.map((i: any) => i.iface)).toEqual(['vmbr0', 'vmbr1']);
    expect(pending.json.data[1]).toMatchObject({ method: 'static', address: '10.10.0.1', netmask: '24', bridge_vlan_aware: 1 });
    expect(pending.json.changes).toContain('+iface vmbr1 inet static');
    expect(pending.json.changes).toContain('+\taddress 10.10.0.1/24');
    expect(emu.state.networks('pve').some((i) => i['iface'] === 'vmbr1')).toBe(false);

    await c.data('PUT', '/nodes/pve/network/vmbr1', { form: { type: 'bridge', mtu: '9000', delete: 'comments' } });
    expect((await c.data('GET', '/nodes/pve/network/vmbr1')).mtu).toBe(9000);
    const missing = await c.call('PUT', '/nodes/pve/network/vmbr9', { form: { type: 'bridge' } });
    expect(missing.json.errors).toEqual({ iface: 'interface does not exist' });

    const upid = await c.data('PUT', '/nodes/pve/network');
    expect(upid).toMatch(/:srvreload:networking:root@pam!ci:$/);
    expect((await c.waitTask('pve', upid)).exitstatus).toBe('OK');
    const applied = await c.call('GET', '/nodes/pve/network');
    expect(applied.json.changes).toBeUndefined();
    expect(emu.state.networks('pve').find((i) => i['iface'] === 'vmbr1')).toMatchObject({ mtu: 9000, active: 1 });

    await c.data('DELETE', '/nodes/pve/network/vmbr1');
    expect((await c.call('GET', '/nodes/pve/network')).json.changes).toContain('-auto vmbr1');
    await c.data('DELETE', '/nodes/pve/network');
    const reverted = await c.call('GET', '/nodes/pve/network');
    expect(reverted.json.changes).toBeUndefined();
    expect(reverted.json.data.map((i: any) => i.iface)).toContain('vmbr1');
  });
});
