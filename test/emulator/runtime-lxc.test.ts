// The emulator's lxc runtime: nodes are network namespaces, CTs real unprivileged LXC containers created from an OCI
// archive (PVE's restore_oci_archive mapping) or a tar.zst template (restore_archive), started from a config
// generated as update_lxc_config writes it, answering HTTP on their host-managed address.
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { Client } from './helpers';
import { busyboxAppImage, writeAppArchive } from '../helpers/busybox-image';
import { packTemplate } from '../../provider/oci/convert/template';
import { unpackImage } from '../../provider/oci/unpack';

jest.setTimeout(120_000);

const ci = process.env.CI === 'true' || process.env.CI === '1';
const canRun = process.getuid?.() === 0;
if (!canRun) {
  if (ci) throw new Error('runtime-lxc: needs root (CI runs as root)');
  console.warn('SKIPPED runtime-lxc: needs root');
}
const d = canRun ? describe : describe.skip;

function multipart(fields: Record<string, string>, file: { name: string; data: Buffer }): { body: Buffer; contentType: string } {
  const boundary = `----rt${process.pid}${Date.now()}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`), file.data, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

d('emulator --runtime lxc', () => {
  let emu: RunningEmulator;
  let c: Client;
  let dir: string;
  let ns: string;
  const inNode = (cmd: string, args: string[]) => execa('nsenter', [`--net=/run/netns/${ns}`, '--', cmd, ...args], { reject: false, timeout: 20_000 });
  const curl = async (url: string) => {
    for (let i = 0; i < 50; i++) {
      const r = await inNode('curl', ['-sf', '-m', '2', url]);
      if (r.exitCode === 0) return r.stdout;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`no answer from ${url}`);
  };
  const task = async (upid: string, ms = 60_000) => (await c.waitTask('pve', upid, ms)).exitstatus as string;
  const upload = async (name: string, data: Buffer) => {
    const r = await c.call('POST', '/nodes/pve/storage/local/upload', { rawBody: multipart({ content: 'vztmpl' }, { name, data }) });
    expect(r.status).toBe(200);
    expect(await task(r.json.data)).toBe('OK');
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'pp-rt-'));
    await fs.chmod(dir, 0o755); // the runtime's directory below it must be traversable by the CTs' root (uid 100000)
    emu = await startEmulator({ runtime: 'lxc', taskDurationMs: 5, runtimeDir: path.join(dir, 'runtime') });
    c = new Client(emu);
    ns = emu.hosts!.pve!.netns;
  });

  afterAll(async () => {
    await c?.close();
    await emu?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('each node is a namespace with vmbr0 at its configured address; hosts names it', async () => {
    expect(emu.hosts).toEqual({ pve: { netns: ns } });
    const addr = JSON.parse((await execa('ip', ['-n', ns, '-j', 'addr', 'show', 'vmbr0'])).stdout);
    expect(addr[0].addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toContain('192.168.100.10/24');
    expect((await inNode('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('1');
  });

  test('OCI archive: PVE 9.1 mapping, a real unprivileged CT that answers as the image user, in its workdir, with its env', async () => {
    const image = await busyboxAppImage();
    await upload('app.tar', await writeAppArchive(path.join(dir, 'app.tar'), image));
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '150', ostemplate: 'local:vztmpl/app.tar', rootfs: 'local-zfs:1', hostname: 'app-one', memory: '128', swap: '64', net0: 'name=eth0,bridge=vmbr0,ip=192.168.100.50/24,gw=192.168.100.1', env: 'EXTRA=from-api' },
    });
    expect(await task(create)).toBe('OK');
    const cfg = await c.data('GET', '/nodes/pve/lxc/150/config');
    expect(cfg.entrypoint).toBe('/app/serve');
    expect(cfg.cmode).toBe('console');
    expect(cfg.net0).toMatch(/host-managed=1/);
    expect(cfg.env).toBe('PATH=/bin\0GREETING=hello from the image\0APP_MODE=image\0APP_VERSION=v1');
    expect(cfg.lxc).toEqual([['lxc.init.uid', '1000'], ['lxc.init.gid', '1000'], ['lxc.init.groups', '1500'], ['lxc.init.cwd', '/app'], ['lxc.signal.halt', 'SIGUSR1']]);

    expect(await task(await c.data('POST', '/nodes/pve/lxc/150/status/start'))).toBe('OK');
    const st = await c.data('GET', '/nodes/pve/lxc/150/status/current');
    expect(st.status).toBe('running');
    const status = await fs.readFile(`/proc/${st.pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+101000\s/m); // uid 1000 in the CT, shifted by PVE's id map
    const body = await curl('http://192.168.100.50:8080/');
    expect(body).toContain('uid=1000');
    expect(body).toContain('cwd=/app');
    expect(body).toContain('hostname=app-one');
    expect(body).toContain('env GREETING=hello from the image');
    expect(body).toContain('env TERM=linux');
    // lxc.init.groups (1500, from /etc/group) is in the config, but the init has only its primary group: LXC 5.0.2
    // and 6.0.5 (lxc-pve 6.0.5-3, PVE 9.1) apply init groups only to CTs without a user namespace (start.c do_start);
    // the kernel would allow it (setgroups is "allow" in a userns whose maps root wrote). emulator/README.md.
    expect(body).toMatch(/^groups=1000$/m);
    expect((await fs.readFile(`/proc/${st.pid}/setgroups`, 'utf8')).trim()).toBe('allow');
    const ifaces = await c.data('GET', '/nodes/pve/lxc/150/interfaces');
    const eth0 = ifaces.find((i: { name: string }) => i.name === 'eth0');
    expect(eth0.inet).toBe('192.168.100.50/24');
    expect(eth0.hwaddr.toUpperCase()).toBe(/hwaddr=([0-9A-F:]+)/i.exec(cfg.net0)![1]!.toUpperCase());
    const cg = (await fs.readFile(`/proc/${st.pid}/cgroup`, 'utf8')).split('\n').find((l) => /:memory:/.test(l))!.split(':')[2]!;
    const limit = await fs.readFile(path.join('/sys/fs/cgroup/memory', cg.replace(/\/ns$/, ''), 'memory.limit_in_bytes'), 'utf8');
    expect(Number(limit)).toBe(128 * 1024 * 1024);

    // The image's StopSignal (SIGUSR1) reaches the init: a clean shutdown is quick, well inside its timeout.
    const t0 = Date.now();
    expect(await task(await c.data('POST', '/nodes/pve/lxc/150/status/shutdown', { form: { timeout: '20' } }))).toBe('OK');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await c.data('GET', '/nodes/pve/lxc/150/status/current')).status).toBe('stopped');

    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/150'))).toBe('OK');
    expect(await fs.readdir(path.join('/sys/fs/cgroup/memory')).then((e) => e.filter((x) => x.startsWith('ppe')))).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/lxc\/150/)]),
    );
  });

  test('tar.zst template: extracted with PVE flags, id-shifted, started as a system-less CT with an entrypoint', async () => {
    const image = await busyboxAppImage({ version: 'tpl' });
    const rootfs = path.join(dir, 'tpl-rootfs');
    await unpackImage({ target: rootfs, idmap: null, layers: image.layers.map((l) => ({ stream: require('node:stream').Readable.from([l.bytes]), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId })) });
    const packed = await packTemplate({ rootfs, outDir: dir, name: 'app-tpl' });
    await upload('app-tpl.tar.zst', await fs.readFile(packed.path));
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '151', ostemplate: 'local:vztmpl/app-tpl.tar.zst', rootfs: 'local-lvm:1', hostname: 'tpl', entrypoint: '/app/serve', net0: 'name=eth0,bridge=vmbr0,ip=192.168.100.51/24,host-managed=1' },
    });
    expect(await task(create)).toBe('OK');
    const cfg = await c.data('GET', '/nodes/pve/lxc/151/config');
    expect(cfg.lxc).toBeUndefined(); // no OCI mapping for a plain template: root, in /
    expect(await task(await c.data('POST', '/nodes/pve/lxc/151/status/start'))).toBe('OK');
    const body = await curl('http://192.168.100.51:8080/');
    expect(body).toContain('uid=0');
    expect(body).toContain('cwd=/');
    // SIGTERM (the default halt signal) is ignored by this init: the forced stop after the timeout ends it.
    expect(await task(await c.data('POST', '/nodes/pve/lxc/151/status/shutdown', { form: { timeout: '1', forceStop: '1' } }))).toBe('OK');
    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/151'))).toBe('OK');
  });

  test('host-managed ip=dhcp: dhclient runs in the CT\'s namespace after the start (vm_start), gets the lease, and dies with the stop', async () => {
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '153', ostemplate: 'local:vztmpl/app.tar', rootfs: 'local-lvm:1', hostname: 'dhcp-one', net0: 'name=eth0,bridge=vmbr0,ip=dhcp' },
    });
    expect(await task(create)).toBe('OK');
    const cfg = await c.data('GET', '/nodes/pve/lxc/153/config');
    expect(cfg.net0).toMatch(/host-managed=1/); // restore_oci_archive's default for an OCI image
    const mac = /hwaddr=([0-9A-F:]+)/i.exec(cfg.net0)![1]!.toLowerCase();
    // A DHCP server inside the node's namespace, on vmbr0 only; a fixed lease for the CT's MAC.
    const leases = path.join(dir, 'dnsmasq.leases');
    const dnsmasq = execa('nsenter', [`--net=/run/netns/${ns}`, '--', 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root',
      '--interface=vmbr0', '--bind-interfaces', '--dhcp-range=192.168.100.100,192.168.100.149,255.255.255.0,10m', `--dhcp-host=${mac},192.168.100.123`,
      `--dhcp-leasefile=${leases}`, '--dhcp-option=option:router,192.168.100.1', '--pid-file=', '--no-resolv', '--no-hosts'], { reject: false });
    try {
      const upid = await c.data('POST', '/nodes/pve/lxc/153/status/start');
      expect(await task(upid, 100_000)).toBe('OK');
      const ifaces = await c.data('GET', '/nodes/pve/lxc/153/interfaces');
      expect(ifaces.find((i: { name: string }) => i.name === 'eth0').inet).toBe('192.168.100.123/24');
      const body = await curl('http://192.168.100.123:8080/');
      expect(body).toContain('hostname=dhcp-one');
      expect(await fs.readFile(leases, 'utf8')).toContain(mac);
      // The client stays (it renews the lease), recorded where kill_dhclients looks for it.
      const pidFile = path.join(dir, 'runtime', 'lxc', '153', 'hook', 'dhclient4-eth0.pid');
      const pid = Number((await fs.readFile(pidFile, 'utf8')).trim());
      expect((await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')).toEqual(expect.arrayContaining(['/sbin/dhclient', '-1', '-4', 'eth0']));
      expect(await task(await c.data('POST', '/nodes/pve/lxc/153/status/stop'))).toBe('OK');
      // vm_stop_cleanup → kill_dhclients: the client is gone with its pid file.
      expect(await fs.access(pidFile).then(() => true, () => false)).toBe(false);
      for (let i = 0; i < 50 && (await fs.access(`/proc/${pid}`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await fs.access(`/proc/${pid}`).then(() => true, () => false)).toBe(false);
    } finally {
      dnsmasq.kill('SIGTERM');
      await dnsmasq;
    }
    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/153'))).toBe('OK');
  });

  test('host-managed ip=dhcp with no DHCP server: the start still succeeds, with vm_start\'s "DHCP failed" warning', async () => {
    // dhclient -1 gives up after dhclient.conf's default 60 s; PVE only warns (LXC.pm vm_start), the CT stays up.
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '155', ostemplate: 'local:vztmpl/app.tar', rootfs: 'local-lvm:1', hostname: 'dhcp-none', net0: 'name=eth0,bridge=vmbr0,ip=dhcp' },
    });
    expect(await task(create)).toBe('OK');
    const upid = await c.data('POST', '/nodes/pve/lxc/155/status/start');
    expect(await task(upid, 110_000)).toBe('WARNINGS: 1');
    const log = (await c.data('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`)) as Array<{ t: string }>;
    expect(log.map((l) => l.t)).toEqual(expect.arrayContaining([expect.stringMatching(/^WARN: DHCP failed - command '.*dhclient -1 -4 .* eth0' failed: exit code \d+$/)]));
    expect((await c.data('GET', '/nodes/pve/lxc/155/status/current')).status).toBe('running');
    const eth0 = (await c.data('GET', '/nodes/pve/lxc/155/interfaces')).find((i: { name: string }) => i.name === 'eth0');
    expect(eth0.inet).toBeUndefined();
    expect(await task(await c.data('POST', '/nodes/pve/lxc/155/status/stop'))).toBe('OK');
    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/155'))).toBe('OK');
  }, 180_000);

  test('a running CT\'s NIC changed through the API moves on the real container (update_net, update_ipconfig), to another bridge too', async () => {
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '156', ostemplate: 'local:vztmpl/app.tar', rootfs: 'local-lvm:1', hostname: 'hot', net0: 'name=eth0,bridge=vmbr0,ip=192.168.100.60/24,gw=192.168.100.1' },
    });
    expect(await task(create)).toBe('OK');
    expect(await task(await c.data('POST', '/nodes/pve/lxc/156/status/start'))).toBe('OK');
    expect(await curl('http://192.168.100.60:8080/')).toContain('hostname=hot');
    const eth0 = async () => (await c.data('GET', '/nodes/pve/lxc/156/interfaces')).find((i: { name: string }) => i.name === 'eth0');
    const net0 = async () => String((await c.data('GET', '/nodes/pve/lxc/156/config')).net0);
    const put = async (form: Record<string, string>) => {
      const r = await c.call('PUT', '/nodes/pve/lxc/156/config', { form });
      expect({ status: r.status, body: r.status === 200 ? undefined : r.text }).toEqual({ status: 200, body: undefined });
    };
    const answers = async (ip: string) => (await inNode('curl', ['-sf', '-m', '2', `http://${ip}:8080/`])).exitCode === 0;

    // Another address: added inside the CT, the old one removed; the process answers at the new one only.
    const mac = /hwaddr=([0-9A-F:]+)/i.exec(await net0())![1]!;
    await put({ net0: `name=eth0,bridge=vmbr0,hwaddr=${mac},ip=192.168.100.61/24,gw=192.168.100.1,host-managed=1` });
    expect((await eth0()).inet).toBe('192.168.100.61/24');
    expect(await curl('http://192.168.100.61:8080/')).toContain('hostname=hot');
    expect(await answers('192.168.100.60')).toBe(false);
    expect(await net0()).toContain('ip=192.168.100.61/24');
    // The default route moved with the gateway (ip route inside the CT).
    const routes = async () => String((await execa('nsenter', ['-t', String((await c.data('GET', '/nodes/pve/lxc/156/status/current')).pid), '--net', '--', 'ip', '-4', 'route'])).stdout);
    expect(await routes()).toMatch(/^default via 192\.168\.100\.1 dev eth0/m);
    await put({ net0: `name=eth0,bridge=vmbr0,hwaddr=${mac},ip=192.168.100.61/24,gw=192.168.100.2,host-managed=1` });
    expect(await routes()).toMatch(/^default via 192\.168\.100\.2 dev eth0/m);

    // Another MAC: the NIC is re-created (veth_delete, hotplug_net) with it, and its address comes back.
    const newMac = 'BC:24:11:00:15:60';
    await put({ net0: `name=eth0,bridge=vmbr0,hwaddr=${newMac},ip=192.168.100.61/24,gw=192.168.100.1,host-managed=1` });
    expect(String((await eth0()).hwaddr).toUpperCase()).toBe(newMac);
    expect((await eth0()).inet).toBe('192.168.100.61/24');
    expect(await curl('http://192.168.100.61:8080/')).toContain('hostname=hot');

    // Another bridge: the veth leaves vmbr0 for vmbr1 (tap_unplug, tap_plug) and the address moves to vmbr1's subnet.
    await c.data('POST', '/nodes/pve/network', { form: { iface: 'vmbr1', type: 'bridge', cidr: '192.168.101.1/24', autostart: '1' } });
    expect(await task(await c.data('PUT', '/nodes/pve/network'))).toBe('OK');
    const masterOf = async (dev: string) => (JSON.parse((await inNode('ip', ['-j', 'link', 'show', dev])).stdout || '[{}]') as Array<{ master?: string }>)[0]?.master;
    expect(await masterOf('veth156i0')).toBe('vmbr0');
    await put({ net0: `name=eth0,bridge=vmbr1,hwaddr=${newMac},ip=192.168.101.61/24,gw=192.168.101.1,host-managed=1` });
    expect(await masterOf('veth156i0')).toBe('vmbr1');
    expect((await eth0()).inet).toBe('192.168.101.61/24');
    expect(await curl('http://192.168.101.61:8080/')).toContain('hostname=hot');
    expect(await answers('192.168.100.61')).toBe(false);
    expect(await routes()).toMatch(/^default via 192\.168\.101\.1 dev eth0/m);
    // And back, so the rest runs on vmbr0; vmbr1 is removed once no port is left on it.
    await put({ net0: `name=eth0,bridge=vmbr0,hwaddr=${newMac},ip=192.168.100.61/24,gw=192.168.100.1,host-managed=1` });
    expect(await masterOf('veth156i0')).toBe('vmbr0');
    expect(await curl('http://192.168.100.61:8080/')).toContain('hostname=hot');
    await c.data('DELETE', '/nodes/pve/network/vmbr1');
    expect(await task(await c.data('PUT', '/nodes/pve/network'))).toBe('OK');

    // A second NIC added, then removed, while it runs.
    await put({ net1: 'name=eth1,bridge=vmbr0,ip=192.168.100.62/24,host-managed=1' });
    expect((await c.data('GET', '/nodes/pve/lxc/156/interfaces')).find((i: { name: string }) => i.name === 'eth1').inet).toBe('192.168.100.62/24');
    await put({ delete: 'net1' });
    expect((await c.data('GET', '/nodes/pve/lxc/156/interfaces')).some((i: { name: string }) => i.name === 'eth1')).toBe(false);
    expect((await inNode('ip', ['link', 'show', 'veth156i1'])).exitCode).not.toBe(0);

    expect(await task(await c.data('POST', '/nodes/pve/lxc/156/status/stop'))).toBe('OK');
    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/156'))).toBe('OK');
  });

  test('lxc.init.groups reaches the init of a privileged CT only: LXC sets init groups only without a user namespace', async () => {
    // The control for the unprivileged case above (groups=1000 only): same image, same lxc.init.groups, no id map.
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '154', ostemplate: 'local:vztmpl/app.tar', rootfs: 'local-lvm:1', unprivileged: '0', net0: 'name=eth0,bridge=vmbr0,ip=192.168.100.54/24' },
    });
    expect(await task(create)).toBe('OK');
    expect((await c.data('GET', '/nodes/pve/lxc/154/config')).lxc).toContainEqual(['lxc.init.groups', '1500']);
    expect(await task(await c.data('POST', '/nodes/pve/lxc/154/status/start'))).toBe('OK');
    const body = await curl('http://192.168.100.54:8080/');
    expect(body).toContain('uid=1000');
    expect(body).toMatch(/^groups=1000 1500$/m);
    expect(await task(await c.data('POST', '/nodes/pve/lxc/154/status/stop'))).toBe('OK');
    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/154'))).toBe('OK');
  });

  test('a NIC on a bridge the node lacks fails the start as PVE does, and nothing runs', async () => {
    const create = await c.data('POST', '/nodes/pve/lxc', {
      form: { vmid: '152', ostemplate: 'local:vztmpl/app.tar', rootfs: 'local-lvm:1', net0: 'name=eth0,bridge=vmbr99,ip=192.168.100.52/24' },
    });
    expect(await task(create)).toBe('OK');
    // PVE's vm_start reports the failed start; the missing bridge is in the task log (lxcnetaddbr / update_lxc_config).
    expect(await task(await c.data('POST', '/nodes/pve/lxc/152/status/start'))).toBe("startup for container '152' failed");
    expect((await c.data('GET', '/nodes/pve/lxc/152/status/current')).status).toBe('stopped');
    expect(await task(await c.data('DELETE', '/nodes/pve/lxc/152'))).toBe('OK');
  });
});

describe('emulator --runtime lxc without root', () => {
  test('fails fast with a message naming the reason', async () => {
    // The module is loaded as root, then the process becomes nobody: the checkout may sit in a directory only root can
    // read (a fresh clone in a mktemp dir), and what is tested is the check at start, not file permissions.
    const script = `const emu = require(${JSON.stringify(path.join(__dirname, '..', '..', 'emulator'))}); process.setgroups([]); process.setgid(65534); process.setuid(65534); emu.startEmulator({ runtime: 'lxc' }).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })`;
    const r = await execa(process.execPath, ['-e', script], { reject: false });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/runtime.*needs root/);
  });
});

describe('proxmox-pods emulator --runtime', () => {
  test('parses memory|lxc and refuses anything else', () => {
    const { parseEmulatorArgs } = require('../../cli/emulator-command') as typeof import('../../cli/emulator-command');
    expect(parseEmulatorArgs(['--runtime', 'lxc']).runtime).toBe('lxc');
    expect(parseEmulatorArgs(['--runtime=memory']).runtime).toBe('memory');
    expect(() => parseEmulatorArgs(['--runtime', 'docker'])).toThrow(/--runtime: expects memory or lxc, got 'docker'/);
  });

  (canRun ? test : test.skip)('prints a hosts line naming each node\'s namespace; SIGTERM removes them', async () => {
    const modulePath = path.join(__dirname, '..', '..', 'cli', 'emulator-command.js');
    const script = `require(${JSON.stringify(modulePath)}).runEmulatorCommand(process.argv.slice(1)).catch((e) => { console.error(e.message); process.exitCode = 1; });`;
    const child = execa(process.execPath, ['-e', script, '--', '--port', '0', '--http-port', 'off', '--nodes', '2', '--runtime', 'lxc'], { reject: false });
    let out = '';
    const hosts = await new Promise<Record<string, { netns: string }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no hosts line: ${out}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^hosts: (\{.*\})$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]!));
        }
      });
    });
    expect(Object.keys(hosts)).toEqual(['pve1', 'pve2']);
    const list = (await execa('ip', ['netns', 'list'])).stdout;
    for (const h of Object.values(hosts)) expect(list).toContain(h.netns);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
    const after = (await execa('ip', ['netns', 'list'])).stdout;
    for (const h of Object.values(hosts)) expect(after).not.toContain(h.netns);
  });
});
