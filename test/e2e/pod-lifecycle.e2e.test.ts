// The real Pulumi CLI (local file backend) driving the Pod resource against the emulator over HTTPS with a pinned
// fingerprint and an API token: up, preview --diff, update, drift on refresh, bad input, destroy, state size.
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { Readable } from 'node:stream';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { programPath, requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(300_000);

const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const base = {
  web: { image: TEMPLATE, memory: 256, swap: 0, rootfs: { sizeGiB: 2 }, network: { ip: '10.1.0.10/24', gateway: '10.1.0.1' }, env: { MODE: 'a' }, tags: ['web'] },
  db: { image: TEMPLATE, memory: 512, rootfs: { sizeGiB: 3 }, network: { ip: 'dhcp' } },
};

describe('Pod through the real pulumi CLI', () => {
  let emu: RunningEmulator;
  let ws: PulumiWorkspace;
  let pve: PveClient;
  const setPods = (pods: unknown) => ws.setConfig('pods', JSON.stringify(pods));
  const byName = () => Object.fromEntries(emu.state.containers().map((c) => [String(c.config.hostname), c]));

  beforeAll(async () => {
    requirePulumiCli();
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 20 });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, tlsFingerprint: emu.fingerprint }));
    // The second image the test re-images a pod with arrives through the real upload API.
    const bytes = Buffer.from('not really an alpine rootfs');
    await pve.uploadToStorage(emu.nodes[0]!, 'local', { content: 'vztmpl', filename: 'alpine-3.20-default_20240908_amd64.tar.xz', data: Readable.from([bytes]), size: bytes.length });
    ws = await PulumiWorkspace.create({
      program: programPath('pods'),
      project: 'e2e-pods',
      config: {
        ...stackConfig(emu),
        'proxmox-pods:storage': 'local-zfs',
        pods: JSON.stringify(base),
      },
    });
  });

  afterAll(async () => {
    await ws?.dispose();
    await pve?.close();
    await emu?.close();
  });

  test('up creates the pods, running, with their config', async () => {
    const r = await ws.mustRun(['up', '--yes']);
    expect(r.stdout).toMatch(/\+ 3 created/);
    const cts = byName();
    expect(Object.keys(cts).sort()).toEqual(['db', 'web']);
    expect(cts.web!.status).toBe('running');
    expect(cts.web!.config.memory).toBe(256);
    expect(String(cts.web!.config.net0)).toContain('ip=10.1.0.10/24');
    expect(String(cts.web!.config.tags)).toMatch(/^pp-[0-9a-f]{16};proxmox-pods;web$/);
    const out = (await ws.outputs()).pods as Record<string, unknown>;
    expect(out.webIp).toBe('10.1.0.10');
    expect(out.webStatus).toBe('running');
    expect(typeof out.dbVmid).toBe('number');
  });

  test('the serialized provider in state stays under 16 KiB per resource', async () => {
    const state = await ws.exportState();
    const pods = (state.deployment.resources ?? []).filter((r) => String(r.type).endsWith(':Pod'));
    expect(pods).toHaveLength(2);
    for (const r of pods) {
      expect(r.type).toBe('pulumi-nodejs:dynamic/proxmox-pods:Pod');
      const provider = String(r.inputs.__provider);
      expect(provider.length).toBeGreaterThan(0);
      expect(provider.length).toBeLessThan(16 * 1024);
    }
    // The API token is a stack secret and never lands in resource state.
    expect(JSON.stringify(state)).not.toContain(emu.token.split('=').pop()!);
  });

  test('preview --diff names exactly the changed properties, update vs replace, and the planned restart', async () => {
    await setPods({
      web: { ...base.web, memory: 384, env: { MODE: 'b' } },
      db: { ...base.db, image: 'local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz' },
    });
    const r = await ws.mustRun(['preview', '--diff']);
    const web = r.stdout.slice(r.stdout.indexOf('Pod: (update)'));
    expect(r.stdout).toMatch(/~ pulumi-nodejs:dynamic\/proxmox-pods:Pod: \(update\)[\s\S]*\[urn=[^\]]*::web\]/);
    expect(web).toMatch(/~ memory\s*: 256 => 384/);
    expect(web).toMatch(/~ MODE\s*: "a" => "b"/);
    expect(web).toMatch(/\+ restartPlanned\s*: "restart to apply env/);
    expect(r.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/proxmox-pods:Pod: \(replace\)[\s\S]*::db\]/);
    expect(r.stdout).toMatch(/~ image\s*: "local:vztmpl\/debian-12[^"]*" => "local:vztmpl\/alpine-3\.20[^"]*"/);
    expect(r.stdout).not.toMatch(/~ cores/);
    expect(r.stdout).toMatch(/1 to update/);
    expect(r.stdout).toMatch(/1 to replace/);
  });

  test('up applies the update live and replaces the re-imaged pod', async () => {
    const before = byName();
    await ws.mustRun(['up', '--yes']);
    const after = byName();
    expect(after.web!.vmid).toBe(before.web!.vmid);
    expect(after.web!.config.memory).toBe(384);
    expect(String(after.web!.config.env)).toContain('MODE=b');
    expect(after.web!.status).toBe('running');
    // Replaced delete-first (the new container carries the same owner key): PVE's nextid may hand out the same vmid,
    // so the new container is told by its root file system, not its id.
    expect(before.db!.config.ostype).not.toBe('alpine');
    expect(String(after.db!.config.ostype ?? '')).toBe('alpine');
    expect(emu.state.containers()).toHaveLength(2);
    // A second preview is empty: state and the live pods agree.
    const again = await ws.mustRun(['preview', '--diff', '--expect-no-changes']);
    expect(again.stdout).not.toMatch(/to update|to replace/);
  });

  test('a change made behind Pulumi\'s back shows as drift on refresh', async () => {
    const web = byName().web!;
    await pve.updateContainerConfig(web.node, web.vmid, { memory: 1024, cores: 2 });
    const r = await ws.mustRun(['refresh', '--yes', '--diff']);
    expect(r.stdout).toMatch(/~ memory\s*: 384 => 1024/);
    expect(r.stdout).toMatch(/~ cores\s*: 1 => 2/);
    // The next preview plans to put the program's values back.
    const p = await ws.mustRun(['preview', '--diff']);
    expect(p.stdout).toMatch(/~ memory\s*: 1024 => 384/);
  });

  test('bad input fails preview and names the field', async () => {
    await setPods({ ...base, web: { ...base.web, memory: 8, network: { ip: '10.1.0.300/24' } } });
    const r = await ws.run(['preview']);
    expect(r.exitCode).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/memory.*must be at least 16/);
    expect(text).toMatch(/network\.ip.*must be "dhcp" or an IPv4 CIDR/);
    await setPods(base);
  });

  test('destroy leaves the emulator empty', async () => {
    await ws.mustRun(['destroy', '--yes']);
    expect(emu.state.containers()).toEqual([]);
  });
});
