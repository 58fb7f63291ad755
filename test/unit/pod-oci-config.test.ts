// Parity with PVE 9.1's OCI create: what the pod keeps equal to restore_oci_archive's result, and the emulator's
// pure pieces of it (resolve_oci_user, the config mapping, update_lxc_config's rendering).
import { podInputsSchema } from '../../provider/resources/pod/schema';
import { managedConfig } from '../../provider/resources/pod/pve-config';
import { applyOciParity, hostManagedFor, isApplicationImage } from '../../provider/resources/pod/oci-config';
import { applyOciConfig, cmd2string, readOciImage, resolveOciUser } from '../../emulator/runtime/oci-archive';
import { buildImage, buildIndex, makeTar } from '../../provider/oci/layout/writer';
import { renderLxcConfig, splitCommand, StartError, type HostFacts } from '../../emulator/runtime/lxc-config';

const app = { template: 'local:vztmpl/oci-1.tar', entrypoint: ['/app/serve'], cmd: ['--port', '80'], env: { A: 'image' } };
const sys = { template: 'local:vztmpl/oci-2.tar', entrypoint: ['/sbin/init'] };
const pod = (over: Record<string, unknown>) => podInputsSchema.parse({ name: 'web', image: app, network: { bridge: 'vmbr1', ip: '10.0.0.5/24', gateway: '10.0.0.1' }, ...over });

describe('pod config parity (provider/resources/pod/oci-config.ts)', () => {
  test('application images: host-managed NIC and console mode by default, as restore_oci_archive sets them', () => {
    expect(isApplicationImage(app)).toBe(true);
    const cfg = managedConfig(pod({}));
    expect(cfg.net0).toMatch(/host-managed=1/);
    expect(cfg.cmode).toBe('console');
    expect(cfg.entrypoint).toBe('/app/serve --port 80');
  });

  test('network.hostManaged: false leaves addressing to the container, and is kept in the config', () => {
    const cfg = managedConfig(pod({ network: { bridge: 'vmbr1', ip: 'dhcp', hostManaged: false } }));
    expect(cfg.net0).toMatch(/host-managed=0/);
    expect(hostManagedFor({ image: app, network: { bridge: 'vmbr1', ip: 'dhcp', hostManaged: false } })).toBe(false);
  });

  test('/sbin/init images and plain templates keep system-container behaviour', () => {
    expect(isApplicationImage(sys)).toBe(false);
    const cfg = managedConfig(pod({ image: sys }));
    expect(cfg.entrypoint).toBeUndefined();
    expect(cfg.cmode).toBeUndefined();
    expect(cfg.net0).not.toMatch(/host-managed/);
    const tpl = managedConfig(pod({ image: 'local:vztmpl/debian-12.tar.zst' }));
    expect(tpl.cmode).toBeUndefined();
    expect(tpl.net0).not.toMatch(/host-managed/);
    // An explicit override still wins on a system image.
    expect(applyOciParity({ entrypoint: '/bin/sh' }, { image: sys, entrypoint: ['/bin/sh'] }).entrypoint).toBe('/bin/sh');
  });

  test('env merges the pod over the image; entrypoint override replaces Entrypoint+Cmd', () => {
    const cfg = managedConfig(pod({ env: { B: 'pod', A: 'pod' }, entrypoint: ['/bin/other'] }));
    expect(String(cfg.env).split('\0').sort()).toEqual(['A=pod', 'B=pod']);
    expect(cfg.entrypoint).toBe('/bin/other');
  });
});

describe('restore_oci_archive mapping (emulator/runtime/oci-archive.ts)', () => {
  const passwd = 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n';
  const group = 'root:x:0:\napp:x:1001:\nweb:x:1500:app,other\nops:x:1600:app\n';

  test('resolve_oci_user: name, uid, user:group, numeric and unknown users', () => {
    expect(resolveOciUser('app', passwd, group)).toEqual({ uid: '1000', gid: '1001', groups: '1500,1600' });
    expect(resolveOciUser('1000', passwd, group)).toEqual({ uid: '1000', gid: '1001', groups: '1500,1600' });
    expect(resolveOciUser('app:web', passwd, group)).toEqual({ uid: '1000', gid: '1500' });
    expect(resolveOciUser('app:42', passwd, group)).toEqual({ uid: '1000', gid: '42' });
    expect(resolveOciUser('4242', passwd, group)).toEqual({ uid: '4242' });
    expect(resolveOciUser('ghost', passwd, group)).toEqual({ groups: '' });
    expect(() => resolveOciUser('a:b:c', passwd, group)).toThrow(/'User' has an invalid format/);
  });

  test('application image: entrypoint (cmd2string), console, host-managed on NICs that do not set it, lxc.init.*, halt signal', () => {
    const r = applyOciConfig(
      { net0: 'name=eth0,bridge=vmbr0,ip=dhcp', net1: 'name=eth1,bridge=vmbr0,host-managed=0' },
      { Entrypoint: ['/bin/sh', '-c'], Cmd: ["echo 'hi' there"], User: 'app', WorkingDir: '/srv', Env: ['A=1', 'B=2'], StopSignal: 'SIGINT', Volumes: { '/data': {} } },
      { passwd, group },
    );
    expect(r.conf.entrypoint).toBe(cmd2string(['/bin/sh', '-c', "echo 'hi' there"]));
    expect(splitCommand(String(r.conf.entrypoint))).toEqual(['/bin/sh', '-c', "echo 'hi' there"]);
    expect(r.conf.cmode).toBe('console');
    expect(r.conf.net0).toMatch(/host-managed=1/);
    expect(r.conf.net1).toMatch(/host-managed=0/);
    expect(r.conf.env).toBe('A=1\0B=2');
    expect(r.lxc).toEqual([['lxc.init.uid', '1000'], ['lxc.init.gid', '1001'], ['lxc.init.groups', '1500,1600'], ['lxc.init.cwd', '/srv'], ['lxc.signal.halt', 'SIGINT']]);
    expect(r.volumes).toEqual(['/data']);
  });

  test('/sbin/init images: no entrypoint, no console mode, NICs untouched; halt signal defaults to SIGTERM', () => {
    const r = applyOciConfig({ net0: 'name=eth0,bridge=vmbr0,ip=dhcp' }, { Entrypoint: ['/sbin/init'] }, {});
    expect(r.conf.entrypoint).toBeUndefined();
    expect(r.conf.cmode).toBeUndefined();
    expect(r.conf.net0).not.toMatch(/host-managed/);
    expect(r.lxc).toEqual([['lxc.signal.halt', 'SIGTERM']]);
  });

  test('control characters are refused as PVE refuses them', () => {
    expect(() => applyOciConfig({}, { Env: ['A=\x01'] }, {})).toThrow(/array-value for 'Env' contains forbidden control characters/);
    expect(() => applyOciConfig({}, { WorkingDir: '/x\x7f' }, {})).toThrow(/value for 'WorkingDir' contains forbidden/);
  });
});

describe('update_lxc_config rendering (emulator/runtime/lxc-config.ts)', () => {
  const host: HostFacts = {
    ctDir: '/l/101', rootfs: '/v/rootfs', cgroupPrefix: 'ppetest', bridgeMtu: new Map([['vmbr0', 1500]]), netUpScript: (i) => `/l/101/net${i}-up`,
    memsw: true, cpus: [0, 1], includes: { common: '/usr/share/lxc/config/common.conf', userns: '/usr/share/lxc/config/userns.conf' },
  };
  const conf = {
    arch: 'amd64', ostype: 'unmanaged', unprivileged: 1, hostname: 'web-0', memory: 128, swap: 64, cores: 1, rootfs: 'local-zfs:subvol-101-disk-0,size=1G',
    entrypoint: "/bin/sh -c 'exec httpd -f'", env: 'A=1\0B=two words',
    net0: 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.5/24,gw=10.0.0.1,host-managed=1',
    mp0: '/srv/data,mp=/data', mp1: 'local-zfs:subvol-101-disk-1,mp=/cache,ro=1',
  };

  test('the keys PVE writes, with LXC 5.0 / cgroup v1 adaptations', () => {
    const r = renderLxcConfig(101, conf, [['lxc.init.uid', '1000'], ['lxc.signal.halt', 'SIGUSR1']], host);
    const lines = r.text.split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      'lxc.cgroup.dir.container = ppetest/lxc/101', 'lxc.idmap = u 0 100000 65536', 'lxc.idmap = g 0 100000 65536', 'lxc.uts.name = web-0',
      `lxc.cgroup.memory.limit_in_bytes = ${128 * 1048576}`, `lxc.cgroup.memory.memsw.limit_in_bytes = ${192 * 1048576}`,
      'lxc.net.0.veth.pair = veth101i0', 'lxc.net.0.hwaddr = BC:24:11:00:00:01', 'lxc.net.0.mtu = 1500', 'lxc.net.0.script.up = /l/101/net0-up',
      'lxc.net.0.ipv4.address = 10.0.0.5/24', 'lxc.net.0.ipv4.gateway = 10.0.0.1', 'lxc.net.0.flags = up',
      'lxc.environment = A=1', 'lxc.environment = B=two words', 'lxc.init.uid = 1000', 'lxc.signal.halt = SIGUSR1', 'lxc.cgroup.cpuset.cpus = 0',
      'lxc.mount.entry = shm dev/shm tmpfs rw,nosuid,nodev,create=dir 0 0',
    ]));
    expect(r.text).not.toMatch(/lxc\.environment\.runtime|lxc\.cgroup2\.memory|lxc\.init\.cmd/);
    expect(r.text).not.toMatch(/\/srv\/data|subvol-101-disk-1/); // mount points are mounted before the start, as PVE does
    expect(r.initArgv).toEqual(['/bin/sh', '-c', 'exec httpd -f']);
  });

  test('addresses only for host-managed NICs; a missing bridge or a too-big MTU fails the start', () => {
    expect(renderLxcConfig(101, { ...conf, net0: 'name=eth0,bridge=vmbr0,ip=10.0.0.5/24' }, [], host).text).not.toMatch(/ipv4\.address/);
    expect(() => renderLxcConfig(101, { ...conf, net0: 'name=eth0,bridge=vmbr9,ip=dhcp' }, [], host)).toThrow(new StartError("bridge 'vmbr9' does not exist"));
    expect(() => renderLxcConfig(101, { ...conf, net0: 'name=eth0,bridge=vmbr0,mtu=9000' }, [], host)).toThrow(/net0: MTU size '9000' is bigger than bridge MTU '1500'/);
  });
});

describe('reading an uploaded OCI archive (emulator/runtime/oci-archive.ts readOciImage)', () => {
  const membersOf = async (mutateManifest?: (m: Record<string, unknown>) => Record<string, unknown>) => {
    const img = buildImage({ layers: [{ tar: await makeTar([{ name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' }]) }], runtime: { User: 'root' }, mutateManifest });
    const index = buildIndex([img]);
    const members = new Map<string, Buffer>([['index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: index.root.mediaType, digest: index.root.digest, size: index.root.bytes.length }] }))]]);
    for (const [digest, bytes] of [...img.blobs, [img.root.digest, img.root.bytes] as const, [index.root.digest, index.root.bytes] as const]) members.set(`blobs/sha256/${digest.slice(7)}`, bytes);
    return { img, members };
  };

  test('follows index.json through a nested index to the linux/amd64 image', async () => {
    const { img, members } = await membersOf();
    const read = readOciImage(members);
    expect(read.diffIds).toEqual([img.layers[0]!.diffId]);
    expect(read.layers.map((l) => l.digest)).toEqual([img.layers[0]!.digest]);
    expect(read.config).toEqual({ User: 'root' });
  });

  test('a manifest that breaks the image-spec is refused, naming the field', async () => {
    const { members } = await membersOf((m) => ({ ...m, layers: [{ mediaType: 'x', digest: 'md5:abc', size: 1 }] }));
    expect(() => readOciImage(members)).toThrow(/not a valid OCI document: layers\.0\.digest/);
  });
});
