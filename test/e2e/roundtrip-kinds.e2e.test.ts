// Round trips through the real CLI for every kind besides pods (roundtrip.e2e.test.ts has Pod and StatefulSetPod):
// generated DeploymentBridges, PersistentVolumes, HeadlessServices, PortForwards and OciImages go `up` → `refresh`
// reports no change → `preview --expect-no-changes` → `up --expect-no-changes`. Drift made where each kind reads
// back (the PVE API for bridges and templates, the node's host for bridge settings, ZFS properties, dnsmasq zone
// files and nftables rules) shows on refresh as exactly that property, and `up` puts it back. A namespace stands for
// the node (`proxmox-pods:hosts`), with a real ZFS pool, nftables and dnsmasq.
import { execa } from 'execa';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import type { PveClient } from '../../provider/proxmox/client';
import { buildImage, makeTar, writeArchive, writeLayout } from '../../provider/oci/layout/writer';
import { Netns } from '../helpers/netns';
import { bridgesInNetns } from '../helpers/node-host';
import { programPath, requirePulumiCli } from '../helpers/pulumi';
import { emulatorClient } from '../helpers/emulator-stack';
import { drawer } from '../helpers/rng';
import { changing, inputChanges, plannedOps, previewSteps, stepName } from '../helpers/preview-json';
import { withZfsPool, type ZfsPool, zfsChange } from '../oci/helpers-zfs';
import { requireTools } from '../oci/helpers/tools';

jest.setTimeout(600_000);

const SEED = Number(process.env.ROUNDTRIP_SEED ?? 11);
type Inputs = Record<string, Record<string, unknown>>;
interface Program { bridges: Inputs; volumes: Inputs; services: Inputs; forwards: Inputs; images: Inputs; pods: Inputs }

/**
 * Valid inputs of every host-side kind, drawn from the schemas' ranges. Addresses on `pp0` (a portless bridge: this kernel has no dummy links; 10.250.0.1, .2) exist
 * on the node, so dnsmasq can listen there and forwards can name them.
 */
export function generateKinds(seed: number, pool: string, image: { layout: string; archive: string; digest: string }): Program {
  const { pick, maybe, int } = drawer(seed);
  const bridges: Inputs = {};
  for (let i = 0; i < 3; i++) {
    const b: Record<string, unknown> = { name: `vmbr${40 + i}` };
    // Bridge 0 always has an address (its drift through the API is the cidr); the others sometimes.
    if (i === 0 || maybe()) b.cidr = `10.${90 + i}.${int(0, 255)}.1/24`;
    if (maybe()) b.mtu = pick([1400, 1500, 9000]);
    if (i === 1) b.stp = false; // bridge 1's host-side drift turns STP on
    else if (maybe()) b.stp = maybe();
    if (maybe()) b.multicastSnooping = maybe();
    if (maybe()) b.isolatePorts = maybe();
    if (maybe(0.3)) Object.assign(b, { vlanAware: true, vlanFallback: 'downgrade' });
    bridges[`br${i}`] = b;
  }
  const volumes: Inputs = {};
  for (let i = 0; i < 3; i++) {
    const v: Record<string, unknown> = { name: `vol-${i}-${int(0, 999)}`, sizeGiB: int(1, 64) };
    if (maybe()) v.reclaimPolicy = pick(['Retain', 'Delete']);
    if (maybe()) v.ownerUid = pick([0, 100000, 101000]);
    if (maybe(0.4)) v.parentDataset = `${pool}/other`;
    if (maybe(0.3)) v.ordinal = int(0, 3);
    volumes[`vol${i}`] = v;
  }
  const services: Inputs = {};
  const labels = ['web', 'db', 'api', 'cache', 'x-1'];
  for (let i = 0; i < 2; i++) {
    const s: Record<string, unknown> = { name: `${pick(labels)}${i}`, listen: { address: pick(['10.250.0.1', '10.250.0.2']), ...(maybe() ? { port: int(5300, 5399) } : {}) } };
    if (maybe()) s.namespace = pick(['default', 'prod', 'team-a']);
    if (maybe(0.3)) s.domain = pick(['cluster.local', 'lab.example']);
    const ports = [...new Set(Array.from({ length: int(0, 3) }, () => pick(['http', 'grpc', 'metrics', 'dns'])))];
    if (ports.length || maybe()) s.ports = ports.map((name) => ({ name, port: int(1, 65535), ...(maybe() ? { protocol: pick(['tcp', 'udp']) } : {}) }));
    // Service 0 always has a ready member with an address (its drift is that member's record removed on the node).
    const count = i === 0 ? int(1, 4) : int(0, 4);
    s.pods = Array.from({ length: count }, (_, k) => {
      const p: Record<string, unknown> = { name: `${s.name}-${k}` };
      if (k === 0 && i === 0) return { ...p, ip: `10.250.${10 + i}.${10 + k}` };
      if (maybe(0.8)) p.ip = `10.250.${10 + i}.${10 + k}`;
      if (maybe(0.3)) p.ready = maybe();
      return p;
    });
    if (maybe()) s.srvTarget = pick(['zone', 'pods']);
    services[`svc${i}`] = s;
  }
  const forwards: Inputs = {};
  const portsTaken = new Set<number>();
  for (let i = 0; i < 4; i++) {
    let listenPort = int(1024, 65535);
    while (portsTaken.has(listenPort)) listenPort = int(1024, 65535);
    portsTaken.add(listenPort);
    const f: Record<string, unknown> = { listenPort, protocol: pick(['tcp', 'udp']), targetIp: `10.250.20.${int(2, 254)}`, targetPort: int(1, 65535) };
    if (maybe()) f.listenAddress = pick(['10.250.0.1', '10.250.0.2']);
    if (i === 0) f.masquerade = true; // forward 0's drift removes its masquerade rule
    else if (maybe()) f.masquerade = maybe();
    forwards[`fwd${i}`] = f;
  }
  // The reference forms a user writes: a layout by tag, by tag and digest (the next test drops the tag), an archive.
  const images: Inputs = {
    img0: { reference: `oci-layout:${image.layout}:v1@${image.digest}`, ...(maybe() ? { platform: 'linux/amd64' } : {}) },
    img1: { reference: pick([`oci-layout:${image.layout}:v1`, `oci-archive:${image.archive}`]), ...(maybe() ? { insecureRegistries: ['registry.invalid:5000'] } : {}) },
    // Another build (tag v2): the image of a pod with a fixed address, which the last test moves to img0.
    img2: { reference: `oci-layout:${image.layout}:v2` },
  };
  const pods: Inputs = { app: { image: 'image:img2', memory: 64 * int(1, 8), network: { ip: '10.250.30.5/24', gateway: '10.250.30.1' } } };
  return { bridges, volumes, services, forwards, images, pods };
}

describe('round trips of the host-side kinds and images through the real CLI', () => {
  const ns = new Netns();
  let node: string;
  let emu: RunningEmulator;
  let pve: PveClient;
  let pool: ZfsPool;
  let dir: string;
  let ws: PulumiWorkspace;
  let program: Program;
  const inNode = (cmd: string, args: string[]) => execa('ip', ['netns', 'exec', node, cmd, ...args]);

  beforeAll(async () => {
    requirePulumiCli();
    requireTools('round trips of host-side kinds', ['nft', 'dnsmasq', 'zfs', 'zpool']);
    node = await ns.add('rtnode');
    await inNode('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await inNode('ip', ['link', 'add', 'pp0', 'type', 'bridge']);
    for (const a of ['10.250.0.1/24', '10.250.0.2/24']) await inNode('ip', ['addr', 'add', a, 'dev', 'pp0']);
    await inNode('ip', ['link', 'set', 'pp0', 'up']);
    pool = withZfsPool();
    // A process another suite runs under `ip netns exec` keeps a private copy of every mount and would pin our
    // datasets at destroy; as a shared mount, those copies follow our unmounts (see runtime.e2e.test.ts).
    await execa('mount', ['--make-rshared', pool.mountpoint]);
    dir = await mkdtemp(path.join(tmpdir(), 'pp-rt-kinds-'));
    await chmod(dir, 0o755); // dnsmasq runs as nobody and must read its zone files below it
    const img = buildImage({ layers: [{ tar: await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/app', content: '#!/bin/sh\n', mode: 0o755 }]) }], runtime: { Entrypoint: ['/bin/app'] } });
    const layout = path.join(dir, 'layout');
    const archive = path.join(dir, 'image.tar');
    const v2 = buildImage({ layers: [{ tar: await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/app', content: '#!/bin/sh\necho v2\n', mode: 0o755 }]) }], runtime: { Entrypoint: ['/bin/app'] } });
    await writeLayout(layout, [{ image: img, tag: 'v1' }, { image: v2, tag: 'v2' }]);
    await writeArchive(archive, [{ image: img, tag: 'v1' }]);
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 5, hostBackend: bridgesInNetns(node) });
    pve = emulatorClient(emu);
    program = generateKinds(SEED, pool.name, { layout, archive, digest: img.root.digest });
    ws = await PulumiWorkspace.create({
      program: programPath('roundtrip-kinds'),
      project: 'e2e-roundtrip-kinds',
      config: {
        ...stackConfig(emu),
        'proxmox-pods:hosts': JSON.stringify({ pve: { netns: node } }),
        'proxmox-pods:volumeDataset': `${pool.name}/volumes`,
        'proxmox-pods:dnsStateDir': path.join(dir, 'dns'),
        store: path.join(dir, 'store'),
        ...Object.fromEntries(Object.entries(program).map(([k, v]) => [k, JSON.stringify(withStore(k, v, path.join(dir, 'store')))])),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await ws?.run(['destroy', '--yes', '--skip-preview']).catch(() => undefined);
    await ws?.dispose();
    await pve?.close();
    await emu?.close();
    await ns.cleanup();
    pool?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(`up, then refresh, preview and up all report no change (seed ${SEED})`, async () => {
    await ws.mustRun(['up', '--yes', '--skip-preview']);
    const refresh = await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
    expect(refresh.stdout).not.toMatch(/~ \d+ updated|- \d+ deleted/);
    expect(changing(await previewSteps(ws, ['--expect-no-changes']))).toEqual([]);
    await ws.mustRun(['up', '--yes', '--skip-preview', '--expect-no-changes']);
  });

  test('drift where each kind reads back shows as exactly that property on refresh, and up puts it back', async () => {
    const br0 = program.bridges.br0!, br1 = program.bridges.br1!;
    const vol0 = program.volumes.vol0!;
    const svc0 = program.services.svc0! as { name: string; namespace?: string; domain?: string; listen: { address: string; port?: number }; pods: Array<{ name: string }> };
    // Bridge 0: its address changed through the PVE network API. Bridge 1: STP switched on on the node.
    const otherCidr = '10.99.99.1/24';
    await pve.updateNetwork('pve', String(br0.name), { type: 'bridge', cidr: otherCidr });
    await pve.applyNetwork('pve');
    await inNode('ip', ['link', 'set', String(br1.name), 'type', 'bridge', 'stp_state', '1']);
    // Volume 0: its quota changed on the node.
    const dataset = `${String(vol0.parentDataset ?? `${pool.name}/volumes`)}/${String(vol0.name)}`;
    const driftGiB = Number(vol0.sizeGiB) + 3;
    await zfsChange('zfs', ['set', `refquota=${driftGiB}G`, dataset]);
    // Volume 1: its root chowned on the node (an unprivileged pod's root no longer owns it).
    const vol1Path = ((await ws.outputs()).values as Record<string, string>)['volume-vol1']!;
    await execa('chown', ['4242:4242', vol1Path]);
    // Service 0: its first member's A record removed from the zone's hosts file on the node.
    const zone = `${svc0.name}.${svc0.namespace ?? 'default'}.svc.${svc0.domain ?? 'cluster.local'}`;
    const hostsFile = path.join(dir, 'dns', `${svc0.listen.address}_${svc0.listen.port ?? 53}`, 'hosts', zone);
    const hosts = await readFile(hostsFile, 'utf8');
    await writeFile(hostsFile, hosts.split('\n').filter((l) => !l.includes(` ${svc0.pods[0]!.name}.${zone} `)).join('\n'));
    // Forward 0: its masquerade rule deleted by hand.
    const table = JSON.parse((await inNode('nft', ['-j', 'list', 'table', 'ip', 'proxmox_pods'])).stdout) as { nftables: Array<{ rule?: { chain: string; handle: number; comment?: string } }> };
    const masq = table.nftables.find((i) => i.rule?.chain === 'postrouting' && i.rule.comment?.startsWith('pp|fwd0|'))!.rule!;
    await inNode('nft', ['delete', 'rule', 'ip', 'proxmox_pods', 'postrouting', 'handle', String(masq.handle)]);
    // Forward 1: its DNAT in prerouting edited by hand to another target, under the same comment.
    const fwd1 = program.forwards.fwd1! as { listenAddress?: string; listenPort: number; protocol: string; targetPort: number };
    const dnat1 = table.nftables.find((i) => i.rule?.chain === 'prerouting' && i.rule.comment?.startsWith('pp|fwd1|'))!.rule!;
    const match = fwd1.listenAddress ? ['ip', 'daddr', fwd1.listenAddress] : ['fib', 'daddr', 'type', 'local'];
    await inNode('nft', ['replace', 'rule', 'ip', 'proxmox_pods', 'prerouting', 'handle', String(dnat1.handle), ...match, fwd1.protocol, 'dport', String(fwd1.listenPort), 'dnat', 'to', `10.250.20.1:${fwd1.targetPort}`, 'comment', `"${dnat1.comment!}"`]);

    const refresh = await ws.mustRun(['refresh', '--yes', '--skip-preview', '--diff']);
    expect(refresh.stdout).toMatch(new RegExp(`~ cidr\\s*: "${String(br0.cidr).replace(/\./g, '\\.')}" => "${otherCidr.replace(/\./g, '\\.')}"`));
    expect(refresh.stdout).toMatch(/~ stp\s*: false => true/);
    expect(refresh.stdout).toMatch(new RegExp(`~ sizeGiB\\s*: ${String(vol0.sizeGiB)} => ${driftGiB}`));
    expect(refresh.stdout).toMatch(/~ complete\s*: true => false/);
    expect(refresh.stdout).toMatch(/~ ready\s*: true => false/);
    expect(refresh.stdout).toMatch(new RegExp(`~ ownerUid\\s*: ${String(program.volumes.vol1!.ownerUid ?? 100000)} => 4242`));
    expect(refresh.stdout).toMatch(/~ targetIp\s*: "[\d.]+" => "10\.250\.20\.1"/);
    expect(refresh.stdout).toMatch(/7 updated/);

    // The preview plans an update of exactly those resources, each changing exactly the drifted input (the forward's
    // missing rule is no input: its update is planned from the `complete: false` that refresh recorded).
    const steps = changing(await previewSteps(ws));
    expect(plannedOps(steps).sort()).toEqual(['br0:update', 'br1:update', 'fwd0:update', 'fwd1:update', 'svc0:update', 'vol0:update', 'vol1:update']);
    expect(Object.fromEntries(steps.map((s) => [stepName(s), inputChanges(s)]))).toEqual({ br0: ['~cidr'], br1: ['~stp'], vol0: ['~sizeGiB'], vol1: ['~ownerUid'], svc0: ['~pods'], fwd0: [], fwd1: ['~targetIp'] });

    await ws.mustRun(['up', '--yes', '--skip-preview']);
    expect(emu.state.networks('pve').find((i) => i.iface === br0.name)!.cidr).toBe(br0.cidr);
    expect((await inNode('cat', [`/sys/class/net/${String(br1.name)}/bridge/stp_state`])).stdout.trim()).toBe('0');
    expect((await execa('zfs', ['get', '-Hp', '-o', 'value', 'refquota', dataset])).stdout.trim()).toBe(String(Number(vol0.sizeGiB) * 1024 ** 3));
    expect((await execa('stat', ['-c', '%u', vol1Path])).stdout.trim()).toBe(String(program.volumes.vol1!.ownerUid ?? 100000));
    expect(await readFile(hostsFile, 'utf8')).toBe(hosts);
    expect((await inNode('nft', ['list', 'chain', 'ip', 'proxmox_pods', 'postrouting'])).stdout).toContain('pp|fwd0|');
    expect((await inNode('nft', ['list', 'chain', 'ip', 'proxmox_pods', 'prerouting'])).stdout).not.toContain('10.250.20.1:');
    await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
    await ws.mustRun(['preview', '--expect-no-changes']);
  });

  test('images: a pod moved to another image is replaced (delete first) for its image alone; the tag dropped beside its digest is no change; a template deleted through the API is gone on refresh and made again by up', async () => {
    // The pod runs img2 and has a fixed address: moved to img0, the preview deletes it first and lists only `image`.
    await ws.setConfig('pods', JSON.stringify({ app: { ...program.pods.app, image: 'image:img0' } }));
    const moved = (await previewSteps(ws, ['--show-replacement-steps'])).filter((s) => stepName(s) === 'app');
    expect(moved.map((s) => s.op)).toEqual(['delete-replaced', 'replace', 'create-replacement']);
    expect(moved[1]!.replaceReasons).toEqual(['image']);
    expect(inputChanges(moved[1]!)).toEqual(['~image']);
    await ws.setConfig('pods', JSON.stringify(program.pods));

    const images = withStore('images', structuredClone(program.images), path.join(dir, 'store'));
    const tagged = String(images.img0!.reference);
    expect(tagged).toMatch(/:v1@sha256:/);
    images.img0!.reference = tagged.replace(/:v1@/, '@');
    await ws.setConfig('images', JSON.stringify(images));
    expect(changing(await previewSteps(ws, ['--expect-no-changes']))).toEqual([]);

    // img0 and img1 are the same manifest, so they share one template (each with its own claim); img2's stays.
    const volid = String(((await ws.outputs()).values as Record<string, unknown>)['template-img0']);
    await pve.deleteContent('pve', 'local', volid);
    const refresh = await ws.mustRun(['refresh', '--yes', '--skip-preview']);
    expect(refresh.stdout).toMatch(/- 2 deleted/);
    expect(plannedOps(await previewSteps(ws)).sort()).toEqual(['img0:create', 'img1:create']);
    await ws.mustRun(['up', '--yes', '--skip-preview']);
    expect((await pve.storageContent('pve', 'local', 'vztmpl')).map((c) => c.volid)).toContain(volid);
    await ws.mustRun(['refresh', '--yes', '--skip-preview', '--expect-no-changes']);
  });
});

/** Images get the test's content store (the machine running Pulumi), so nothing lands in the user's cache. */
function withStore(kind: string, inputs: Inputs, store: string): Inputs {
  if (kind !== 'images') return inputs;
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { ...v, store }]));
}
