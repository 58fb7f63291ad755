// The whole job for real, through the real Pulumi CLI, on `startEmulator({ runtime: 'lxc' })`: an image built offline
// from busybox-static, taken as a template (plain Pod) and as a ZFS clone (StatefulSet of three on its own bridge with
// a headless service); a port forward to member 0. From a client namespace: DNS, each member's answer, the forward,
// the image's user/workdir/env, the memory limit, an env change restarting the pod, a member replaced with a new image
// keeping its identity and data, and destroy leaving nothing behind.
import { execa } from 'execa';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { Netns } from '../helpers/netns';
import { programPath, requirePulumiCli } from '../helpers/pulumi';
import { withZfsPool, zfsChange } from '../oci/helpers-zfs';
import { busyboxAppImage, writeAppLayout } from '../helpers/busybox-image';
import { Client } from '../emulator/helpers';

jest.setTimeout(600_000);

const ci = process.env.CI === 'true' || process.env.CI === '1';
if (process.getuid?.() !== 0 && ci) throw new Error('runtime e2e: needs root (CI runs as root)');
const d = process.getuid?.() === 0 ? describe : describe.skip;

type Member = { name: string; fqdn: string; ip: string; mac: string; vmid: number };

d('pods that really run: pulumi up on the lxc runtime', () => {
  const ns = new Netns();
  let emu: RunningEmulator;
  let api: Client;
  let pool: Awaited<ReturnType<typeof withZfsPool>>;
  let dir: string;
  let dnsDir: string;
  let node: string;
  let client: string;
  let ws: PulumiWorkspace;
  let members: Member[];
  let layout: string;
  let dhcpd: ReturnType<typeof execa> | undefined;
  /** Every top chain the stack's images had (v1, then v2). */
  const tops = new Set<string>();

  const inClient = (cmd: string, args: string[]) => execa('ip', ['netns', 'exec', client, cmd, ...args], { reject: false, timeout: 20_000 });
  const get = async (url: string, want?: RegExp): Promise<string> => {
    let last = '';
    for (let i = 0; i < 75; i++) {
      const r = await inClient('curl', ['-sf', '-m', '2', url]);
      last = `${r.exitCode} ${r.stderr}`;
      if (r.exitCode === 0 && (!want || want.test(r.stdout))) return r.stdout;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`no answer${want ? ` matching ${want}` : ''} from ${url}: ${last}`);
  };
  const dig = async (name: string) => String((await inClient('dig', ['@10.61.0.1', '+short', '+time=1', '+tries=3', 'A', name])).stdout).trim();
  const outputs = async () => {
    const o = await ws.outputs();
    members = o.members as Member[];
    if (typeof o.zfsSnapshot === 'string') tops.add(o.zfsSnapshot.replace(/@ready$/, ''));
    return o;
  };

  beforeAll(async () => {
    requirePulumiCli();
    dir = await mkdtemp(path.join(tmpdir(), 'pp-rt-e2e-'));
    dnsDir = await mkdtemp(path.join(tmpdir(), 'pp-rt-dns-'));
    await chmod(dnsDir, 0o755);
    pool = await withZfsPool();
    await zfsChange('zfs', ['create', `${pool.name}/data`]);
    // "/" is a private mount here: a long-lived process another suite starts under `ip netns exec` (sshd, a server)
    // keeps a private copy of every mount, and pins our datasets ("dataset is busy" on destroy) until it exits. As
    // shared mounts, those copies become slaves (ip netns exec makes / rslave) and follow our unmounts.
    await execa('mount', ['--make-rshared', (await execa('zfs', ['get', '-H', '-o', 'value', 'mountpoint', pool.name])).stdout.trim()]);
    layout = path.join(dir, 'layout');
    await writeAppLayout(layout, await busyboxAppImage({ version: 'v1' }), 'v1');
    await writeAppLayout(layout, await busyboxAppImage({ version: 'v2' }), 'v2');
    await writeAppLayout(layout, await busyboxAppImage({ version: 'solo' }), 'solo');
    await chmod(dir, 0o755); // the runtime's directory below it must be traversable by the CTs' root (uid 100000)
    emu = await startEmulator({ runtime: 'lxc', nodes: 1, httpPort: 0, taskDurationMs: 10, zfsPool: `${pool.name}/data`, runtimeDir: path.join(dir, 'runtime') });
    api = new Client(emu);
    node = emu.hosts!.pve!.netns;
    // A client on the node's vmbr0 (the LAN side: the forwarded port and the plain Pod).
    client = await ns.add('client');
    await execa('ip', ['link', 'add', 'cl0', 'netns', node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    await execa('ip', ['-n', node, 'link', 'set', 'cl0', 'master', 'vmbr0', 'up']);
    await execa('ip', ['-n', client, 'addr', 'add', '192.168.100.200/24', 'dev', 'eth0']);
    await execa('ip', ['-n', client, 'link', 'set', 'eth0', 'up']);
    // The LAN's DHCP server, inside the node's namespace on vmbr0 only (nsenter --net, not ip netns exec: see the
    // rshared note above). PVE leaves DHCP to the network; the emulator serves none.
    dhcpd = execa('nsenter', [`--net=/run/netns/${node}`, '--', 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root',
      '--interface=vmbr0', '--bind-interfaces', '--dhcp-range=192.168.100.100,192.168.100.149,255.255.255.0,10m',
      `--dhcp-leasefile=${path.join(dir, 'dhcp.leases')}`, '--pid-file=', '--no-resolv', '--no-hosts'], { reject: false });
    ws = await PulumiWorkspace.create({
      program: programPath('runtime'),
      project: 'e2e-runtime',
      config: {
        'proxmox-pods:endpoint': emu.url,
        'proxmox-pods:caCert': emu.caCertPem,
        'proxmox-pods:username': 'root@pam',
        'proxmox-pods:password': { secret: emu.rootPassword },
        'proxmox-pods:hosts': JSON.stringify(emu.hosts),
        'proxmox-pods:volumeDataset': `${pool.name}/volumes`,
        'proxmox-pods:dnsStateDir': dnsDir,
        reference: `oci-layout:${layout}:v1`,
        soloReference: `oci-layout:${layout}:solo`,
        store: path.join(dir, 'store'),
        zfsParent: `${pool.name}/images`,
      },
    });
  }, 180_000);

  afterAll(async () => {
    await ws?.run(['destroy', '--yes']).catch(() => undefined);
    await ws?.dispose();
    await api?.close();
    await emu?.close();
    dhcpd?.kill('SIGTERM');
    await dhcpd;
    await ns.cleanup();
    await pool?.destroy();
    for (const p of [dir, dnsDir]) if (p) await rm(p, { recursive: true, force: true });
  });

  test('up: members answer at their addresses and DNS names, the forward reaches member 0, as the image user with the merged env', async () => {
    await ws.mustRun(['up', '--yes']);
    const out = await outputs();
    expect(members.map((m) => m.ip)).toEqual(['10.61.0.10', '10.61.0.11', '10.61.0.12']);
    // The client's second leg, on the deployment bridge the stack made.
    await execa('ip', ['link', 'add', 'cl1', 'netns', node, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', client]);
    await execa('ip', ['-n', node, 'link', 'set', 'cl1', 'master', 'vmbr20', 'up']);
    await execa('ip', ['-n', client, 'addr', 'add', '10.61.0.200/24', 'dev', 'eth1']);
    await execa('ip', ['-n', client, 'link', 'set', 'eth1', 'up']);
    for (const m of members) {
      expect(await dig(m.fqdn)).toBe(m.ip);
      const body = await get(`http://${m.ip}:8080/`);
      expect(body).toContain(`hostname=${m.name}`);
      expect(body).toContain('uid=1000');
      // The image's primary group only: lxc.init.groups does not reach an unprivileged CT's init on PVE 9.1's LXC
      // 6.0.5 nor on LXC 5.0.2 here (emulator/README.md, "lxc.init.groups").
      expect(body).toMatch(/^groups=1000$/m);
      expect(body).toContain('cwd=/app');
      expect(body).toContain('env GREETING=hello from the image'); // the image's
      expect(body).toContain('env ROLE=web'); // the pod's, merged
    }
    expect(out.forward).toBe('*:18080/tcp');
    expect(await get('http://192.168.100.10:18080/')).toContain(`hostname=${members[0]!.name}`);
    // The plain Pod (template path) on vmbr0.
    const solo = await get('http://192.168.100.60:8080/');
    expect(solo).toContain('uid=1000');
    expect(solo).toContain('cwd=/app');
    expect(solo).toContain('env ROLE=solo');
    // The DHCP Pod: its address is the lease dhclient got (the pod's ip output reads the CT's interfaces).
    expect(out.dhcpIp).toMatch(/^192\.168\.100\.(1[0-4]\d)$/);
    expect(await get(`http://${out.dhcpIp as string}:8080/`)).toContain('env ROLE=dhcp');
    // The memory limit is the container's cgroup's.
    const st = await api.data('GET', `/nodes/pve/lxc/${members[0]!.vmid}/status/current`);
    const cg = (await execa('cat', [`/proc/${st.pid}/cgroup`])).stdout.split('\n').find((l) => /:memory:/.test(l))!.split(':')[2]!;
    expect(Number((await execa('cat', [path.join('/sys/fs/cgroup/memory', cg.replace(/\/ns$/, ''), 'memory.limit_in_bytes')])).stdout)).toBe(128 * 1024 * 1024);
  });

  test('changing env and running up restarts the pods; the new value shows in the answer', async () => {
    const before = (await api.data('GET', `/nodes/pve/lxc/${members[0]!.vmid}/status/current`)).pid;
    await ws.setConfig('setting', 'two');
    await ws.mustRun(['up', '--yes']);
    expect(await get(`http://${members[0]!.ip}:8080/`, /env SETTING=two/)).toContain('env SETTING=two');
    expect((await api.data('GET', `/nodes/pve/lxc/${members[0]!.vmid}/status/current`)).pid).not.toBe(before);
  });

  test('changing a pod\'s address is applied live, as PVE hot-plugs it: the same process answers at the new address', async () => {
    const out = await outputs();
    const vmid = out.soloVmid as number;
    const before = (await api.data('GET', `/nodes/pve/lxc/${vmid}/status/current`)).pid;
    expect(await get('http://192.168.100.60:8080/', /ROLE=solo/)).toContain('env ROLE=solo');
    await ws.setConfig('soloIp', '192.168.100.64/24');
    await ws.mustRun(['up', '--yes']);
    expect((await outputs()).soloIp).toBe('192.168.100.64');
    expect(await get('http://192.168.100.64:8080/', /ROLE=solo/)).toContain('env ROLE=solo');
    expect((await inClient('curl', ['-sf', '-m', '2', 'http://192.168.100.60:8080/'])).exitCode).not.toBe(0);
    expect((await api.data('GET', `/nodes/pve/lxc/${vmid}/status/current`)).pid).toBe(before);
  });

  test('a member replaced with a new image keeps its name, MAC, IP, DNS name and volume data', async () => {
    const out = await outputs();
    const before = members[1]!;
    await writeFile(path.join((out.volumes as string[])[1]!, 'marker'), 'kept-across-replacement\n', { mode: 0o644 });
    await ws.setConfig('setReference', `oci-layout:${layout}:v2`);
    await ws.mustRun(['up', '--yes']);
    await outputs();
    const after = members[1]!;
    expect({ ...after, vmid: 0 }).toEqual({ ...before, vmid: 0 }); // name, DNS name, IP, MAC (a new CT: the vmid may be reused)
    expect(await dig(after.fqdn)).toBe(after.ip);
    const body = await get(`http://${after.ip}:8080/`, /APP_VERSION=v2/);
    expect(body).toContain('data=kept-across-replacement');
    expect(body).toContain(`hostname=${after.name}`);
  });

  test('destroy leaves no container, veth, rootfs, rule, zone or dataset behind', async () => {
    await ws.mustRun(['destroy', '--yes']);
    expect(emu.state.containers()).toEqual([]);
    // No LXC config dir and no directory rootfs (the plain Pod's local-lvm disk) is left in the runtime's directory.
    expect(await readdir(path.join(dir, 'runtime', 'lxc'))).toEqual([]);
    expect(await readdir(path.join(dir, 'runtime', 'volumes', 'pve', 'local-lvm'))).toEqual([]);
    const links = (await execa('ip', ['-n', node, '-o', 'link'])).stdout;
    expect(links).not.toMatch(/veth\d+i\d/);
    expect(links).not.toMatch(/vmbr20/);
    expect((await execa('ip', ['netns', 'exec', node, 'nft', 'list', 'tables'])).stdout).not.toContain('proxmox_pods');
    expect(await readdir(dnsDir)).toEqual([]);
    const datasets = (await execa('zfs', ['list', '-H', '-o', 'name', '-r', pool.name])).stdout.split('\n');
    expect(datasets.filter((n) => /\/(data|volumes)\//.test(n))).toEqual([]);
    // No dataset of ours is left under the chain parent: the images' tops, and the busybox base layer's chain both
    // versions were cloned from, released with the last image that used it (chain-claims.ts).
    expect(tops.size).toBe(2);
    expect(datasets.filter((n) => n.startsWith(`${pool.name}/images/`))).toEqual([]);
    expect(emu.state.storageContent('pve', 'local').filter((v) => String(v.volid).includes('vztmpl/oci-'))).toEqual([]);
    const prefix = node.replace(/-pve$/, '');
    // No container cgroup is left (`<prefix>/lxc/<vmid>` directories; the emulator's close removes the prefix itself).
    expect((await execa('sh', ['-c', `find /sys/fs/cgroup/*/${prefix}/lxc /sys/fs/cgroup/*/${prefix}/lxc.monitor -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true`])).stdout).toBe('');
  });
});
