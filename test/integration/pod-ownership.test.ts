// Ownership and find-or-create for pods, against the in-process emulator with PVE failures injected. Each case is a
// way a pod used to take over, duplicate or lose a container (issue: "crash-safe and idempotent"): the create whose
// answer is lost after PVE acted, the create task that fails and frees its vmid for another pod, the run killed
// between PVE acting and Pulumi's checkpoint, and a partial create whose container is gone.
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { setStackConfig } from '../../provider/resources/common/connection';
import { ownerTag } from '../../provider/resources/common/owner';
import { createPod, deletePod, readPod, updatePod } from '../../provider/resources/pod/lifecycle';
import { parseDescription } from '../../provider/resources/pod/pve-config';
import { podInputsSchema, type PodOutputs } from '../../provider/resources/pod/schema';

const T = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const owner = { project: 'shop', stack: 'dev' };
const spec = (name: string, over: Record<string, unknown> = {}) =>
  podInputsSchema.parse({ name, owner, image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { ip: 'dhcp' }, ...over });
const metaOf = (c: { config: Record<string, unknown> }) => parseDescription(String(c.config.description ?? '')).meta;

describe('Pod ownership and find-or-create', () => {
  let emu: RunningEmulator;
  let pve: PveClient;
  const notes: string[] = [];
  let ctx: { pve: PveClient; note: (m: string) => void };

  beforeAll(async () => {
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 20, lockTimeoutMs: 200 });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }));
    ctx = { pve, note: (m) => notes.push(m) };
    setStackConfig({});
  });
  afterEach(() => {
    emu.faults.clear();
    emu.state.reset();
    notes.length = 0;
  });
  afterAll(async () => {
    await pve?.close();
    await emu?.close();
  });

  test('the container carries its owner key as a tag and in its metadata', async () => {
    const { outs } = await createPod(spec('web'), ctx);
    const [ct] = emu.state.containers();
    expect(String(ct!.config.tags).split(';')).toContain(ownerTag({ ...owner, kind: 'Pod', name: 'web' }));
    expect(metaOf(ct!)?.owner).toBe('shop/dev/Pod/web');
    expect(outs.vmid).toBe(ct!.vmid);
  });

  test('a create whose answer is lost after PVE acted ends with exactly its own container', async () => {
    emu.faults.add({ method: 'POST', path: '/nodes/pve/lxc', dropConnection: 'after' });
    const { id, outs } = await createPod(spec('web'), ctx);
    const cts = emu.state.containers();
    expect(cts).toHaveLength(1);
    expect(String(cts[0]!.vmid)).toBe(id);
    expect(metaOf(cts[0]!)?.name).toBe('web');
    expect(outs.status).toBe('running');
  });

  test('a create whose request never reached PVE is made again, once', async () => {
    emu.faults.add({ method: 'POST', path: '/nodes/pve/lxc', dropConnection: 'before' });
    await createPod(spec('web'), ctx);
    expect(emu.state.containers()).toHaveLength(1);
  });

  test('a failed create task frees its vmid; another pod that takes it is never adopted by the first', async () => {
    // web's first create task fails (PVE removes the config); api is created meanwhile and gets the freed vmid.
    emu.faults.add({ method: 'POST', path: '/nodes/pve/lxc', taskError: 'unable to create CT - got timeout', times: 1 });
    const [web, api] = await Promise.all([createPod(spec('web'), ctx), createPod(spec('api'), ctx)]);
    const cts = emu.state.containers();
    expect(cts).toHaveLength(2);
    const byVmid = new Map(cts.map((c) => [c.vmid, metaOf(c)?.name]));
    expect(byVmid.get(web.outs.vmid)).toBe('web');
    expect(byVmid.get(api.outs.vmid)).toBe('api');
    expect(notes.join('\n')).toMatch(/nothing was left behind, creating again/);
  });

  test('a run killed after PVE created the container: the next create adopts it instead of making another', async () => {
    const first = await createPod(spec('web', { memory: 256 }), ctx);
    // Pulumi never recorded `first` (the CLI died before its checkpoint): the next `up` creates web again.
    const again = await createPod(spec('web', { memory: 384 }), ctx);
    expect(again.id).toBe(first.id);
    expect(emu.state.containers()).toHaveLength(1);
    expect(emu.state.containers()[0]!.config.memory).toBe(384);
    expect(notes.join('\n')).toMatch(/adopting CT \d+ .* earlier, interrupted run/);
  });

  test('the same name in another stack is another owner: no adoption across stacks', async () => {
    await createPod(spec('web'), ctx);
    await createPod(spec('web', { owner: { project: 'shop', stack: 'staging' } }), ctx);
    expect(emu.state.containers().map((c) => metaOf(c)?.owner).sort()).toEqual(['shop/dev/Pod/web', 'shop/staging/Pod/web']);
  });

  test('update, read and delete act only on the owner\'s container, wherever its vmid is now', async () => {
    const { id, outs } = await createPod(spec('web'), ctx);
    // State recorded a wrong vmid (the partial create of an ambiguous answer): another pod holds that vmid now.
    const other = await createPod(spec('api'), ctx);
    const stale: PodOutputs = { ...outs, vmid: other.outs.vmid };
    const { outs: updated } = await updatePod(other.id, stale, spec('web', { memory: 1024 }), ctx);
    expect(updated.vmid).toBe(outs.vmid);
    const cts = new Map(emu.state.containers().map((c) => [c.vmid, c.config]));
    expect(cts.get(outs.vmid)!.memory).toBe(1024);
    expect(cts.get(other.outs.vmid)!.memory).toBe(512);
    expect((await readPod(other.id, stale, ctx))!.id).toBe(id);
    await deletePod(other.id, stale, ctx);
    expect(emu.state.containers().map((c) => c.vmid)).toEqual([other.outs.vmid]);
  });

  test('a partial create whose container is gone is created by the next update instead of blocking every up', async () => {
    const partial = { ...spec('web'), node: 'pve', vmid: 4711, hostname: 'web', status: 'unknown' } as PodOutputs;
    const { outs } = await updatePod('4711', partial, spec('web'), ctx);
    expect(outs.status).toBe('running');
    expect(emu.state.containers()).toHaveLength(1);
  });

  test('start and delete failures PVE reports as transient are retried', async () => {
    emu.faults.add({ method: 'POST', path: /\/status\/start$/, status: 500, message: "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout", times: 2 });
    const { id, outs } = await createPod(spec('web'), ctx);
    expect(outs.status).toBe('running');
    emu.faults.add({ method: 'DELETE', path: /\/lxc\/\d+$/, taskError: 'command failed: got timeout', times: 2 });
    await deletePod(id, outs, ctx);
    expect(emu.state.containers()).toEqual([]);
  });

  test('metadata edited into something unreadable is an error that says how to fix it, never "gone"', async () => {
    const { id, outs } = await createPod(spec('web'), ctx);
    await pve.updateContainerConfig(outs.node, outs.vmid, { description: 'mine\n\n<!-- proxmox-pods {"v":1,"name":} -->' });
    const err = await readPod(id, outs, ctx).catch((e) => e);
    expect(err.code).toBe('E_CORRUPT_METADATA');
    expect(err.message).toMatch(/restore the `<!-- proxmox-pods/);
    expect(emu.state.containers()).toHaveLength(1);
  });

  test('a container made by an older version (no owner recorded) is taken into ownership by update', async () => {
    const { id, outs } = await createPod(podInputsSchema.parse({ name: 'web', image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 } }), ctx);
    expect(metaOf(emu.state.containers()[0]!)?.owner).toBeUndefined();
    await updatePod(id, outs, spec('web', { network: undefined }), ctx);
    expect(metaOf(emu.state.containers()[0]!)?.owner).toBe('shop/dev/Pod/web');
  });
});

describe('Pod refresh is exact', () => {
  let emu: RunningEmulator;
  let pve: PveClient;

  beforeAll(async () => {
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }));
    setStackConfig({});
  });
  afterAll(async () => {
    await pve?.close();
    await emu?.close();
  });

  // A spread of valid inputs: unsorted tags, user description, mounts-free static and DHCP networks, env, DNS.
  const variants: Array<Record<string, unknown>> = [
    {},
    { tags: ['zeta', 'alpha', 'mid'], description: 'the web tier\nsecond line' },
    { network: { bridge: 'vmbr0', ip: '10.1.2.3/24', gateway: '10.1.2.1', mtu: 1400, rateMbps: 12.5 }, nameserver: ['10.1.2.1'], searchdomain: 'lab.example' },
    { env: { B: '2', A: 'x y' }, entrypoint: ['/bin/sh', '-c', 'echo "hi there"'], cores: 2, memory: 300, swap: 0 },
    { running: false, onboot: true, nesting: true, hostname: 'custom-host' },
  ];

  test.each(variants.map((v, i) => [i, v] as const))('variant %i reads back unchanged, and API drift shows as exactly that property', async (_i, over) => {
    const inputs = podInputsSchema.parse({ name: 'web', owner, node: undefined, image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, ...over });
    const { id, outs } = await createPod(inputs, { pve });
    const read = (await readPod(id, outs, { pve }))!;
    expect(read.id).toBe(id);
    expect(read.props).toEqual(outs);
    // Drift behind Pulumi's back: memory changed through the API.
    await pve.updateContainerConfig(outs.node, outs.vmid, { memory: 777 });
    const drifted = (await readPod(id, outs, { pve }))!;
    const changed = Object.keys(drifted.props).filter((k) => JSON.stringify((drifted.props as never)[k]) !== JSON.stringify((outs as never)[k]));
    expect(changed).toEqual(['memory']);
    // With drift, refresh hands back the recorded inputs with exactly that property changed (the preview shows it).
    const { status: _s, node: _n, vmid: _v, ip: _ip, mac: _m, ...recorded } = outs;
    const changedInputs = Object.keys({ ...recorded, ...drifted.inputs }).filter((k) => JSON.stringify((drifted.inputs as never)[k]) !== JSON.stringify((recorded as never)[k]));
    expect(changedInputs.filter((k) => !['ip', 'mac'].includes(k))).toEqual(['memory']);
    expect((await readPod(id, { ...outs, memory: 777 }, { pve }))!.inputs).toBeUndefined();
    // `up` puts it back.
    const { outs: fixed } = await updatePod(id, drifted.props as PodOutputs, inputs, { pve });
    expect(fixed.memory).toBe(inputs.memory);
    expect(emu.state.containers().find((c) => c.vmid === outs.vmid)!.config.memory).toBe(inputs.memory);
    await deletePod(id, fixed, { pve });
  });
});
