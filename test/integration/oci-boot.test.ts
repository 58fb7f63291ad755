// An image built from Debian's busybox-static (our writer, two layers, usr-merged symlinks), pushed to docker-registry
// on loopback, pulled and unpacked by our code, booted as a real LXC container (lxc-start, dir rootfs, veth on a
// bridge inside a network namespace this test creates) and answering HTTP from a client namespace.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { ContentStore, pullImage } from '../../provider/oci';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar } from '../../provider/oci/layout/writer';
import { unpackImage } from '../../provider/oci/unpack';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';

jest.setTimeout(120_000);

const BUSYBOX = '/bin/busybox';
const ready = requireTools('OCI boot test', ['docker-registry', 'lxc-start', 'lxc-stop', 'ip']);
if (ready && process.getuid?.() !== 0) {
  const msg = 'OCI boot test: needs root (network namespaces, lxc-start)';
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(msg);
  console.warn(`SKIPPED ${msg}`);
}
const d = ready && process.getuid?.() === 0 ? describe : describe.skip;

const ip = (...args: string[]) => execa('ip', args);
const inNs = (ns: string, cmd: string, args: string[], opts: { timeout?: number; reject?: boolean } = {}) => execa('ip', ['netns', 'exec', ns, cmd, ...args], opts);

d('an unpacked image boots as an LXC container and serves HTTP', () => {
  const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const hostNs = `ppb-h-${id}`;
  const clientNs = `ppb-c-${id}`;
  const name = `ppboot-${id}`;
  let reg: RunningRegistry;
  let dir: string;
  let lxcPath: string;
  let started = false;

  beforeAll(async () => {
    // busybox-static gives a self-contained binary; the suite needs it like any other tool.
    try {
      await fs.access(BUSYBOX);
      const { stdout } = await execa('file', ['-L', BUSYBOX], { reject: false });
      if (stdout && !/statically linked|static-pie/.test(stdout)) throw new Error(`${BUSYBOX} is not static`);
    } catch (err) {
      throw new Error(`OCI boot test needs busybox-static (apt-get install -y busybox-static): ${(err as Error).message}`, { cause: err });
    }
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-boot-'));
    lxcPath = join(dir, 'lxc');
    await fs.mkdir(lxcPath);
    reg = await startRegistry();
    await ip('netns', 'add', hostNs);
    await ip('netns', 'add', clientNs);
    await inNs(hostNs, 'ip', ['link', 'set', 'lo', 'up']);
    await inNs(hostNs, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await inNs(hostNs, 'ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
    await inNs(hostNs, 'ip', ['link', 'set', 'br0', 'up']);
    // The client namespace hangs off the same bridge, like another host on the pod network.
    await inNs(hostNs, 'ip', ['link', 'add', 'cli0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', clientNs]);
    await inNs(hostNs, 'ip', ['link', 'set', 'cli0', 'master', 'br0', 'up']);
    await inNs(clientNs, 'ip', ['link', 'set', 'lo', 'up']);
    await inNs(clientNs, 'ip', ['addr', 'add', '10.77.0.3/24', 'dev', 'eth0']);
    await inNs(clientNs, 'ip', ['link', 'set', 'eth0', 'up']);
  });

  afterAll(async () => {
    if (started) await inNs(hostNs, 'lxc-stop', ['-n', name, '-P', lxcPath, '-k'], { reject: false, timeout: 20_000 });
    await ip('netns', 'del', clientNs).catch(() => undefined);
    await ip('netns', 'del', hostNs).catch(() => undefined);
    await reg?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('pull → unpack → lxc-start → GET /index.html', async () => {
    const busybox = await fs.readFile(BUSYBOX);
    // usr-merged like real distributions: /bin is a symlink into /usr, so the unpacker must resolve through it.
    const base = await makeTar([
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/', type: 'directory' },
      { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
      { name: 'bin/busybox', content: busybox, mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/httpd', type: 'link', linkname: 'usr/bin/busybox' },
      { name: 'proc/', type: 'directory' }, { name: 'sys/', type: 'directory' }, { name: 'dev/', type: 'directory' },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
    ]);
    const site = await makeTar([{ name: 'www/', type: 'directory' }, { name: 'www/index.html', content: `<p>booted ${id}</p>\n` }]);
    const image = buildImage({
      layers: [{ tar: base, compression: 'gzip' }, { tar: site, compression: 'zstd' }],
      runtime: { Entrypoint: ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], Env: ['PATH=/bin'] },
    });
    const client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    try { await pushImage(client, 'boot/httpd', 'v1', image); } finally { await client.close(); }

    const store = await ContentStore.open(join(dir, 'store'));
    const pulled = await pullImage(`${reg.host}/boot/httpd:v1`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    const rootfs = join(dir, 'rootfs');
    // Privileged test container: ownership as in the image, no uid shift.
    await unpackImage({ target: rootfs, idmap: null, layers: pulled.layers.map((l) => ({ path: store.blobPath(l.digest), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId })) });
    expect((await fs.lstat(join(rootfs, 'bin'))).isSymbolicLink()).toBe(true);
    expect((await fs.stat(join(rootfs, 'usr', 'bin', 'busybox'))).nlink).toBe(2);

    const argv = [...pulled.config.entrypoint, ...pulled.config.cmd];
    const config = join(dir, 'config');
    await fs.writeFile(config, [
      `lxc.uts.name = ${name}`,
      `lxc.rootfs.path = dir:${rootfs}`,
      `lxc.init.cmd = ${argv.join(' ')}`,
      ...pulled.config.env.map((e) => `lxc.environment = ${e}`),
      'lxc.net.0.type = veth',
      'lxc.net.0.link = br0',
      'lxc.net.0.flags = up',
      'lxc.net.0.ipv4.address = 10.77.0.2/24',
      'lxc.mount.auto = proc:mixed sys:mixed',
      'lxc.autodev = 1',
      'lxc.apparmor.profile = unconfined',
      '',
    ].join('\n'));
    const start = await inNs(hostNs, 'lxc-start', ['-n', name, '-P', lxcPath, '-f', config, '-d', '-l', 'INFO', '-o', join(dir, 'lxc.log')], { reject: false, timeout: 30_000 });
    started = start.exitCode === 0;
    if (!started) throw new Error(`lxc-start failed (${start.exitCode}): ${start.stderr}\n${await fs.readFile(join(dir, 'lxc.log'), 'utf8').catch(() => '')}`);

    let body = '';
    let lastError = '';
    for (let i = 0; i < 50 && !body.includes('booted'); i++) {
      const r = await inNs(clientNs, BUSYBOX, ['wget', '-O', '-', 'http://10.77.0.2:8080/index.html'], { reject: false, timeout: 5000 });
      body = r.stdout;
      lastError = `exit ${r.exitCode}: ${r.stderr}`;
      if (!body.includes('booted')) await sleep(100);
    }
    if (!body.includes('booted')) {
      const info = await inNs(hostNs, 'lxc-info', ['-n', name, '-P', lxcPath], { reject: false });
      const log = await fs.readFile(join(dir, 'lxc.log'), 'utf8').catch(() => '');
      throw new Error(`no answer from the container: ${lastError}\n${info.stdout}${info.stderr}\n${log.split('\n').slice(-15).join('\n')}`);
    }
    expect(body).toBe(`<p>booted ${id}</p>`);
    const state = await inNs(hostNs, 'lxc-info', ['-n', name, '-P', lxcPath, '-s'], { reject: false });
    expect(state.stdout).toMatch(/RUNNING/);
  });
});
