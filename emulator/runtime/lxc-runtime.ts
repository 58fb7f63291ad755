// The `lxc` runtime backend: every emulated node a network namespace, every CT a real unprivileged LXC container
// started inside it. Each step names the pve-container function it follows; where LXC 5.0.2 on this cgroup v1 host
// needs something else, the comment says so (see /work/shared/reference/lxc-runtime.md and emulator/README.md).
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { execa } from 'execa';
import { applyLayer, ApplyOptionsSchema, PVE_UNPRIVILEGED_IDMAP } from '../../provider/oci/unpack';
import type { ConfigValues, Container, Iface, StorageDef } from '../cluster';
import type { HostBackend } from '../core';
import { parseKey } from '../lxc-config';
import { zfsVolumeBackend } from '../zfs-volumes';
import { renderLxcConfig, StartError } from './lxc-config';
import { dhclientArgv, killDhclients, managedDhcpNics, prepareHookDir, type DhcpNic } from './dhclient';
import { unplugNet, updateNet, type NetEffects, type NetValues } from './net-hotplug';
import { NodeNamespaces } from './node-netns';
import type { LxcEntries, OciArchiveImage } from './oci-archive';

export interface LxcRuntimeOptions {
  /** Where LXC configs and directory volumes live; default a fresh directory under /var/tmp, removed on close. */
  stateDir?: string;
  /** zfspool disks become real datasets (zfsVolumeBackend) when set; otherwise every disk is a directory. */
  zfs?: boolean;
}

export class RuntimeUnavailableError extends Error {}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Fails fast, with the reason, where containers cannot run: not root, no LXC, no namespaces. */
export async function checkLxcHost(): Promise<void> {
  if (process.getuid?.() !== 0) throw new RuntimeUnavailableError('the lxc runtime needs root (network namespaces, lxc-start, id-mapped rootfs); run as root or use the in-memory emulator (no --runtime)');
  for (const tool of ['lxc-start', 'lxc-stop', 'lxc-info', 'lxc-usernsexec', 'nsenter', 'ip', 'tar']) {
    const r = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false });
    if (r.exitCode !== 0) throw new RuntimeUnavailableError(`the lxc runtime needs ${tool}; install the Debian packages in scripts/apt-packages.txt (lxc, iproute2, util-linux, tar)`);
  }
  const v = await execa('lxc-start', ['--version'], { reject: false });
  if (v.exitCode !== 0) throw new RuntimeUnavailableError(`lxc-start does not run: ${v.stderr}`);
}

/** The hook each NIC's veth runs on start: PVE's lxcnetaddbr attaches it to the CT's bridge the same way. */
function netUpScript(bridge: string): string {
  if (!/^[-_.\w]+$/.test(bridge)) throw new StartError(`bridge '${bridge}' is not a valid bridge name`);
  return `#!/bin/sh\n# LXC calls: <ct> net up veth <host-side veth>\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\nexec ip link set dev "$5" master '${bridge}' up\n`;
}

/** PVE::LXC::Create tar_compression_option. */
function tarCompression(file: string): string[] {
  const m = /\.tar(\.[^.]+)?$/.exec(file);
  if (!m) throw new Error(`file does not look like a template archive: ${file}`);
  if (!m[1]) return [];
  const opt = { '.gz': '-z', '.bz2': '-j', '.xz': '-J', '.lzo': '--lzop', '.zst': '--zstd' }[m[1]];
  if (!opt) throw new Error(`unrecognized compression format: ${m[1]}`);
  return [opt];
}

export class LxcRuntime {
  readonly nodes: NodeNamespaces;
  /** Cgroup prefix and namespace prefix: random per emulator so two emulators (or a test and a user) never collide. */
  readonly id = `ppe${randomBytes(3).toString('hex')}`;
  private stateDir = '';
  private ownsStateDir = false;
  private readonly zfs;

  private constructor(private readonly opts: LxcRuntimeOptions) {
    this.nodes = new NodeNamespaces(this.id);
    this.zfs = opts.zfs ? zfsVolumeBackend() : undefined;
  }

  /** The caller has run checkLxcHost (startEmulator does, before it makes anything). */
  static async start(nodes: ReadonlyArray<{ name: string; network: readonly Iface[] }>, opts: LxcRuntimeOptions = {}): Promise<LxcRuntime> {
    const rt = new LxcRuntime(opts);
    try {
      if (opts.stateDir) {
        rt.stateDir = opts.stateDir;
        await fs.mkdir(rt.stateDir, { recursive: true });
      } else {
        rt.stateDir = await fs.mkdtemp(path.join(process.env.TMPDIR ?? (tmpdir() === '/tmp' ? '/var/tmp' : tmpdir()), 'proxmox-pods-emu-'));
        rt.ownsStateDir = true;
      }
      // The mapped root (uid 100000) must traverse to its rootfs.
      await fs.chmod(rt.stateDir, 0o755);
      await fs.mkdir(rt.lxcPath, { recursive: true, mode: 0o755 });
      for (const n of nodes) await rt.nodes.create(n.name, n.network);
    } catch (err) {
      await rt.close().catch(() => undefined); // the start error is the one to report
      throw err;
    }
    return rt;
  }

  get lxcPath(): string {
    return path.join(this.stateDir, 'lxc');
  }

  private ctDir(vmid: number): string {
    return path.join(this.lxcPath, String(vmid));
  }

  hosts(): Record<string, { netns: string }> {
    return this.nodes.hosts();
  }

  // ---- volumes ----

  private dirOf(node: string, volid: string): string {
    const [sid, name] = [volid.slice(0, volid.indexOf(':')), volid.slice(volid.indexOf(':') + 1)];
    if (!/^[-\w.]+$/.test(sid) || name.split('/').some((p) => !p || p === '..' || p === '.')) throw new Error(`volume '${volid}' has an unexpected name`);
    return path.join(this.stateDir, 'volumes', node, sid, name);
  }

  /** The host directory of a CT volume: a zfspool subvol's mountpoint, or a directory of ours. */
  async volumePath(node: string, storage: StorageDef | undefined, volid: string): Promise<string> {
    const name = volid.slice(volid.indexOf(':') + 1);
    if (this.zfs && storage?.type === 'zfspool' && storage.pool) {
      const r = await execa('zfs', ['get', '-H', '-o', 'value', 'mountpoint', `${storage.pool}/${name}`]);
      return r.stdout.trim();
    }
    return this.dirOf(node, volid);
  }

  hostBackend(): Required<Pick<HostBackend, 'applyNetwork' | 'allocateVolume' | 'freeVolume'>> {
    return {
      applyNetwork: (node, before, after) => this.nodes.apply(node, before, after),
      allocateVolume: async (node, storage, volid, bytes) => {
        if (this.zfs && storage.type === 'zfspool') return this.zfs.allocateVolume(node, storage, volid, bytes);
        await fs.mkdir(this.dirOf(node, volid), { recursive: true, mode: 0o755 });
      },
      freeVolume: async (node, storage, volid) => {
        if (this.zfs && storage.type === 'zfspool') return this.zfs.freeVolume(node, storage, volid);
        await fs.rm(this.dirOf(node, volid), { recursive: true, force: true });
      },
    };
  }

  // ---- create ----

  /** Create.pm `restore_tar_archive`: `tar xpf` with PVE's flags under the CT's id map (lxc-usernsexec). */
  async extractTar(rootfs: string, archive: { filename: string; data: Buffer }, unprivileged: boolean): Promise<string> {
    if (unprivileged) await fs.chown(rootfs, 100000, 100000);
    const userns = unprivileged ? ['lxc-usernsexec', '-m', 'u:0:100000:65536', '-m', 'g:0:100000:65536', '--'] : [];
    const args = [
      'xpf', '-', ...tarCompression(archive.filename), '--totals',
      // pve-storage Plugin.pm COMMON_TAR_FLAGS
      '--one-file-system', '-p', '--sparse', '--numeric-owner', '--acls', '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.capability',
      '-C', rootfs, '--skip-old-files', '--anchored', '--exclude', './dev/*',
    ];
    const [cmd, ...rest] = [...userns, 'tar', ...args];
    const r = await execa(cmd!, rest, { input: archive.data, reject: false });
    if (r.exitCode !== 0) throw new Error(`command '${[cmd, ...rest].join(' ')}' failed: exit code ${r.exitCode}: ${r.stderr.trim()}`);
    return r.stderr.trim(); // "Total bytes read: …"
  }

  /**
   * Create.pm `restore_oci_archive` → PVE::RS::OCI::parse_and_extract_image, run in the CT's user namespace. Here
   * the project's unpacker applies the (digest-checked) layers with the same id shift; then /etc/passwd and /etc/group
   * are read from the result as `resolve_oci_user` does (symlinks resolved inside the rootfs only).
   */
  async extractOci(rootfs: string, image: OciArchiveImage, unprivileged: boolean): Promise<{ passwd?: string; group?: string }> {
    if (unprivileged) await fs.chown(rootfs, 100000, 100000);
    const opts = ApplyOptionsSchema.parse({ idmap: unprivileged ? PVE_UNPRIVILEGED_IDMAP : null });
    for (const [i, l] of image.layers.entries()) {
      await applyLayer(rootfs, { stream: Readable.from([l.bytes]), mediaType: l.mediaType, digest: l.digest, diffId: image.diffIds[i]!, compressedSize: l.size }, opts);
    }
    return { passwd: await readInRoot(rootfs, 'etc/passwd'), group: await readInRoot(rootfs, 'etc/group') };
  }

  /** restore_oci_archive's Volumes: best-effort directories, owned by the CT's root. */
  async makeVolumeDirs(rootfs: string, dirs: readonly string[], unprivileged: boolean): Promise<void> {
    for (const d of dirs) {
      const rel = path.normalize(`/${d}`).slice(1);
      if (!rel) continue;
      let cur = rootfs;
      for (const part of rel.split('/')) {
        cur = path.join(cur, part);
        const st = await fs.lstat(cur).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
        if (st?.isSymbolicLink()) return; // never follow a link out of the rootfs (PVE chroots for the same reason)
        if (!st) {
          await fs.mkdir(cur, { mode: 0o755 });
          if (unprivileged) await fs.chown(cur, 100000, 100000);
        }
      }
    }
  }

  // ---- start / stop ----

  private async run(node: string, cmd: string, args: string[], opts: { timeout?: number; reject?: boolean } = {}) {
    return this.nodes.run(node, cmd, args, opts);
  }

  private async hostFacts(node: string, ct: Container, rootfs: string) {
    const memsw = await fs.access(path.join(CGROUP_ROOT, 'memory', 'memory.memsw.limit_in_bytes')).then(() => true, () => false);
    const cpusText = await fs.readFile(path.join(CGROUP_ROOT, 'cpuset', 'cpuset.cpus'), 'utf8').catch(() => '');
    const cpus = cpusText.trim().split(',').filter(Boolean).flatMap((r) => {
      const [a, b] = r.split('-').map(Number);
      return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
    });
    const userns = '/usr/share/lxc/config/userns.conf';
    return {
      ctDir: this.ctDir(ct.vmid), rootfs, cgroupPrefix: this.id, bridgeMtu: await this.nodes.bridgeMtus(node),
      netUpScript: (i: number) => path.join(this.ctDir(ct.vmid), `net${i}-up`), memsw, cpus,
      includes: { common: '/usr/share/lxc/config/common.conf', ...(await fs.access(userns).then(() => ({ userns }), () => ({}))) },
    };
  }

  /**
   * The pre-start hook's `mount_all` / `mountpoint_mount`: the rootfs volume bind-mounted at <ct dir>/rootfs (so the
   * CT's root needs no access to where the volume lives, as on PVE), then each mount point into it, shallowest first,
   * targets created inside the rootfs without following its symlinks.
   */
  private async mountAll(ct: Container, rootfs: string, volume: (v: string) => Promise<string>): Promise<string> {
    const mnt = path.join(this.ctDir(ct.vmid), 'rootfs');
    await this.umountAll(ct.vmid);
    await fs.mkdir(mnt, { recursive: true, mode: 0o755 });
    await execa('mount', ['--bind', rootfs, mnt]);
    try {
      const unprivileged = Number(ct.conf['unprivileged'] ?? 0) === 1;
      const mps = Object.keys(ct.conf).filter((k) => /^mp\d+$/.test(k)).map((k) => parseKey(k, String(ct.conf[k])));
      mps.sort((a, b) => String(a['mp']).split('/').length - String(b['mp']).split('/').length);
      for (const mp of mps) {
        const v = String(mp['volume']);
        const source = v.startsWith('/') ? v : await volume(v);
        const target = await mkdirInRoot(mnt, String(mp['mp'] ?? ''), unprivileged);
        await execa('mount', ['--bind', source, target]);
        if (Number(mp['ro'] ?? 0) === 1) await execa('mount', ['-o', 'remount,bind,ro', target]);
      }
    } catch (err) {
      await this.umountAll(ct.vmid);
      throw err;
    }
    return mnt;
  }

  /** The post-stop hook's `umount_all`. */
  async umountAll(vmid: number): Promise<void> {
    const mnt = path.join(this.ctDir(vmid), 'rootfs');
    // Not a mount point (never mounted, or unmounted already): nothing to undo.
    if ((await execa('mountpoint', ['-q', mnt], { reject: false })).exitCode !== 0) return;
    await execa('umount', ['-R', mnt]);
  }

  /**
   * LXC.pm `vm_start`: update_lxc_config, then lxc-start (pve-container@.service), inside the node's namespace, then
   * DHCP for host-managed NICs (dhclient.ts); `warn` gets what PVE only warns about (a failed DHCP).
   */
  async start(ct: Container, lxc: LxcEntries, rootfs: string, volume: (v: string) => Promise<string>, warn: (line: string) => void = () => undefined): Promise<number> {
    const dir = this.ctDir(ct.vmid);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const rendered = renderLxcConfig(ct.vmid, ct.conf, lxc, await this.hostFacts(ct.node, ct, path.join(dir, 'rootfs')));
    await this.mountAll(ct, rootfs, volume);
    for (const [i, bridge] of rendered.bridges) await fs.writeFile(path.join(dir, `net${i}-up`), netUpScript(bridge), { mode: 0o755 });
    await fs.writeFile(path.join(dir, 'config'), rendered.text);
    const log = path.join(dir, 'lxc.log');
    await fs.rm(log, { force: true });
    const args = ['-P', this.lxcPath, '-n', String(ct.vmid), '-d', '-o', log, '-l', 'WARN', ...(rendered.initArgv ? ['--', ...rendered.initArgv] : [])];
    const r = await this.run(ct.node, 'lxc-start', args, { reject: false, timeout: 60_000 });
    if (r.exitCode !== 0) {
      // The first errors name the cause; the last ones only say that the start failed.
      const tail = (await fs.readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => /ERROR/.test(l)).slice(0, 4).map((l) => l.replace(/^.*? ERROR\s+/, '')).join('\n');
      await this.cleanupCgroups(ct.vmid);
      await this.umountAll(ct.vmid);
      throw new Error(`startup for container '${ct.vmid}' failed${tail ? `\n${tail}` : ''}`);
    }
    const pid = await this.pid(ct);
    if (pid === undefined) {
      await this.umountAll(ct.vmid);
      const tail = (await fs.readFile(log, 'utf8').catch(() => '')).split('\n').slice(-5).join('\n');
      throw new Error(`startup for container '${ct.vmid}' failed: its init exited at once${tail ? `\n${tail}` : ''}`);
    }
    await this.startDhcp(ct, pid, warn);
    return pid;
  }

  /** vm_start's tail: `manage_dhclient('start', …)` for each host-managed DHCP NIC; a failure is a warning only. */
  private async startDhcp(ct: Container, pid: number, warn: (line: string) => void): Promise<void> {
    for (const nic of managedDhcpNics(ct.conf)) {
      const { cmd, exitCode } = await this.manageDhclient(ct, pid, 'start', nic);
      if (exitCode !== 0) warn(`DHCP failed - command '${cmd.join(' ')}' failed: exit code ${exitCode ?? 'none (timed out)'}`);
    }
  }

  /** `lxc-attach … -s <namespaces> -- <argv>` for this CT, as the node runs it. */
  private attachArgs(ct: Container, namespaces: string, argv: readonly string[]): string[] {
    return ['-P', this.lxcPath, '-n', String(ct.vmid), '-s', namespaces, '--', ...argv];
  }

  /** LXC.pm `manage_dhclient` for one NIC; the caller decides what a failure means (vm_start only warns). */
  private async manageDhclient(ct: Container, pid: number, action: 'start' | 'stop', nic: DhcpNic): Promise<{ cmd: string[]; exitCode: number | undefined }> {
    const dir = this.ctDir(ct.vmid);
    if (action === 'start') await prepareHookDir(dir);
    const cmd = ['lxc-attach', ...this.attachArgs(ct, 'NETWORK|UTSNAME', dhclientArgv(action, nic, dir, `/proc/${pid}/root`))];
    // dhclient -1 gives up after its own timeout (60 s in dhclient.conf's default); the margin is run_command's.
    const r = await this.run(ct.node, cmd[0]!, cmd.slice(1), { reject: false, timeout: 90_000 });
    return { cmd, exitCode: r.exitCode };
  }

  /** `lxc-info -p`: the init's pid in the host's pid namespace; undefined when the CT does not run. */
  async pid(ct: Container): Promise<number | undefined> {
    if (!(await fs.access(path.join(this.ctDir(ct.vmid), 'config')).then(() => true, () => false))) return undefined;
    const r = await this.run(ct.node, 'lxc-info', ['-P', this.lxcPath, '-n', String(ct.vmid), '-p', '-H'], { reject: false });
    const pid = Number(r.stdout.trim());
    return r.exitCode === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /**
   * LXC.pm `vm_stop`: `lxc-stop --kill` for stop; for shutdown `lxc-stop [--nokill] --timeout N`, which sends the
   * CT's lxc.signal.halt to its init and waits. Throws PVE's "container did not stop" when it still runs.
   */
  async stop(ct: Container, how: { kill: true } | { kill: false; timeoutS: number; killAfterTimeout: boolean }): Promise<void> {
    const args = ['-P', this.lxcPath, '-n', String(ct.vmid)];
    if (how.kill) args.push('--kill');
    else {
      if (!how.killAfterTimeout) args.push('--nokill');
      args.push('--timeout', String(how.timeoutS));
    }
    const timeout = how.kill ? 60_000 : (how.timeoutS + 5) * 1000;
    await this.run(ct.node, 'lxc-stop', args, { reject: false, timeout });
    if ((await this.pid(ct)) !== undefined) throw new Error('container did not stop');
    await this.stopCleanup(ct.vmid);
  }

  /**
   * LXC.pm `vm_stop_cleanup`: the CT's dhclients are killed (kill_dhclients); here also its cgroups and mounts (the
   * post-stop hook's umount_all). A dhclient lives outside the CT's pid namespace, so the init's end does not end it.
   */
  async stopCleanup(vmid: number): Promise<void> {
    await killDhclients(this.ctDir(vmid));
    await this.cleanupCgroups(vmid);
    await this.umountAll(vmid);
  }

  /**
   * A running CT's `netN` changed through the API (Config.pm vmconfig_hotplug_pending → LXC.pm update_net, or the
   * hot-unplug of a removed NIC): net-hotplug.ts follows PVE's steps over this container. `after` undefined: removed.
   * What PVE only warns about (a failed `ip` inside the CT) goes to pvedaemon's log there; here it is dropped with the
   * same effect: the call succeeds.
   */
  async updateNet(ct: Container, netid: number, before: NetValues | undefined, after: NetValues | undefined): Promise<void> {
    const node = ct.node;
    const fx: NetEffects = {
      hostIp: async (args) => void (await this.run(node, 'ip', args)),
      // PVE runs `lxc-device add <dev> <name>`. LXC 5.0's lxc-device first looks for the device in PID 1's network
      // namespace (lxc_device.c is_interface(dev, 1)), and here the node is a namespace of its own: the move is made
      // the way lxc-device makes it underneath, one netlink move into the init's namespace under the new name.
      addDevice: async (dev, name) => void (await this.run(node, 'ip', ['link', 'set', 'dev', dev, 'netns', String(await this.runningPid(ct)), 'name', name])),
      inCt: async (cmd, args) => String((await this.run(node, 'lxc-attach', this.attachArgs(ct, 'NETWORK', [cmd, ...args]))).stdout),
      // update_ipconfig calls manage_dhclient outside an eval: a failure is the hotplug's error.
      dhclient: async (action, version, eth) => {
        const { cmd, exitCode } = await this.manageDhclient(ct, await this.runningPid(ct), action, { version, eth });
        if (exitCode !== 0) throw new Error(`command '${cmd.join(' ')}' failed: exit code ${exitCode ?? 'none (timed out)'}`);
      },
      killDhclients: (eth) => killDhclients(this.ctDir(ct.vmid), eth),
      bridgeMtu: async (bridge) => (await this.nodes.bridgeMtus(node)).get(bridge),
      warn: () => undefined,
    };
    if (after === undefined) {
      if (before) await unplugNet(fx, ct.vmid, netid, before);
      return;
    }
    await updateNet(fx, ct.vmid, netid, before, after);
  }

  /** The init's pid of a CT that must be running (PVE's find_lxc_pid dies otherwise). */
  private async runningPid(ct: Container): Promise<number> {
    const pid = await this.pid(ct);
    if (pid === undefined) throw new Error(`CT ${ct.vmid} not running`);
    return pid;
  }

  /** LXC.pm `get_interfaces`: `ip --json a` in the CT's network namespace. */
  async interfaces(ct: Container): Promise<Array<Record<string, unknown>>> {
    const pid = await this.runningPid(ct);
    const r = await execa('nsenter', ['-t', String(pid), '--net', '--', 'ip', '--json', 'a']);
    const list = JSON.parse(r.stdout) as Array<{ ifname: string; address?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
    return list.map((i) => {
      const obj: Record<string, unknown> = { name: i.ifname };
      const ips: Array<Record<string, unknown>> = [];
      for (const a of i.addr_info ?? []) {
        obj[a.family] = `${a.local}/${a.prefixlen}`;
        ips.push({ 'ip-address-type': a.family, 'ip-address': a.local, prefix: a.prefixlen });
      }
      obj['ip-addresses'] = ips;
      obj['hardware-address'] = i.address;
      obj['hwaddr'] = i.address;
      return obj;
    });
  }

  /** LXC.pm `destroy_lxc_container` for what is ours: the LXC dir and the cgroups (volumes go through freeVolume). */
  async destroy(ct: Container): Promise<void> {
    if ((await this.pid(ct)) !== undefined) await this.stop(ct, { kill: true });
    await this.stopCleanup(ct.vmid);
    await fs.rm(this.ctDir(ct.vmid), { recursive: true, force: true });
  }

  /** LXC leaves empty cgroups (`lxc/<vmid>`, `lxc.monitor/<vmid>`, `lxc.pivot`) behind: remove the empty ones. */
  async cleanupCgroups(vmid?: number): Promise<void> {
    const controllers = await fs.readdir(CGROUP_ROOT).catch(() => [] as string[]);
    for (const c of controllers) {
      const base = path.join(CGROUP_ROOT, c, this.id);
      const roots = vmid === undefined ? [base] : [path.join(base, 'lxc', String(vmid)), path.join(base, 'lxc.monitor', String(vmid)), path.join(base, 'lxc.pivot')];
      for (const root of roots) await rmdirTree(root);
    }
  }

  private async stopAll(): Promise<void> {
    const entries = await fs.readdir(this.lxcPath).catch(() => [] as string[]);
    for (const name of entries) {
      for (const node of Object.keys(this.nodes.hosts())) {
        // A CT runs on one node: lxc-stop in the others' namespaces finds nothing, which is fine.
        await this.run(node, 'lxc-stop', ['-P', this.lxcPath, '-n', name, '--kill'], { reject: false, timeout: 30_000 });
      }
      if (/^\d+$/.test(name)) {
        await killDhclients(this.ctDir(Number(name)));
        await this.umountAll(Number(name));
      }
    }
  }

  async close(): Promise<void> {
    if (this.stateDir) await this.stopAll();
    await this.nodes.removeAll();
    await this.cleanupCgroups();
    if (this.ownsStateDir && this.stateDir) await fs.rm(this.stateDir, { recursive: true, force: true });
  }
}

/** `mkdir -p` of `rel` inside `root`, refusing to pass through a symlink (the rootfs is the CT's, not ours). */
async function mkdirInRoot(root: string, rel: string, unprivileged: boolean): Promise<string> {
  let cur = root;
  for (const part of path.posix.normalize(`/${rel}`).split('/').filter(Boolean)) {
    if (part === '..') throw new Error(`mount point path '${rel}' leaves the rootfs`);
    cur = path.join(cur, part);
    const st = await fs.lstat(cur).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (st?.isSymbolicLink()) throw new Error(`mount point path '${rel}' goes through a symlink in the rootfs`);
    if (!st) {
      await fs.mkdir(cur, { mode: 0o755 });
      if (unprivileged) await fs.chown(cur, 100000, 100000);
    }
  }
  return cur;
}

/** Reads `rel` inside `root` without following a symlink out of it; undefined when absent. */
async function readInRoot(root: string, rel: string, depth = 0): Promise<string | undefined> {
  if (depth > 40) return undefined; // a symlink loop: as absent as abs_path finds it
  let cur = root;
  const parts = rel.split('/');
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i]!);
    const st = await fs.lstat(next).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      const target = await fs.readlink(next);
      const resolved = path.posix.normalize(target.startsWith('/') ? target : path.posix.join(path.relative(root, cur), target)).replace(/^(\.\.\/)+/, '').replace(/^\/+/, '');
      return readInRoot(root, [resolved, ...parts.slice(i + 1)].join('/'), depth + 1);
    }
    cur = next;
  }
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(cur)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** rmdir depth-first (cgroup directories hold only pseudo files, which go with the directory). */
async function rmdirTree(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await rmdirTree(path.join(dir, e.name));
  await fs.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    // EBUSY: a process still lives in it (a CT of ours that is running); it goes with that CT's destroy.
    if (e.code !== 'ENOENT' && e.code !== 'EBUSY') throw e;
  });
}

export type { ConfigValues };
