// The LXC config of a CT, generated the way pve-container's src/PVE/LXC.pm `update_lxc_config` writes
// /var/lib/lxc/<vmid>/config, adapted where LXC 5.0.2 on a cgroup v1 host needs something else (each adaptation is
// marked "LXC 5.0" below and listed in emulator/README.md). Pure: every host fact comes in through `host`.
import { shellSplit } from '../../provider/resources/pod/pve-config';
import type { ConfigValues } from '../cluster';
import { parseKey } from '../lxc-config';
import type { LxcEntries } from './oci-archive';

export interface HostFacts {
  /** This CT's directory under the emulator's own LXC path. */
  ctDir: string;
  /** The mounted rootfs directory (PVE: /var/lib/lxc/<vmid>/rootfs, where the pre-start hook mounts it and its mount points). */
  rootfs: string;
  /** Cgroup prefix of this emulator (PVE: none; two emulators here must not share `lxc/<vmid>`). */
  cgroupPrefix: string;
  /** MTU of each bridge the CT's NICs use; a missing bridge is missing here. */
  bridgeMtu: ReadonlyMap<string, number>;
  /** Path of the `script.up` hook for NIC N (PVE: /usr/share/lxc/lxcnetaddbr). */
  netUpScript: (index: number) => string;
  /** cgroup v1 memory.memsw.* exists (swap accounting on). */
  memsw: boolean;
  /** CPUs of the cpuset the containers may use (`0-1` → [0, 1]); empty when there is no cpuset controller. */
  cpus: readonly number[];
  /** /usr/share/lxc/config files that exist. */
  includes: { common: string; userns?: string };
}

export class StartError extends Error {}

export interface RenderedConfig {
  text: string;
  /** The entrypoint's argv, given to `lxc-start … --` (LXC 5.0 splits a quoted lxc.init.cmd on spaces). */
  initArgv?: string[];
  /** Bridge of each NIC, for the script.up hook. */
  bridges: Map<number, string>;
}

/** Shell-like split of `entrypoint`: one implementation, shared with the provider's refresh (pod/pve-config.ts). */
export const splitCommand = shellSplit;

/** `PVE::LXC::Config::calculate_memory_constraints`-free v1 form: limit_in_bytes = memory, memsw = memory + swap. */
function memoryLines(conf: ConfigValues, host: HostFacts): string[] {
  const memory = Number(conf['memory'] || 512);
  const swap = Number(conf['swap'] ?? 0);
  const mem = memory * 1024 * 1024;
  // LXC 5.0: lxc.cgroup2.memory.* is ignored on a cgroup v1 host ("Ignoring cgroup2 limits on legacy cgroup
  // system") and the CT would run unlimited; the v1 keys carry the same limits.
  const lines = [`lxc.cgroup.memory.limit_in_bytes = ${mem}`];
  if (host.memsw) lines.push(`lxc.cgroup.memory.memsw.limit_in_bytes = ${mem + swap * 1024 * 1024}`);
  return lines;
}

/** `update_lxc_config` for one CT. Throws StartError where PVE's start dies (missing bridge, MTU too big). */
export function renderLxcConfig(vmid: number, conf: ConfigValues, lxc: LxcEntries, host: HostFacts): RenderedConfig {
  if (conf['template']) throw new StartError(`you can't start a CT if it's a template`);
  const raw: string[] = [];
  // LXC ≥ 4 branch; LXC 5.0: the prefix keeps two emulators' `lxc/<vmid>` apart ("Failed to create monitor cgroup").
  raw.push('lxc.cgroup.relative = 0');
  raw.push(`lxc.cgroup.dir.monitor = ${host.cgroupPrefix}/lxc.monitor/${vmid}`);
  raw.push(`lxc.cgroup.dir.container = ${host.cgroupPrefix}/lxc/${vmid}`);
  raw.push('lxc.cgroup.dir.container.inner = ns');
  const arch = String(conf['arch'] ?? '');
  if (!arch) throw new StartError(`missing 'arch' - internal error`);
  raw.push(`lxc.arch = ${arch}`);
  const customIdmap = lxc.some(([k]) => k === 'lxc.idmap');
  const unprivileged = Number(conf['unprivileged'] ?? 0) === 1 || customIdmap;
  if (!conf['ostype']) throw new StartError(`missing 'ostype' - internal error`);
  // PVE includes /usr/share/lxc/config/<ostype>.common.conf when it exists; LXC 5.0 ships only common.conf here.
  raw.push(`lxc.include = ${host.includes.common}`);
  if (unprivileged && host.includes.userns) raw.push(`lxc.include = ${host.includes.userns}`);
  const features = typeof conf['features'] === 'string' ? parseKey('features', conf['features']) : {};
  // make_seccomp_config / make_apparmor_config: common.conf's seccomp profile applies; there is no AppArmor here.
  if (features['nesting']) {
    // PVE: nesting makes /proc and /sys mount rw-capable for nested containers (apparmor profile
    // lxc-container-default-with-nesting + lxc.mount.auto). Without AppArmor the mount flags are what remains.
    raw.push('lxc.mount.auto = proc:rw sys:rw cgroup:rw');
  } else if (unprivileged && !features['force_rw_sys']) raw.push('lxc.mount.auto = sys:mixed');
  const entrypoint = conf['entrypoint'] === undefined ? undefined : String(conf['entrypoint']);
  if (entrypoint !== undefined && entrypoint !== '/sbin/init') {
    raw.push('lxc.mount.entry = shm dev/shm tmpfs rw,nosuid,nodev,create=dir 0 0');
  }
  // PVE writes `lxc.monitor.unshare = 1` (loop-device mounts stay out of the host's namespace). Not here: on PVE the
  // host's mounts are shared (systemd), so the monitor's copy follows unmounts; on this machine "/" is private, and
  // the monitor's copy would pin every ZFS dataset mounted while the CT runs (image chains, other pods' clones), whose
  // destroy then fails with "dataset is busy". The emulator has no loop-device volumes, which the key is for.
  if (unprivileged && !customIdmap) {
    raw.push('lxc.idmap = u 0 100000 65536');
    raw.push('lxc.idmap = g 0 100000 65536');
  }
  // has_dev_console: console defaults to on; `console: 0` removes /dev/console.
  if (conf['console'] !== undefined && Number(conf['console']) === 0) raw.push('lxc.console.path = none');
  // get_tty_count: `tty`, default 2.
  raw.push(`lxc.tty.max = ${Number(conf['tty'] ?? 2)}`);
  raw.push('lxc.environment = TERM=linux');
  raw.push(`lxc.uts.name = ${String(conf['hostname'] || `CT${vmid}`)}`);
  raw.push(...memoryLines(conf, host));
  if (conf['cpulimit']) raw.push(`lxc.cgroup.cpu.cfs_period_us = 100000`, `lxc.cgroup.cpu.cfs_quota_us = ${Math.floor(100000 * Number(conf['cpulimit']))}`);
  if (conf['cpuunits'] !== undefined) raw.push(`lxc.cgroup.cpu.shares = ${Math.max(2, Math.min(262144, Number(conf['cpuunits'])))}`);
  if (conf['rootfs'] === undefined) throw new StartError(`missing 'rootfs' configuration`);
  raw.push(`lxc.rootfs.path = dir:${host.rootfs}`);
  // LXC 5.0 splits a quoted lxc.init.cmd on spaces (quote-aware splitting came in LXC 6.0): the argv goes after
  // `lxc-start --` instead, and the key is written only where splitting cannot change it.
  const initArgv = entrypoint !== undefined ? splitCommand(entrypoint) : undefined;
  if (entrypoint !== undefined && initArgv && initArgv.join(' ') === entrypoint) raw.push(`lxc.init.cmd = ${entrypoint}`);
  const bridges = new Map<number, string>();
  for (const key of Object.keys(conf).filter((k) => /^net\d+$/.test(k)).sort()) {
    const ind = Number(key.slice(3));
    const d = parseKey(key, String(conf[key]));
    const bridge = String(d['bridge'] ?? '');
    const bridgeMtu = host.bridgeMtu.get(bridge);
    // PVE::Network::read_bridge_mtu dies on a missing bridge (its sysfs mtu file is absent).
    if (!bridge || bridgeMtu === undefined) throw new StartError(`bridge '${bridge}' does not exist`);
    raw.push(`lxc.net.${ind}.type = veth`);
    raw.push(`lxc.net.${ind}.veth.pair = veth${vmid}i${ind}`);
    if (d['hwaddr'] !== undefined) raw.push(`lxc.net.${ind}.hwaddr = ${d['hwaddr']}`);
    if (d['name'] !== undefined) raw.push(`lxc.net.${ind}.name = ${d['name']}`);
    const mtu = Number(d['mtu'] || bridgeMtu);
    if (mtu > bridgeMtu) throw new StartError(`${key}: MTU size '${mtu}' is bigger than bridge MTU '${bridgeMtu}'`);
    raw.push(`lxc.net.${ind}.mtu = ${mtu}`);
    // PVE: /usr/share/lxc/lxcnetaddbr reads the bridge from the CT config. LXC 5.0 under `nsenter --net` cannot use
    // lxc.net.N.link (it looks the bridge up in the host's sysfs), so a per-NIC hook attaches the veth instead.
    raw.push(`lxc.net.${ind}.script.up = ${host.netUpScript(ind)}`);
    bridges.set(ind, bridge);
    if (Number(d['link_down'] ?? 0) !== 1 && Number(d['host-managed'] ?? 0) === 1) {
      const ip = d['ip'] === undefined ? undefined : String(d['ip']);
      if (ip !== undefined && !/^(dhcp|manual)$/.test(ip)) raw.push(`lxc.net.${ind}.ipv4.address = ${ip}`);
      if (d['gw'] !== undefined) raw.push(`lxc.net.${ind}.ipv4.gateway = ${d['gw']}`);
      if (d['ip6'] !== undefined) {
        if (d['ip6'] === 'auto') throw new StartError(`${key}: SLAAC is not supported for host-managed network configuration`);
        if (!/^(dhcp|manual)$/.test(String(d['ip6']))) raw.push(`lxc.net.${ind}.ipv6.address = ${d['ip6']}`);
      }
      if (d['gw6'] !== undefined) raw.push(`lxc.net.${ind}.ipv6.gateway = ${d['gw6']}`);
      raw.push(`lxc.net.${ind}.flags = up`);
    }
  }
  // Mount points are not LXC keys in PVE either: its pre-start hook (mount_all / mountpoint_mount) mounts them into
  // the rootfs before LXC takes it; the runtime does the same (LxcRuntime.mountAll).
  if (typeof conf['env'] === 'string' && conf['env']) {
    // LXC 5.0 does not know lxc.environment.runtime ("Unsupported config key"); lxc.environment sets the same
    // variables for the init process.
    for (const variable of conf['env'].split(/\0+/).filter(Boolean)) raw.push(`lxc.environment = ${variable}`);
  }
  let hadCpuset = false;
  // Raw entries as PVE appends them, lxc.init.groups included and written as is. It has no effect on these unprivileged
  // CTs, here as on PVE 9.1: LXC's start.c `do_start` calls lxc_setgroups(init_groups) only when the CT has no user
  // namespace (`list_empty(&conf->id_map)` in 5.0.2, `!container_uses_namespace(handler, CLONE_NEWUSER)` in 6.0.5,
  // the lxc-pve 6.0.5-3 PVE 9.1 ships, which carries no patch for it); in a user namespace the init dropped every
  // supplementary group when it became the namespace's root, so it runs with its primary gid only. Upstream commit
  // 9e6caeab ("start: Respect lxc.init.groups also in new user namespace", Dec 2025) fixes it in LXC 7.0.
  for (const [k, v] of lxc) {
    if (k === 'lxc.cgroup2.cpuset.cpus' || k === 'lxc.cgroup.cpuset.cpus') hadCpuset = true;
    raw.push(`${k} = ${v}`);
  }
  const cores = Number(conf['cores'] ?? 0);
  if (!hadCpuset && cores && host.cpus.length) {
    // PVE removes random members until `cores` are left; the first ones are as good and keep runs reproducible.
    raw.push(`lxc.cgroup.cpuset.cpus = ${host.cpus.slice(0, cores).join(',')}`);
  }
  return { text: `${raw.join('\n')}\n`, ...(initArgv ? { initArgv } : {}), bridges };
}
