// examples/web through the real Pulumi CLI: the emulator (ticket auth as root@pam, needed for the volumes' bind
// mounts) plus real host tooling in a namespace standing for the node — a bridge, nftables, dnsmasq, ZFS datasets.
import { execa } from 'execa';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace, REPO_ROOT } from '../../cli/pulumi-workspace';
import { Netns } from '../helpers/netns';
import { requirePulumiCli } from '../helpers/pulumi';
import { bridgesInNetns } from '../helpers/node-host';
import { withZfsPool } from '../oci/helpers-zfs';

type TestPool = Awaited<ReturnType<typeof withZfsPool>>;

jest.setTimeout(300_000);

describe('examples/web with the real CLI and real host tools', () => {
  const ns = new Netns();
  let node: string;
  let emu: RunningEmulator;
  let pool: TestPool;
  let dnsDir: string;
  let ws: PulumiWorkspace;
  const inNode = (cmd: string, args: string[]) => execa('ip', ['netns', 'exec', node, cmd, ...args], { reject: false });
  const dig = async (type: string, name: string) => String((await inNode('dig', ['@10.60.0.1', '+short', '+time=1', '+tries=2', type, name])).stdout).trim().split('\n').filter(Boolean).sort();

  beforeAll(async () => {
    requirePulumiCli();
    node = await ns.add('web');
    await inNode('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    pool = await withZfsPool();
    dnsDir = await mkdtemp(path.join(tmpdir(), 'pp-web-dns-'));
    await chmod(dnsDir, 0o755); // dnsmasq runs as nobody and must read its zone files
    emu = await startEmulator({
      nodes: 1, httpPort: false, taskDurationMs: 10,
      hostBackend: bridgesInNetns(node),
    });
    ws = await PulumiWorkspace.create({
      program: path.join(REPO_ROOT, 'dist', 'examples', 'web', 'index.js'),
      project: 'e2e-web',
      config: {
        'proxmox-pods:endpoint': emu.url,
        'proxmox-pods:caCert': emu.caCertPem,
        'proxmox-pods:username': 'root@pam',
        'proxmox-pods:password': { secret: emu.rootPassword },
        'proxmox-pods:hosts': JSON.stringify({ pve: { netns: node } }),
        'proxmox-pods:volumeDataset': `${pool.name}/volumes`,
        'proxmox-pods:dnsStateDir': dnsDir,
        replicas: '3',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await ws?.run(['destroy', '--yes']).catch(() => undefined);
    await ws?.dispose();
    await emu?.close();
    await pool?.destroy();
    await ns.cleanup();
    if (dnsDir) await rm(dnsDir, { recursive: true, force: true });
  });

  test('up: bridge, three members with volumes, DNS, and the forward exist for real', async () => {
    await ws.mustRun(['up', '--yes']);
    const out = await ws.outputs();
    expect(out.pods).toEqual(['web-0.web.default.svc.cluster.local', 'web-1.web.default.svc.cluster.local', 'web-2.web.default.svc.cluster.local']);
    expect(out.addresses).toEqual(['10.60.0.10', '10.60.0.11', '10.60.0.12']);
    expect(out.forward).toBe('*:8080/tcp');
    const cts = emu.state.containers();
    expect(cts).toHaveLength(3);
    for (const ct of cts) expect(String(ct.config.mp0)).toMatch(new RegExp(`^/.*/volumes/default-web-\\d,mp=/data`));
    expect((await inNode('ip', ['link', 'show', 'vmbr10'])).exitCode).toBe(0);
    expect(await dig('A', 'web-1.web.default.svc.cluster.local')).toEqual(['10.60.0.11']);
    expect(await dig('SRV', '_http._tcp.web.default.svc.cluster.local')).toEqual(['0 0 80 web.default.svc.cluster.local.']);
    expect(await dig('A', 'web.default.svc.cluster.local')).toEqual(['10.60.0.10', '10.60.0.11', '10.60.0.12']);
    expect(String((await inNode('nft', ['list', 'table', 'ip', 'proxmox_pods'])).stdout)).toContain('dnat to 10.60.0.10:80');
    expect(String((await execa('zfs', ['list', '-H', '-o', 'name', '-r', `${pool.name}/volumes`])).stdout).split('\n')).toHaveLength(4);
  });

  test('preview of 3 → 4 replicas: one member (and its volume) to create, one DNS change', async () => {
    await ws.setConfig('replicas', '4');
    const r = await ws.mustRun(['preview', '--diff']);
    expect(r.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/proxmox-pods:StatefulSetPod: \(create\)\s*\n\s*\[urn=[^\]]*::web-3\]/);
    expect(r.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/proxmox-pods:PersistentVolume: \(create\)\s*\n\s*\[urn=[^\]]*::web-data-3\]/);
    expect(r.stdout).toMatch(/~ pulumi-nodejs:dynamic\/proxmox-pods:HeadlessService: \(update\)\s*\n\s*\[id=[^\]]*\]\s*\n\s*\[urn=[^\]]*::web\]/);
    expect(r.stdout).toMatch(/\+ 2 to create/);
    expect(r.stdout).toMatch(/~ 1 to update/);
    expect(r.stdout).not.toMatch(/to replace|to delete/);
    await ws.mustRun(['up', '--yes']);
    expect(await dig('A', 'web-3.web.default.svc.cluster.local')).toEqual(['10.60.0.13']);
  });

  test('destroy leaves the node clean (the Retain volumes are kept, marked released)', async () => {
    await ws.mustRun(['destroy', '--yes']);
    expect(emu.state.containers()).toEqual([]);
    expect(emu.state.networks('pve').map((i) => i.iface)).not.toContain('vmbr10');
    expect((await inNode('ip', ['link', 'show', 'vmbr10'])).exitCode).not.toBe(0);
    expect(String((await inNode('nft', ['list', 'tables'])).stdout)).not.toContain('proxmox_pods');
    expect(await readdir(dnsDir)).toEqual([]);
    const datasets = String((await execa('zfs', ['get', '-H', '-o', 'name,value', '-r', 'pods:released', `${pool.name}/volumes`])).stdout).split('\n').slice(1);
    expect(datasets).toHaveLength(4);
    for (const line of datasets) expect(line.split('\t')[1]).toMatch(/^\d{4}-/);
  });
});
