// Checklist items 1–9: envelope, errors, parameter validation, auth (token, ticket, CSRF), TLS.
import { X509Certificate } from 'node:crypto';
import { startEmulator, RunningEmulator } from '../../emulator';
import { Client, TEMPLATE } from './helpers';

let now = Date.UTC(2026, 0, 1);
let emu: RunningEmulator;
let c: Client;

beforeAll(async () => {
  emu = await startEmulator({ taskDurationMs: 20, lockTimeoutMs: 200, rootPassword: 'secret-pw', clock: () => now, tokens: ['root@pam!ci=0b0e8c4e-3c4f-4d4b-9a43-5c1f0a2e7d11', 'root@pam!other=11111111-2222-4333-8444-555555555555'] });
  c = new Client(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});

describe('envelope', () => {
  test('success: {"data":…} with the exact content type and server header, over HTTPS with the CA', async () => {
    const r = await c.call('GET', '/version', { https: true });
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/json;charset=UTF-8');
    expect(r.headers.get('server')).toBe('pve-api-daemon/3.0');
    expect(Object.keys(r.json)).toEqual(['data']);
    expect(r.json.data.release).toBe('9.1');
  });

  test('fingerprint is the colon-separated uppercase SHA-256 of the served certificate', () => {
    expect(emu.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(new X509Certificate(emu.caCertPem).fingerprint256).toBe(emu.fingerprint);
    expect(emu.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  test('null result is {"data":null}', async () => {
    const r = await c.call('GET', '/access/ticket', { auth: 'none' });
    expect(r.text).toBe('{"data":null}');
  });

  test('500 error: message in the reason phrase and in the body with a trailing newline', async () => {
    const r = await c.call('GET', '/nodes/pve/lxc/4242/config');
    expect(r.status).toBe(500);
    expect(r.reason).toBe("Configuration file 'nodes/pve/lxc/4242.conf' does not exist");
    expect(r.json).toEqual({ data: null, message: "Configuration file 'nodes/pve/lxc/4242.conf' does not exist\n" });
  });

  test('unknown path or method → 501 not implemented', async () => {
    const r = await c.call('GET', '/nodes/pve/foo');
    expect(r.status).toBe(501);
    expect(r.reason).toBe("Method 'GET /nodes/pve/foo' not implemented");
    const m = await c.call('PATCH', '/version');
    expect(m.status).toBe(501);
  });

  test('a body on DELETE → 501 Unexpected content; a body over 512 KiB → 501', async () => {
    const r = await c.call('DELETE', '/nodes/pve/lxc/100', { form: { force: '1' } });
    expect(r.status).toBe(501);
    expect(r.reason).toBe("Unexpected content for method 'DELETE'");
    const big = await c.call('PUT', '/nodes/pve/lxc/100/config', { form: { description: 'x'.repeat(600 * 1024) } });
    expect(big.status).toBe(501);
  });
});

describe('parameters', () => {
  test('400 Parameter verification failed with PVE schema messages, all at once', async () => {
    const r = await c.call('POST', '/nodes/pve/lxc', { form: { vmid: 'abc', memory: '8', cores: '9999', hostname: 'x'.repeat(300), bogus: '1', ostype: 'windows' } });
    expect(r.status).toBe(400);
    expect(r.reason).toBe('Parameter verification failed.');
    expect(r.json.message).toBe('Parameter verification failed.\n');
    expect(r.json.errors).toEqual({
      vmid: "type check ('integer') failed - got 'abc'",
      memory: 'value must have a minimum value of 16',
      cores: 'value must have a maximum value of 8192',
      hostname: 'value may only be 255 characters long',
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
      ostype: "value 'windows' does not have a value in the enumeration 'debian, devuan, ubuntu, centos, fedora, opensuse, archlinux, alpine, gentoo, nixos, unmanaged'",
      ostemplate: 'property is missing and it is not optional',
    });
  });

  test('form booleans only 1/0; JSON booleans accepted; property strings accept on/yes/true', async () => {
    const bad = await c.call('POST', '/nodes/pve/lxc', { form: { vmid: '150', ostemplate: TEMPLATE, rootfs: 'local-zfs:4', onboot: 'true' } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual({ onboot: "type check ('boolean') failed - got 'true'" });
    const ok = await c.call('POST', '/nodes/pve/lxc', { json: { vmid: 150, ostemplate: TEMPLATE, rootfs: 'local-zfs:4', onboot: true, features: 'nesting=yes', net0: 'name=eth0,bridge=vmbr0,firewall=on,ip=dhcp' } });
    expect(ok.status).toBe(200);
    const st = await c.waitTask('pve', ok.json.data);
    expect(st.exitstatus).toBe('OK');
    const conf = await c.data('GET', '/nodes/pve/lxc/150/config');
    expect(conf.onboot).toBe(1);
    // update_pct_config stores features as sent (pve-container src/PVE/LXC/Config.pm); only NICs are re-printed.
    expect(conf.features).toBe('nesting=yes');
    expect(conf.net0).toMatch(/^name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:([0-9A-F]{2}:){2}[0-9A-F]{2},ip=dhcp,type=veth$/);
  });

  test('bad property string → invalid format with per-subkey line', async () => {
    const r = await c.call('POST', '/nodes/pve/lxc', { form: { vmid: '151', ostemplate: TEMPLATE, net0: 'name=eth0,ip=banana,tag=5000' } });
    expect(r.status).toBe(400);
    expect(r.json.errors.net0).toMatch(/^invalid format - format error\n/);
    expect(r.json.errors.net0).toContain('net0.ip: invalid format');
    expect(r.json.errors.net0).toContain('net0.tag: value must have a maximum value of 4094');
  });

  test('a parameter contradicting the path → duplicate parameter', async () => {
    const r = await c.call('GET', '/nodes/pve/lxc/150/config', { query: { vmid: '151' } });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ vmid: 'duplicate parameter (already defined in URI) with conflicting values!' });
  });
});

describe('authentication', () => {
  test('no credentials → 401 No ticket, empty body, no content type', async () => {
    const r = await c.call('GET', '/version', { auth: 'none' });
    expect(r.status).toBe(401);
    expect(r.reason).toBe('No ticket');
    expect(r.text).toBe('');
    expect(r.contentType).toBeNull();
  });

  test('bad token secret or unknown token → 401 Authentication failed!', async () => {
    for (const token of ['root@pam!ci=00000000-0000-4000-8000-000000000000', 'root@pam!nope=0b0e8c4e-3c4f-4d4b-9a43-5c1f0a2e7d11']) {
      const r = await c.call('GET', '/version', { auth: { token } });
      expect(r.status).toBe(401);
      expect(r.reason).toBe('Authentication failed!');
      expect(r.text).toBe('');
    }
  });

  test('token header variants: PVEAPIToken= and PVEAPIToken<space>', async () => {
    const r = await c.call('GET', '/version', { auth: 'none', headers: { Authorization: `PVEAPIToken ${emu.token}` } });
    expect(r.status).toBe(200);
  });

  test('bad login → 401 authentication failure with JSON body', async () => {
    const r = await c.call('POST', '/access/ticket', { auth: 'none', form: { username: 'root@pam', password: 'wrong' } });
    expect(r.status).toBe(401);
    expect(r.reason).toBe('authentication failure');
    expect(r.json).toEqual({ data: null, message: 'authentication failure\n' });
  });

  test('/access/ticket refuses API tokens with 403', async () => {
    const r = await c.call('POST', '/access/ticket', { form: { username: 'root@pam', password: 'secret-pw' } });
    expect(r.status).toBe(403);
    expect(r.reason).toBe("Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.)");
  });

  test('ticket login, cookie auth, CSRF on writes, expiry after 2 h on the injected clock', async () => {
    const login = await c.data('POST', '/access/ticket', { auth: 'none', form: { username: 'root', realm: 'pam', password: 'secret-pw' } });
    expect(login.username).toBe('root@pam');
    expect(login.ticket).toMatch(/^PVE:root@pam:[0-9A-F]{8}::.+$/);
    expect(login.CSRFPreventionToken).toMatch(/^[0-9A-F]{8}:.+$/);
    const ticket = login.ticket as string;
    expect((await c.call('GET', '/version', { auth: { ticket } })).status).toBe(200);
    // Authorization: PVEAuthCookie=… is accepted as a fallback.
    expect((await c.call('GET', '/version', { auth: 'none', headers: { Authorization: `PVEAuthCookie=${ticket}` } })).status).toBe(200);

    const noCsrf = await c.call('PUT', '/nodes/pve/lxc/150/config', { auth: { ticket }, form: { cores: '2' } });
    expect(noCsrf.status).toBe(401);
    expect(noCsrf.reason).toBe('Permission denied - invalid csrf token');
    const wrongCsrf = await c.call('PUT', '/nodes/pve/lxc/150/config', { auth: { ticket, csrf: `${login.CSRFPreventionToken}x` }, form: { cores: '2' } });
    expect(wrongCsrf.status).toBe(401);
    const withCsrf = await c.call('PUT', '/nodes/pve/lxc/150/config', { auth: { ticket, csrf: login.CSRFPreventionToken }, form: { cores: '2' } });
    expect(withCsrf.status).toBe(200);

    now += 2 * 3600 * 1000 - 1000;
    expect((await c.call('GET', '/version', { auth: { ticket } })).status).toBe(200);
    now += 2000;
    const expired = await c.call('GET', '/version', { auth: { ticket } });
    expect(expired.status).toBe(401);
    expect(expired.reason).toBe('Authentication failed!');
    const tampered = await c.call('GET', '/version', { auth: { ticket: ticket.replace('root@pam', 'admin@pam') } });
    expect(tampered.status).toBe(401);
  });

  test('root@pam tokens are not root@pam for root-only checks → 403', async () => {
    const r = await c.call('PUT', '/nodes/pve/lxc/150/config', { form: { features: 'nesting=1,keyctl=1' } });
    expect(r.status).toBe(403);
    expect(r.reason).toBe('Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)');
    expect(r.json.message).toBe('Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)\n');
    const bind = await c.call('PUT', '/nodes/pve/lxc/150/config', { form: { mp0: '/srv/data,mp=/data' } });
    expect(bind.status).toBe(403);
    const skip = await c.call('POST', '/nodes/pve/lxc/150/status/start', { form: { skiplock: '1' } });
    expect(skip.status).toBe(400);
    // nesting alone is allowed
    expect((await c.call('PUT', '/nodes/pve/lxc/150/config', { form: { features: 'nesting=0' } })).status).toBe(200);
    // and a real root@pam ticket may change keyctl
    const login = await c.data('POST', '/access/ticket', { auth: 'none', form: { username: 'root@pam', password: 'secret-pw' } });
    const asRoot = await c.call('PUT', '/nodes/pve/lxc/150/config', { auth: { ticket: login.ticket, csrf: login.CSRFPreventionToken }, form: { features: 'keyctl=1,nesting=1' } });
    expect(asRoot.status).toBe(200);
    expect((await c.data('GET', '/nodes/pve/lxc/150/config')).features).toBe('keyctl=1,nesting=1');
  });
});

describe('legacy error mode and auth delay', () => {
  test('pre-2025 servers: reason phrase only, body {"data":null}; 401 delayed', async () => {
    const old = await startEmulator({ legacyErrors: true, authFailureDelayMs: 150, httpPort: 0 });
    const lc = new Client(old);
    try {
      const r = await lc.call('GET', '/nodes/pve/lxc/100/config');
      expect(r.status).toBe(500);
      expect(r.reason).toBe("Configuration file 'nodes/pve/lxc/100.conf' does not exist");
      expect(r.text).toBe('{"data":null}');
      const p = await lc.call('POST', '/nodes/pve/lxc', { form: { vmid: '1' } });
      expect(p.json).toEqual({ data: null, errors: { vmid: 'value must have a minimum value of 100', ostemplate: 'property is missing and it is not optional' } });
      const t0 = Date.now();
      const u = await lc.call('GET', '/version', { auth: 'none' });
      expect(u.status).toBe(401);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    } finally {
      await lc.close();
      await old.close();
    }
  });
});

describe('privilege separation (privsep=1 tokens)', () => {
  test('effective privileges are the token ACL: 403 with path and privilege, lists filtered, own tasks only', async () => {
    const ro = 'root@pam!ro=6f1c1a9e-0d7b-4c55-9a0e-2b4c1d3e5f60';
    const none = 'root@pam!none=7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
    const pe = await startEmulator({
      taskDurationMs: 5, httpPort: 0,
      privsepTokens: [{ token: ro, acl: [{ path: '/vms/100', privs: ['VM.Audit', 'VM.PowerMgmt'] }] }, { token: none }],
    });
    const pc = new Client(pe);
    try {
      await pc.waitTask('pve', await pc.data('POST', '/nodes/pve/lxc', { form: { vmid: '100', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } }));
      await pc.waitTask('pve', await pc.data('POST', '/nodes/pve/lxc', { form: { vmid: '101', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } }));
      const denied = await pc.call('POST', '/nodes/pve/lxc', { auth: { token: none }, form: { vmid: '102', ostemplate: TEMPLATE, rootfs: 'local-zfs:1' } });
      expect(denied.status).toBe(403);
      expect(denied.reason).toBe('Permission check failed (/vms/102, VM.Allocate)');
      expect(denied.json.message).toBe('Permission check failed (/vms/102, VM.Allocate)\n');
      expect(await pc.data('GET', '/nodes/pve/lxc', { auth: { token: none } })).toEqual([]);
      expect((await pc.data('GET', '/nodes/pve/lxc', { auth: { token: ro } })).map((x: any) => x.vmid)).toEqual([100]);
      expect((await pc.call('GET', '/nodes/pve/lxc/101/config', { auth: { token: ro } })).reason).toBe('Permission check failed (/vms/101, VM.Audit)');
      const put = await pc.call('PUT', '/nodes/pve/lxc/100/config', { auth: { token: ro }, form: { memory: '1024' } });
      expect(put.reason).toBe('Permission check failed (/vms/100, VM.Config.Memory)');
      // A token sees its own tasks but not root's.
      const upid = await pc.data('POST', '/nodes/pve/lxc/100/status/start', { auth: { token: ro } });
      expect((await pc.data('GET', `/nodes/pve/tasks/${upid}/status`, { auth: { token: ro } })).tokenid).toBe('ro');
      const tasks = await pc.data('GET', '/nodes/pve/tasks', { auth: { token: ro }, query: { source: 'all' } });
      expect(tasks.map((t: any) => t.upid)).toEqual([upid]);
      const rootTask = (await pc.data('GET', '/nodes/pve/tasks', { query: { typefilter: 'vzcreate' } }))[0].upid;
      expect((await pc.call('GET', `/nodes/pve/tasks/${rootTask}/status`, { auth: { token: ro } })).reason).toBe('Permission check failed (/nodes/pve, Sys.Audit)');
      expect((await pc.call('GET', '/nodes/pve/network', { auth: { token: ro } })).status).toBe(403);
    } finally {
      await pc.close();
      await pe.close();
    }
  });
});
