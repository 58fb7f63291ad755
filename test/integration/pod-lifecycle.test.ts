// The Pod's create/read/update/delete against the in-process emulator, with PVE failures injected: nothing is ever
// leaked, a half-made pod is reported (not lost) and the next update finishes it.
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { PartialCreateError } from '../../provider/resources/common/partial';
import { createPod, deletePod, readPod, updatePod } from '../../provider/resources/pod/lifecycle';
import { podInputsSchema, type PodOutputs } from '../../provider/resources/pod/schema';
import { setStackConfig } from '../../provider/resources/common/connection';
import { InputError } from '../../provider/errors';
import { planChange } from '../../provider/resources/common/definition';
import { podDefinition } from '../../provider/resources/pod/definition';

const T = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const spec = (over: Record<string, unknown> = {}) => podInputsSchema.parse({ name: 'web', image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { ip: '10.9.0.2/24' }, ...over });

describe('Pod lifecycle against the emulator', () => {
  let emu: RunningEmulator;
  let pve: PveClient;
  let ctx: { pve: PveClient };

  beforeAll(async () => {
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 20, lockTimeoutMs: 200 });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }));
    ctx = { pve };
    setStackConfig({});
  });
  afterEach(() => {
    emu.faults.clear();
    emu.state.reset();
  });
  afterAll(async () => {
    await pve?.close();
    await emu?.close();
  });

  test('create → read → update with restart → delete (twice)', async () => {
    const { id, outs } = await createPod(spec({ env: { A: '1' } }), ctx);
    expect(outs).toMatchObject({ status: 'running', ip: '10.9.0.2', node: 'pve', hostname: 'web' });
    expect(outs.mac).toMatch(/^BC:24:11:/);
    const read = (await readPod(id, outs, ctx))!;
    expect(read.props).toMatchObject({ name: 'web', env: { A: '1' }, running: true });

    const { outs: updated } = await updatePod(id, outs, spec({ env: { A: '2' }, memory: 1024 }), ctx);
    expect(updated.status).toBe('running');
    const ct = emu.state.containers()[0]!;
    expect(ct.config.memory).toBe(1024);
    expect(String(ct.config.env)).toBe('A=2'); // applied: the provider rebooted the pod
    expect(await pve.pendingConfig('pve', Number(id))).not.toContainEqual(expect.objectContaining({ key: 'env', pending: expect.anything() }));

    await deletePod(id, updated, ctx);
    expect(emu.state.containers()).toEqual([]);
    await expect(deletePod(id, updated, ctx)).resolves.toBeUndefined();
    expect(await readPod(id, updated, ctx)).toBeUndefined();
  });

  test('a gateway on the link outside the subnet (gatewayOnLink): PVE takes it as it is, refresh and diff keep the setting', async () => {
    const onLink = spec({ network: { ip: '10.9.0.2/24', gateway: '10.8.0.1', gatewayOnLink: true } });
    const { id, outs } = await createPod(onLink, ctx);
    // The emulator, like PVE's API, checks only that gw is an IPv4 address; nothing of gatewayOnLink reaches the CT.
    const net0 = String(emu.state.containers()[0]!.config.net0);
    expect(net0).toMatch(/(^|,)gw=10\.8\.0\.1(,|$)/);
    expect(net0).toMatch(/(^|,)ip=10\.9\.0\.2\/24(,|$)/);
    expect(net0).not.toMatch(/onlink|OnLink/i);
    expect(outs.network).toMatchObject({ gateway: '10.8.0.1', gatewayOnLink: true });
    // Untouched: nothing drifted. Drift of eth0 (an MTU set by hand) keeps the provider's own setting in the inputs.
    expect((await readPod(id, outs, ctx))!.inputs).toBeUndefined();
    await pve.updateContainerConfig('pve', Number(id), { net0: `${net0},mtu=1400` });
    const drifted = (await readPod(id, outs, ctx))!;
    expect(drifted.inputs!.network).toMatchObject({ gateway: '10.8.0.1', gatewayOnLink: true, mtu: 1400 });
    // Only gatewayOnLink changed: recorded in state, not an update of the container.
    const plan = planChange(podDefinition, outs, { ...onLink, network: { ...onLink.network!, gatewayOnLink: false } });
    expect(plan).toMatchObject({ changed: ['network'], state: ['network'], live: [] });
    await deletePod(id, outs, ctx);
  });

  test('a failed create task leaves nothing behind and is a plain error', async () => {
    emu.faults.add({ method: 'POST', path: '/nodes/pve/lxc', taskError: 'unable to create CT - disk full' });
    const err = await createPod(spec(), ctx).catch((e) => e);
    expect(err).not.toBeInstanceOf(PartialCreateError);
    expect(String(err.message)).toMatch(/disk full/);
    expect(emu.state.containers()).toEqual([]);
  });

  test('a failure after the container exists is reported as partial, and update finishes the job', async () => {
    // Five failed starts in a row: more than the transient retries allow.
    emu.faults.add({ method: 'POST', path: /\/status\/start$/, taskError: 'startup for container failed', times: 5 });
    const err = await createPod(spec(), ctx).catch((e) => e);
    expect(err).toBeInstanceOf(PartialCreateError);
    expect(err.message).toMatch(/startup for container failed/);
    expect(emu.state.containers()).toHaveLength(1);
    expect(err.id).toBe(String(emu.state.containers()[0]!.vmid));
    const { outs } = await updatePod(err.id, err.properties as PodOutputs, spec(), ctx);
    expect(outs.status).toBe('running');
    expect(emu.state.containers()).toHaveLength(1);
  });

  test('the resource deadline is enforced and the created container is not lost', async () => {
    const slow = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 3000 });
    const slowPve = PveClient.create(parseConnectionConfig({ endpoint: slow.url, apiToken: slow.token, caCert: slow.caCertPem }));
    try {
      const started = Date.now();
      const err = await createPod(spec({ timeouts: { create: '700ms' } }), { pve: slowPve }).catch((e) => e);
      expect(Date.now() - started).toBeLessThan(2500);
      expect(err).toBeInstanceOf(PartialCreateError);
      // The resource's own deadline ended the wait (the client reports it as a deadline or as retries cut short by it).
      expect(String(err.cause?.message)).toMatch(/did not finish within|deadline reached/);
      expect(slow.state.containers()).toHaveLength(1);
    } finally {
      await slowPve.close();
      await slow.close();
    }
  });

  test('an injected lock timeout on config update is retried', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    emu.faults.add({ method: 'PUT', path: `/nodes/pve/lxc/${id}/config`, status: 500, message: `can't lock file '/run/lock/lxc/pve-config-${id}.lock' - got timeout` });
    const { outs: after } = await updatePod(id, outs, spec({ cores: 2 }), ctx);
    expect(after.cores).toBe(2);
    expect(emu.state.containers()[0]!.config.cores).toBe(2);
  });

  test('delete never touches a container that reused the vmid', async () => {
    const { id, outs } = await createPod(spec(), ctx);
    await deletePod(id, outs, ctx);
    const { upid } = await pve.createContainer('pve', { ostemplate: T, hostname: 'someone-else', rootfs: 'local-zfs:1' }, { vmid: Number(id) });
    await pve.waitTask('pve', upid);
    await deletePod(id, outs, ctx);
    expect(emu.state.containers().map((c) => c.config.hostname)).toEqual(['someone-else']);
    expect(await readPod(id, outs, ctx)).toBeUndefined();
  });

  test('adoption takes over an unmanaged container and converges it; a managed one of another name is refused', async () => {
    const { upid, vmid } = await pve.createContainer('pve', { ostemplate: T, hostname: 'legacy', rootfs: 'local-zfs:2', memory: 256 });
    await pve.waitTask('pve', upid);
    const { outs } = await createPod(spec({ adopt: true, vmid, memory: 768 }), ctx);
    expect(outs).toMatchObject({ vmid, status: 'running', hostname: 'web' });
    const cfg = emu.state.containers()[0]!.config;
    expect(cfg.memory).toBe(768);
    expect(String(cfg.tags)).toContain('proxmox-pods');
    const err = await createPod(spec({ name: 'other', adopt: true, vmid }), ctx).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/already managed by proxmox-pods as "web"/);
    const missing = await createPod(spec({ adopt: true, vmid: 4242 }), ctx).catch((e) => e);
    expect(missing.message).toMatch(/^vmid: no container 4242 exists/);
  });

  test('stopping and starting follows `running`', async () => {
    const { id, outs } = await createPod(spec({ running: false }), ctx);
    expect(outs.status).toBe('stopped');
    const { outs: on } = await updatePod(id, outs, spec({ running: true }), ctx);
    expect(on.status).toBe('running');
    const { outs: off } = await updatePod(id, on, spec({ running: false }), ctx);
    expect(off.status).toBe('stopped');
  });
});
