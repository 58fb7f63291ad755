// The PVE client against the in-process emulator: real HTTPS on loopback with the emulator's
// self-signed certificate, real token and ticket auth, real task polling.
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PveClient, type PveClientOptions } from '../../provider/proxmox/client';
import { parseConnectionConfig, type ConnectionConfigInput } from '../../provider/proxmox/config';
import { CreateOutcomeUnknownError, PveApiError, PveConnectionError, TaskFailedError, TlsFingerprintError } from '../../provider/proxmox/errors';
import { parseNet } from '../../provider/proxmox/properties';

const LOCK = "can't lock file '/run/lock/lxc/pve-config-%d.lock' - got timeout";
const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const FAST = { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 50 };

let emu: RunningEmulator;
let emuNow = Date.now();
let node: string;
const clients: PveClient[] = [];
/** Every error a test provoked; checked for leaked secrets at the end. */
const seenErrors: unknown[] = [];

function makeClient(input: Partial<ConnectionConfigInput>, opts: PveClientOptions = {}): PveClient {
  const cfg = parseConnectionConfig({ endpoint: emu.url, ...input } as ConnectionConfigInput);
  const c = PveClient.create(cfg, { retry: FAST, pollMs: 10, ...opts });
  clients.push(c);
  return c;
}
const tokenClient = (opts: PveClientOptions = {}) => makeClient({ apiToken: emu.token, caCert: emu.caCertPem }, opts);

/** An agent that trusts the emulator's CA and records every request line. */
function recordingDispatcher(log: string[]): Dispatcher {
  return new Agent({ connect: { ca: emu.caCertPem } }).compose((dispatch) => (opts, handler) => {
    log.push(`${opts.method} ${opts.path}`);
    return dispatch(opts, handler);
  });
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    seenErrors.push(e);
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

const ctParams = (extra: Record<string, string | number> = {}) => ({
  ostemplate: TEMPLATE,
  storage: 'local-zfs',
  rootfs: 'local-zfs:2',
  memory: 256,
  net0: 'name=eth0,bridge=vmbr0,ip=10.1.0.5/24,gw=10.1.0.1',
  ...extra,
});

beforeAll(async () => {
  emu = await startEmulator({ taskDurationMs: 15, lockTimeoutMs: 200, rootPassword: 'emu-root-pw-123', clock: () => emuNow });
  node = emu.nodes[0]!;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await emu?.close();
});

describe('TLS and auth', () => {
  it('token auth over HTTPS verifying against the CA cert', async () => {
    const c = tokenClient();
    expect((await c.version()).version).toMatch(/^\d+\.\d+/);
    expect((await c.nodes()).map((n) => n.node)).toEqual(emu.nodes);
  });

  it('token auth with the fingerprint pin (self-signed, no CA given)', async () => {
    const c = makeClient({ apiToken: emu.token, tlsFingerprint: emu.fingerprint.toLowerCase() });
    expect((await c.nodes()).length).toBe(emu.nodes.length);
  });

  it('a wrong fingerprint fails, naming both fingerprints', async () => {
    const wrong = emu.fingerprint.replace(/^../, emu.fingerprint.startsWith('00') ? '11' : '00');
    const c = makeClient({ apiToken: emu.token, tlsFingerprint: wrong });
    const err = await caught(c.version());
    expect(err).toBeInstanceOf(TlsFingerprintError);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(emu.fingerprint);
  });

  it('without CA, pin or insecure the self-signed cert is refused', async () => {
    const err = await caught(makeClient({ apiToken: emu.token }).version());
    expect(err).toBeInstanceOf(PveConnectionError);
    expect(err.message).toMatch(/certificate/i);
  });

  it('insecure works for this client only, with a warning', async () => {
    const warnings: string[] = [];
    const c = makeClient({ apiToken: emu.token, insecure: true }, { warn: (m) => warnings.push(m) });
    expect((await c.version()).version).toBeTruthy();
    expect(warnings.join('\n')).toMatch(/TLS verification is disabled/);
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    // Another client in the same process still verifies.
    expect(await caught(makeClient({ apiToken: emu.token }).version())).toBeInstanceOf(PveConnectionError);
  });

  it('a bad token secret gives 401 with advice and without the secret', async () => {
    const badSecret = '11111111-2222-3333-4444-555555555555';
    const c = makeClient({ apiToken: emu.token.replace(/=.*$/, `=${badSecret}`), caCert: emu.caCertPem });
    const err = await caught(c.version());
    expect(err).toBeInstanceOf(PveApiError);
    expect((err as PveApiError).status).toBe(401);
    expect(err.message).toMatch(/Authentication failed!.*proxmox-pods:apiToken/);
    expect(err.message).not.toContain(badSecret);
  });

  it('ticket login with CSRF; a wrong password is a 401 naming username/password', async () => {
    const log: string[] = [];
    const c = makeClient({ username: 'root@pam', password: emu.rootPassword }, { dispatcher: recordingDispatcher(log) });
    // A write: the emulator rejects it without the CSRF token.
    const { vmid, upid } = await c.createContainer(node, ctParams());
    await c.waitTask(node, upid);
    await c.updateContainerConfig(node, vmid, { description: 'via ticket' });
    expect((await c.containerConfig(node, vmid))?.description).toBe('via ticket\n');
    expect(log.filter((l) => l.includes('/access/ticket'))).toHaveLength(1);
    await c.destroyContainer(node, vmid);

    const bad = makeClient({ username: 'root@pam', password: 'wrong-password-xyz', caCert: emu.caCertPem });
    const err = await caught(bad.version());
    expect((err as PveApiError).status).toBe(401);
    expect(err.message).toMatch(/authentication failure.*username\/password/);
    expect(err.message).not.toContain('wrong-password-xyz');
  });

  it('an expired ticket is renewed on the 401 (server clock moves 3 h)', async () => {
    const log: string[] = [];
    const c = makeClient({ username: 'root@pam', password: emu.rootPassword }, { dispatcher: recordingDispatcher(log) });
    await c.nextId();
    emuNow += 3 * 3600_000;
    try {
      await c.updateContainerConfig(node, 999_999, { description: 'x' }).catch((e) => e); // any call; 401 first
      await c.nextId();
    } finally {
      emuNow = Date.now();
    }
    expect(log.filter((l) => l.includes('/access/ticket')).length).toBe(2);
  });

  it('the ticket is renewed before its 2 h lifetime by the client clock', async () => {
    const log: string[] = [];
    let now = Date.now();
    const c = makeClient({ username: 'root@pam', password: emu.rootPassword }, { dispatcher: recordingDispatcher(log), clock: () => now });
    await c.nextId();
    await c.nextId();
    expect(log.filter((l) => l.includes('/access/ticket')).length).toBe(1);
    now += 110 * 60_000;
    await c.nextId();
    expect(log.filter((l) => l.includes('/access/ticket')).length).toBe(2);
  });
});

describe('container lifecycle', () => {
  it('create / wait / config / pending / start / interfaces / stop / destroy', async () => {
    const c = tokenClient();
    const { vmid, upid } = await c.createContainer(node, ctParams({ hostname: 'web-0', tags: 'B;a', env: 'A=1\0B=two' }));
    expect(vmid).toBeGreaterThanOrEqual(100);
    const task = await c.waitTask(node, upid);
    expect(task.exitstatus).toBe('OK');
    expect(await c.findGuest(vmid)).toEqual({ node, type: 'lxc' });

    const cfg = (await c.containerConfig(node, vmid))!;
    expect(cfg.hostname).toBe('web-0');
    expect(cfg.tags).toBe('a;b');
    expect(parseNet(String(cfg.net0))).toMatchObject({ name: 'eth0', bridge: 'vmbr0', ip: '10.1.0.5/24', type: 'veth' });
    expect(typeof cfg.digest).toBe('string');

    await c.startContainer(node, vmid);
    expect((await c.containerStatus(node, vmid))?.status).toBe('running');
    await c.startContainer(node, vmid); // already running: success
    const ifaces = await c.containerInterfaces(node, vmid);
    expect(ifaces.find((i) => i.name === 'eth0')?.inet).toBe('10.1.0.5/24');

    // Running CT: nameserver stays pending until reboot.
    await c.updateContainerConfig(node, vmid, { nameserver: '1.1.1.1' }, { digest: String(cfg.digest) });
    expect((await c.pendingConfig(node, vmid)).find((p) => p.key === 'nameserver')?.pending).toBe('1.1.1.1');
    expect((await c.containerConfig(node, vmid, { current: true }))?.nameserver).toBeUndefined();
    await c.rebootContainer(node, vmid);
    expect((await c.containerConfig(node, vmid, { current: true }))?.nameserver).toBe('1.1.1.1');

    // A stale digest is refused, with PVE's text.
    const stale = await caught(c.updateContainerConfig(node, vmid, { description: 'x' }, { digest: String(cfg.digest) }));
    expect(stale.message).toMatch(/detected modified configuration/);

    await c.resizeContainerDisk(node, vmid, 'rootfs', '4G');
    expect(String((await c.containerConfig(node, vmid))?.rootfs)).toMatch(/size=4G/);

    await c.shutdownContainer(node, vmid, { timeout: 5, forceStop: true });
    expect((await c.containerStatus(node, vmid))?.status).toBe('stopped');
    await c.stopContainer(node, vmid); // not running: success
    await c.destroyContainer(node, vmid, { purge: true });
    expect(await c.containerConfig(node, vmid)).toBeUndefined();
    expect(await c.containerStatus(node, vmid)).toBeUndefined();
    expect(await c.findGuest(vmid)).toBeUndefined();
  });

  it('destroying a missing CT is success', async () => {
    const c = tokenClient();
    await expect(c.destroyContainer(node, 987_654)).resolves.toBeUndefined();
  });

  it('a fixed vmid that is taken fails with PVE text; parameter errors list the parameter', async () => {
    const c = tokenClient();
    const { vmid, upid } = await c.createContainer(node, ctParams());
    await c.waitTask(node, upid);
    const taken = await caught(c.createContainer(node, ctParams(), { vmid }));
    expect(taken.message).toContain(`CT ${vmid} already exists`);
    const bad = await caught(c.createContainer(node, ctParams({ memory: 1 })));
    expect((bad as PveApiError).status).toBe(400);
    expect((bad as PveApiError).errors.memory).toMatch(/minimum value of 16/);
    expect(bad.message).toMatch(/memory: value must have a minimum value of 16/);
    await c.destroyContainer(node, vmid);
  });

  it('10 parallel creates from 10 clients without vmids all succeed with distinct ids', async () => {
    const log: string[] = [];
    const cs = Array.from({ length: 10 }, () => tokenClient({ dispatcher: recordingDispatcher(log) }));
    const results = await Promise.all(cs.map((c, i) => c.createContainer(node, ctParams({ hostname: `par-${i}` }))));
    const ids = results.map((r) => r.vmid);
    expect(new Set(ids).size).toBe(10);
    await Promise.all(results.map((r, i) => cs[i]!.waitTask(node, r.upid)));
    const live = emu.state.containers().filter((ct) => ids.includes(ct.vmid));
    expect(live).toHaveLength(10);
    // The race really happened: more create POSTs than containers.
    expect(log.filter((l) => /^POST \/api2\/json\/nodes\/[^/]+\/lxc$/.test(l)).length).toBeGreaterThan(10);
    await Promise.all(results.map((r) => cs[0]!.destroyContainer(node, r.vmid)));
  });
});

describe('robustness', () => {
  it('retries a PUT config after injected lock timeouts', async () => {
    const log: string[] = [];
    const c = tokenClient({ dispatcher: recordingDispatcher(log) });
    const { vmid, upid } = await c.createContainer(node, ctParams());
    await c.waitTask(node, upid);
    emu.faults.add({ method: 'PUT', path: `/nodes/${node}/lxc/${vmid}/config`, times: 2, status: 500, message: LOCK.replace('%d', String(vmid)) });
    await c.updateContainerConfig(node, vmid, { description: 'after lock' });
    expect(log.filter((l) => l.startsWith(`PUT /api2/json/nodes/${node}/lxc/${vmid}/config`))).toHaveLength(3);
    expect((await c.containerConfig(node, vmid))?.description).toBe('after lock\n');
    await c.destroyContainer(node, vmid);
  });

  it('gives up on a persistent lock with PVE text and advice', async () => {
    const c = tokenClient();
    emu.faults.add({ method: 'PUT', path: `/nodes/${node}/lxc/424242/config`, times: 50, status: 500, message: LOCK.replace('%d', '424242') });
    const err = await caught(c.updateContainerConfig(node, 424242, { description: 'x' }));
    expect(err.message).toMatch(/gave up after 5 attempts.*got timeout.*another task holds the CT lock/);
    emu.faults.clear();
  });

  it('retries a GET after a 596, never re-POSTs a create after a 5xx', async () => {
    const log: string[] = [];
    const c = tokenClient({ dispatcher: recordingDispatcher(log) });
    emu.faults.add({ method: 'GET', path: '/cluster/nextid', status: 596, message: 'Connection timed out' });
    expect(await c.nextId()).toBeGreaterThanOrEqual(100);
    expect(log.filter((l) => l.startsWith('GET /api2/json/cluster/nextid'))).toHaveLength(2);

    emu.faults.add({ method: 'POST', path: `/nodes/${node}/lxc`, status: 596, message: 'Connection timed out' });
    const next = await c.nextId();
    const err = await caught(c.createContainer(node, ctParams()));
    expect(err).toBeInstanceOf(CreateOutcomeUnknownError);
    expect((err as CreateOutcomeUnknownError).vmid).toBe(next);
    expect(err.message).toMatch(/may or may not have started.*596.*Connection timed out/);
    expect(log.filter((l) => l === `POST /api2/json/nodes/${node}/lxc`)).toHaveLength(1);
  });

  it('a failed task surfaces its exit status and log lines', async () => {
    const c = tokenClient();
    const { vmid, upid } = await c.createContainer(node, ctParams());
    await c.waitTask(node, upid);
    emu.faults.add({ method: 'POST', path: `/nodes/${node}/lxc/${vmid}/status/start`, taskError: 'startup for container failed' });
    const err = await caught(c.startContainer(node, vmid));
    expect(err).toBeInstanceOf(TaskFailedError);
    expect((err as TaskFailedError).exitstatus).toMatch(/startup for container failed/);
    expect(err.message).toMatch(/TASK ERROR: startup for container failed/);
    await c.destroyContainer(node, vmid);
  });

  it('reads the error from the reason phrase on pre-2025 servers', async () => {
    const old = await startEmulator({ legacyErrors: true, taskDurationMs: 10 });
    try {
      const c = PveClient.create(parseConnectionConfig({ endpoint: old.url, apiToken: old.token, caCert: old.caCertPem }), { retry: FAST, pollMs: 10 });
      clients.push(c);
      const { vmid, upid } = await c.createContainer(old.nodes[0]!, ctParams());
      await c.waitTask(old.nodes[0]!, upid);
      const err = await caught(c.createContainer(old.nodes[0]!, ctParams(), { vmid }));
      expect((err as PveApiError).pveMessage).toBe(`CT ${vmid} already exists on node '${old.nodes[0]}'`);
      expect(await c.containerConfig(old.nodes[0]!, 4242)).toBeUndefined();
    } finally {
      await old.close();
    }
  });
});

describe('network and storage', () => {
  it('creates a bridge pending, shows the diff, applies, updates, deletes, reverts', async () => {
    const c = tokenClient();
    const iface = `vmbr${(process.pid % 900) + 10}`;
    await c.createNetwork(node, { iface, type: 'bridge', autostart: true, mtu: 1500 });
    const pending = await c.networks(node);
    expect(pending.interfaces.some((i) => i.iface === iface)).toBe(true);
    expect(pending.changes).toContain(iface);
    await c.applyNetwork(node);
    expect((await c.networks(node)).changes).toBeUndefined();
    await c.updateNetwork(node, iface, { type: 'bridge', comments: 'pods' });
    await c.revertNetwork(node);
    expect((await c.networks(node)).changes).toBeUndefined();
    await c.deleteNetwork(node, iface);
    await c.applyNetwork(node);
    expect((await c.networks(node)).interfaces.some((i) => i.iface === iface)).toBe(false);
    await c.deleteNetwork(node, iface); // gone: success
    expect((await caught(c.createNetwork(node, { iface: 'vmbr0', type: 'bridge' }))).message).toMatch(/interface already exists/);
  });

  it('uploads a template from a stream and from a file, with checksum, lists and deletes it', async () => {
    const uploads: string[] = [];
    const c = tokenClient({
      dispatcher: new Agent({ connect: { ca: emu.caCertPem } }).compose((dispatch) => (opts, handler) => {
        if (opts.path.endsWith('/upload')) uploads.push(JSON.stringify(opts.headers).toLowerCase());
        return dispatch(opts, handler);
      }),
    });
    const data = Buffer.from('not really a tarball, but bytes ' .repeat(5000));
    const sha = createHash('sha256').update(data).digest('hex');
    const volid = await c.uploadToStorage(node, 'local', { content: 'vztmpl', filename: 'pods-test.tar', data: Readable.from([data]), checksum: sha, checksumAlgorithm: 'sha256' });
    expect(volid).toBe('local:vztmpl/pods-test.tar');
    // PVE's upload handler needs a Content-Length; a chunked body would be refused.
    expect(uploads[0]).toMatch(/content-length/);
    expect(uploads[0]).not.toMatch(/transfer-encoding/);
    expect(emu.state.volumeData(node, volid)?.equals(data)).toBe(true);
    expect((await c.storageContent(node, 'local', 'vztmpl')).map((v) => v.volid)).toContain(volid);
    expect((await c.storages(node)).map((s) => s.storage)).toEqual(expect.arrayContaining(['local', 'local-zfs']));

    const mismatch = await caught(c.uploadToStorage(node, 'local', { content: 'vztmpl', filename: 'bad.tar', data: Readable.from([data]), size: data.length, checksum: '0'.repeat(64), checksumAlgorithm: 'sha256' }));
    expect(mismatch).toBeInstanceOf(TaskFailedError);
    expect(mismatch.message).toMatch(/checksum mismatch/);

    await c.deleteContent(node, 'local', volid);
    expect((await c.storageContent(node, 'local')).map((v) => v.volid)).not.toContain(volid);
    await c.deleteContent(node, 'local', volid); // gone: success
  });
});

describe('secrets', () => {
  it('no thrown error message carries the token secret, password or ticket', () => {
    expect(seenErrors.length).toBeGreaterThan(10);
    const tokenSecret = emu.token.slice(emu.token.lastIndexOf('=') + 1);
    for (const e of seenErrors) {
      const text = `${(e as Error).message}\n${(e as Error).stack}\n${JSON.stringify(e)}`;
      expect(text).not.toContain(tokenSecret);
      expect(text).not.toContain(emu.rootPassword);
      expect(text).not.toMatch(/PVE:root@pam:[0-9A-F]{8}::/);
    }
  });
});
