// Round trips through the real CLI: for generated pods and StatefulSets, `up` → `refresh` reports no change →
// `preview --expect-no-changes` → `up --expect-no-changes`; drift made through the API shows as exactly that
// property and `up` puts it back; a change to one pod does not make a dependent's derived values unknown.
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import type { PveClient } from '../../provider/proxmox/client';
import { parseDescription } from '../../provider/resources/pod/pve-config';
import { programPath, requirePulumiCli } from '../helpers/pulumi';
import { emulatorClient } from '../helpers/emulator-stack';
import { rng } from '../helpers/rng';
import { changing, inputChanges, plannedOps, previewSteps, stepName } from '../helpers/preview-json';

jest.setTimeout(900_000);

const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

/** Valid pod inputs drawn from the schema's range: unsorted tags, env, DNS, static or DHCP, stopped pods, ... */
function generatePods(seed: number, count: number, subnet = 77): Record<string, Record<string, unknown>> {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const maybe = (p = 0.5) => r() < p;
  const pods: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < count; i++) {
    const p: Record<string, unknown> = { image: TEMPLATE, rootfs: { sizeGiB: 1 + Math.floor(r() * 4) } };
    if (maybe()) p.cores = 1 + Math.floor(r() * 4);
    if (maybe()) p.memory = 64 * (1 + Math.floor(r() * 16));
    if (maybe()) p.swap = pick([0, 128, 512]);
    if (maybe()) p.tags = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(['zeta', 'alpha', 'web', 'db', 'm-1', 'x_y', 'v1.2'])))];
    if (maybe(0.3)) p.description = pick(['plain', 'two\nlines', 'with <html> & "quotes"']);
    p.network = maybe()
      ? { ip: `10.${subnet}.${i}.${10 + Math.floor(r() * 200)}/24`, gateway: `10.${subnet}.${i}.1`, ...(maybe() ? { mtu: pick([1400, 1500]) } : {}), ...(maybe(0.3) ? { rateMbps: pick([12.5, 100]) } : {}) }
      : { ip: 'dhcp', ...(maybe(0.3) ? { vlan: 1 + Math.floor(r() * 4000) } : {}) };
    if (maybe(0.4)) p.env = Object.fromEntries(Array.from({ length: 1 + Math.floor(r() * 3) }, (_, k) => [`K${k}`, pick(['1', 'a b', 'x=y', "it's"])]));
    if (maybe(0.3)) p.entrypoint = pick([['/bin/sh', '-c', 'sleep infinity'], ['/usr/bin/app', '--flag=a b']]);
    if (maybe(0.3)) p.nameserver = ['10.77.0.1'];
    if (maybe(0.3)) p.searchdomain = 'lab.example';
    if (maybe(0.2)) p.running = false;
    if (maybe(0.3)) p.onboot = maybe();
    if (maybe(0.2)) p.nesting = true;
    if (maybe(0.2)) p.hostname = `host-${i}`;
    // Two nodes: some pods pinned to either, the rest on the stack's node (proxmox-pods:node).
    if (maybe(0.5)) p.node = pick(['pve1', 'pve2']);
    pods[`g${i}`] = p;
  }
  return pods;
}

describe('round trips through the real CLI', () => {
  let emu: RunningEmulator;
  let ws: PulumiWorkspace;
  let pve: PveClient;
  const nameOf = (c: { config: Record<string, unknown> }) => parseDescription(String(c.config.description ?? '')).meta?.name;
  /** A stack of the round-trip program on this emulator: its default node, generated pods and StatefulSets. */
  const stack = (name: string, node: string, pods: Record<string, unknown>, sets: Record<string, unknown>) =>
    PulumiWorkspace.create({
      program: programPath('roundtrip'),
      project: 'e2e-roundtrip',
      stack: name,
      config: { ...stackConfig(emu), 'proxmox-pods:storage': 'local-zfs', 'proxmox-pods:node': node, pods: JSON.stringify(pods), sets: JSON.stringify(sets) },
    });

  beforeAll(async () => {
    requirePulumiCli();
    emu = await startEmulator({ nodes: 2, httpPort: false, taskDurationMs: 5 });
    pve = emulatorClient(emu);
    ws = await stack('dev', 'pve1', generatePods(7, 12), { db: { replicas: 3, template: { image: TEMPLATE, memory: 256, tags: ['db', 'a'], network: { bridge: 'vmbr0', cidr: '10.78.0.0/24', gateway: '10.78.0.1' } } } });
  });
  afterAll(async () => {
    await ws?.dispose();
    await pve?.close();
    await emu?.close();
  });

  test('up, then refresh, preview and up all report no change', async () => {
    await ws.mustRun(['up', '--yes', '--skip-preview']);
    expect(emu.state.containers()).toHaveLength(15);
    const refresh = await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
    expect(refresh.stdout).not.toMatch(/~ \d+ updated/);
    await ws.mustRun(['preview', '--expect-no-changes']);
    await ws.mustRun(['up', '--yes', '--skip-preview', '--expect-no-changes']);
  });

  test('a second stack of the same program, with the same resource names, on the same cluster: neither sees the other', async () => {
    const before = emu.state.containers().map((c) => [c.vmid, c.node, c.config.memory]).sort();
    expect(emu.state.containers().map((c) => c.node)).toEqual(expect.arrayContaining(['pve1', 'pve2']));
    const staging = await stack('staging', 'pve2', generatePods(8, 12, 79), { db: { replicas: 2, template: { image: TEMPLATE, memory: 128, network: { bridge: 'vmbr0', cidr: '10.80.0.0/24', gateway: '10.80.0.1' } } } });
    try {
      await staging.mustRun(['up', '--yes', '--skip-preview']);
      expect(emu.state.containers()).toHaveLength(15 + 14);
      await staging.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
      await staging.mustRun(['preview', '--expect-no-changes']);
      // dev is untouched by staging's up, and its refresh and preview do not see staging's pods of the same names.
      await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
      await ws.mustRun(['preview', '--expect-no-changes']);
      await staging.mustRun(['destroy', '--yes', '--skip-preview']);
      expect(emu.state.containers().map((c) => [c.vmid, c.node, c.config.memory]).sort()).toEqual(before);
      await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
      await ws.mustRun(['preview', '--expect-no-changes']);
    } finally {
      await staging.dispose();
    }
  });

  test('drift made through the API shows as exactly that property, and up puts it back', async () => {
    const g0 = emu.state.containers().find((c) => nameOf(c) === 'g0')!;
    const member = emu.state.containers().find((c) => nameOf(c) === 'db-1')!;
    await pve.updateContainerConfig(g0.node, g0.vmid, { cores: 7 });
    await pve.updateContainerConfig(member.node, member.vmid, { memory: 999 });
    const refresh = await ws.mustRun(['refresh', '--yes', '--skip-preview', '--diff']);
    expect(refresh.stdout).toMatch(/~ cores\s*: \d+ => 7/);
    expect(refresh.stdout).toMatch(/~ memory\s*: 256 => 999/);
    expect(refresh.stdout).toMatch(/2 updated/);
    const preview = JSON.parse((await ws.mustRun(['preview', '--json'])).stdout) as { steps: Array<{ op: string; urn: string; diffReasons?: string[] }> };
    const updates = preview.steps.filter((s) => s.op === 'update');
    expect(updates.map((s) => s.urn.split('::').pop()).sort()).toEqual(['db-1', 'g0']);
    await ws.mustRun(['up', '--yes', '--skip-preview']);
    expect(emu.state.containers().find((c) => c.vmid === g0.vmid)!.config.cores).not.toBe(7);
    expect(emu.state.containers().find((c) => c.vmid === member.vmid)!.config.memory).toBe(256);
    await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
  });

  test('preview --json: a hostname change is an update of hostname; a replacement deletes first and lists only its cause; restartPlanned plans nothing after its restart', async () => {
    const pods: Record<string, Record<string, unknown>> = generatePods(7, 12);
    const isStatic = (k: string) => (pods[k]!.network as { ip: string }).ip !== 'dhcp';
    const names = Object.keys(pods);
    const replaced = names.find(isStatic)!;
    const renamed = names.find((k) => k !== replaced && pods[k]!.hostname === undefined)!;
    const restarted = names.find((k) => k !== replaced && k !== renamed && pods[k]!.running !== false)!;
    const wanted = structuredClone(pods);
    wanted[renamed]!.hostname = 'renamed-by-preview';
    wanted[replaced]!.unprivileged = false;
    wanted[restarted]!.env = { ...(pods[restarted]!.env as Record<string, string> | undefined), ADDED: 'yes' };
    await ws.setConfig('pods', JSON.stringify(wanted));
    // The replacement's own steps (delete-replaced, create-replacement), in the order the engine plans them.
    const steps = await previewSteps(ws, ['--show-replacement-steps']);
    const of = (name: string) => steps.filter((s) => stepName(s) === name);
    // The hostname the pod had (its name) is in its recorded inputs: `~ hostname`, not `+ hostname`.
    expect(of(renamed).map((s) => s.op)).toEqual(['update']);
    expect(inputChanges(of(renamed)[0]!)).toEqual(['~hostname']);
    // A fixed address cannot exist twice: the old container goes before the new one is made.
    expect(of(replaced).map((s) => s.op)).toEqual(['delete-replaced', 'replace', 'create-replacement']);
    const replace = of(replaced).find((s) => s.op === 'replace')!;
    expect(replace.replaceReasons).toEqual(['unprivileged']);
    // Unchanged defaults (cores, swap, running, ...) are in both old and new inputs: not listed as removed.
    expect(inputChanges(replace)).toEqual(['~unprivileged']);
    // The restart the env change needs is planned, visibly.
    expect(of(restarted).map((s) => s.op)).toEqual(['update']);
    expect(inputChanges(of(restarted)[0]!)).toEqual(['~env', '+restartPlanned']);
    expect(plannedOps(steps).filter((o) => !o.startsWith(`${replaced}:`)).sort()).toEqual([`${renamed}:update`, `${restarted}:update`]);
    await ws.mustRun(['up', '--yes', '--skip-preview']);

    // After the restart, `restartPlanned` is not in the pod's outputs, and plans nothing: the next change is only
    // that change. Pulumi itself recorded check()'s inputs of that `up`, which held the reason, so the CLI prints it
    // once more as removed beside the next change (no provider call can rewrite recorded inputs but refresh's read,
    // which is given only the outputs).
    wanted[restarted]!.memory = 576;
    await ws.setConfig('pods', JSON.stringify(wanted));
    const next = changing(await previewSteps(ws));
    expect(plannedOps(next)).toEqual([`${restarted}:update`]);
    expect(next[0]!.oldState?.outputs).not.toHaveProperty('restartPlanned');
    expect(next[0]!.newState?.inputs).not.toHaveProperty('restartPlanned');
    expect(inputChanges(next[0]!)).toEqual(['~memory', '-restartPlanned']);
  });

  test('a change to one pod leaves a pod whose env reads its static address alone in the preview', async () => {
    const pods: Record<string, Record<string, unknown>> = generatePods(7, 12);
    const staticName = Object.keys(pods).find((k) => (pods[k]!.network as { ip: string }).ip !== 'dhcp')!;
    pods.worker = { image: TEMPLATE, network: { ip: 'dhcp' }, envFromIp: { WEB_URL: staticName } };
    await ws.setConfig('pods', JSON.stringify(pods));
    await ws.mustRun(['up', '--yes', '--skip-preview']);
    const worker = emu.state.containers().find((c) => nameOf(c) === 'worker')!;
    expect(String(worker.config.env)).toContain(`WEB_URL=http://${(pods[staticName]!.network as { ip: string }).ip.split('/')[0]}:8080`);
    pods[staticName] = { ...pods[staticName], memory: 640 };
    await ws.setConfig('pods', JSON.stringify(pods));
    const preview = JSON.parse((await ws.mustRun(['preview', '--json'])).stdout) as { steps: Array<{ op: string; urn: string }> };
    const ops = Object.fromEntries(preview.steps.map((s) => [s.urn.split('::').pop(), s.op]));
    expect(ops[staticName]).toBe('update');
    // `preview --json` lists unchanged resources as `same` or leaves them out; never as an update or a replacement.
    expect([undefined, 'same']).toContain(ops.worker);
    await ws.mustRun(['destroy', '--yes', '--skip-preview']);
    expect(emu.state.containers()).toEqual([]);
  });
});
