// A running CT's NIC changed through the API: what pve-container does to the real container, step by step, over a
// small set of effects (host-side link commands, `ip` inside the CT, dhclient) so that the order and the failure
// rules can be followed exactly and tested without a container.
//  - src/PVE/LXC/Config.pm `vmconfig_hotplug_pending`: a removed netN → kill_dhclients (host-managed) and
//    PVE::Network::veth_delete; a changed or added one → LXC.pm `update_net`.
//  - src/PVE/LXC.pm `update_net`: another MAC or name → veth_delete, then `hotplug_net` (veth_create on the bridge,
//    tap_plug, `lxc-device add <peer> <name>`, link up inside); another bridge, tag, firewall or link_down →
//    tap_unplug + tap_plug of the host side (the old plug back if that fails); then `update_ipconfig`.
//  - `update_ipconfig`, per family (4, then 6), only when the address or gateway changed: (1) a host-managed
//    `dhcp` starts dhclient and a host-managed old `dhcp` stops it (also when only host-managed went away); a real
//    new address is added, a failure only warned and the family left as it was; (2) a new gateway: an on-link route
//    first when it lies outside the new address's subnet, then `route replace default`; a failure is warned, the
//    new address taken back, the family left; no gateway any more: `route del default` (a failure only warned); the
//    on-link route of an old off-subnet gateway goes; (3) the old real address goes, with promote_secondaries set
//    for the moment so the new address of the same subnet is not removed with it.
// Not here: VLAN tags, firewall bridges and rate limits (no bridge VLAN filtering on this kernel; see README), and the
// network files PVE's Setup writes into system containers (`$lxc_setup->setup_network`).
import { BlockList } from 'node:net';
import { messageOf } from '../../provider/diagnostics';

export type NetValues = Record<string, string | number | boolean | undefined>;

export interface NetEffects {
  /** `ip` with the node's namespace (host side of the veth). */
  hostIp(args: string[]): Promise<void>;
  /** `lxc-device add <dev> <name>`: moves an interface of the node into the CT as `name`. */
  addDevice(dev: string, name: string): Promise<void>;
  /** A host command in the CT's network namespace (`lxc-attach -s NETWORK -- cmd …`); its stdout. */
  inCt(cmd: string, args: string[]): Promise<string>;
  /** `manage_dhclient(action, …)` for one NIC. */
  dhclient(action: 'start' | 'stop', version: 4 | 6, eth: string): Promise<void>;
  /** `kill_dhclients($vmid, $eth)`. */
  killDhclients(eth: string): Promise<void>;
  /** The bridge's MTU (read_bridge_mtu); undefined when the bridge does not exist. */
  bridgeMtu(bridge: string): Promise<number | undefined>;
  warn(message: string): void;
}

const str = (v: NetValues[string]) => (v === undefined || v === '' ? undefined : String(v));
const ne = (a: NetValues[string], b: NetValues[string]) => str(a) !== str(b);
const flag = (v: NetValues[string]) => Number(v ?? 0) === 1;

/** PVE::Network::is_ip_in_cidr: whether `ip` lies in the subnet of `cidr` (`addr/len`), either family. */
export function ipInCidr(ip: string, cidr: string, version: 4 | 6): boolean {
  const [net, len] = cidr.split('/');
  if (!net || len === undefined) return false;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  try {
    const list = new BlockList();
    list.addSubnet(net, Number(len), family);
    return list.check(ip, family);
  } catch {
    return false;
  }
}

// PVE names `sysctl` and `cat` bare; lxc-attach's PATH here has no sbin, so the paths are spelled out (procps).
const SYSCTL = '/sbin/sysctl';

const veth = (vmid: number, netid: number) => `veth${vmid}i${netid}`;
/** The NIC's name inside the CT (`name` is required by PVE's schema; `eth<N>` only guards a config without it). */
const ethOf = (net: NetValues, netid: number) => str(net['name']) ?? `eth${netid}`;

/** PVE::Network::tap_plug for a Linux bridge: the host side into the bridge, up unless `link_down`. */
async function tapPlug(fx: NetEffects, dev: string, net: NetValues): Promise<void> {
  const bridge = str(net['bridge']);
  if (!bridge || (await fx.bridgeMtu(bridge)) === undefined) throw new Error(`bridge '${bridge ?? ''}' does not exist`);
  await fx.hostIp(['link', 'set', dev, 'master', bridge]);
  await fx.hostIp(['link', 'set', dev, flag(net['link_down']) ? 'down' : 'up']);
}

/** LXC.pm `hotplug_net`. */
async function hotplugNet(fx: NetEffects, vmid: number, netid: number, net: NetValues): Promise<void> {
  const dev = veth(vmid, netid);
  const peer = `${dev}p`;
  const bridge = str(net['bridge']) ?? '';
  const mtu = await fx.bridgeMtu(bridge);
  if (mtu === undefined) throw new Error('unable to get bridge setting');
  // PVE::Network::veth_create: the pair with the bridge's MTU, the CT side with the NIC's MAC; both up.
  const mac = str(net['hwaddr']);
  await fx.hostIp(['link', 'add', 'name', dev, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', peer, 'mtu', String(mtu), ...(mac ? ['addr', mac] : [])]);
  await fx.hostIp(['link', 'set', dev, 'up']);
  await fx.hostIp(['link', 'set', peer, 'up']);
  await tapPlug(fx, dev, net);
  const eth = ethOf(net, netid);
  await fx.addDevice(peer, eth);
  await ctIp(fx, ['link', 'set', eth, 'up']);
}

/**
 * PVE::Network::veth_delete: deletes the host side when it exists (the CT side goes with it). A veth that is not
 * there is what was wanted (`ip` says "Cannot find device"); any other failure is an error, as run_command's in PVE.
 */
async function vethDelete(fx: NetEffects, dev: string): Promise<void> {
  await fx.hostIp(['link', 'delete', 'dev', dev]).catch((err: unknown) => {
    if (!/Cannot find device/.test(messageOf(err))) throw err;
  });
}

/** Config.pm's hot-unplug of a removed netN. */
export async function unplugNet(fx: NetEffects, vmid: number, netid: number, old: NetValues): Promise<void> {
  const eth = str(old['name']);
  if (flag(old['host-managed']) && eth) await fx.killDhclients(eth);
  await vethDelete(fx, veth(vmid, netid));
}

/** LXC.pm `update_net` (then `update_ipconfig`) for a changed or added netN of a running CT. */
export async function updateNet(fx: NetEffects, vmid: number, netid: number, old: NetValues | undefined, next: NetValues): Promise<void> {
  const dev = veth(vmid, netid);
  const recreate = old !== undefined && (ne(old['hwaddr'], next['hwaddr']) || ne(old['name'], next['name']));
  if (!old || recreate) {
    if (recreate) await vethDelete(fx, dev);
    await hotplugNet(fx, vmid, netid, next);
  } else if (ne(old['bridge'], next['bridge']) || ne(old['tag'], next['tag']) || ne(old['firewall'], next['firewall']) || flag(old['link_down']) !== flag(next['link_down'])) {
    await fx.hostIp(['link', 'set', dev, 'nomaster']); // tap_unplug
    try {
      await tapPlug(fx, dev, next);
    } catch (err) {
      await tapPlug(fx, dev, old).catch((e: unknown) => fx.warn(`restoring old network due to hot-plug failure for ${dev} failed - ${messageOf(e)}`));
      throw err;
    }
  }
  // A NIC hotplug_net made is written back without addresses or host-managed: update_ipconfig adds them all.
  const current = old && !recreate ? old : {};
  for (const version of [4, 6] as const) await updateIpconfig(fx, ethOf(next, netid), current, next, version);
}

/** LXC.pm `update_ipconfig` for one family. */
async function updateIpconfig(fx: NetEffects, eth: string, old: NetValues, next: NetValues, version: 4 | 6): Promise<void> {
  const fam = `-${version}`;
  const ipKey = version === 4 ? 'ip' : 'ip6';
  const gwKey = version === 4 ? 'gw' : 'gw6';
  const newIp = str(next[ipKey]);
  const newGw = str(next[gwKey]);
  const oldIp = str(old[ipKey]);
  const oldGw = str(old[gwKey]);
  const changeIp = oldIp !== newIp;
  const changeGw = oldGw !== newGw;
  if (!changeIp && !changeGw) return;

  const isRealIp = newIp !== undefined && !/^(auto|dhcp|manual)$/.test(newIp);
  if (changeIp) {
    if (flag(next['host-managed']) && newIp === 'dhcp') await fx.dhclient('start', version, eth);
    if (flag(old['host-managed']) && oldIp === 'dhcp') await fx.dhclient('stop', version, eth);
    if (isRealIp) {
      try {
        await ctIp(fx, [fam, 'addr', 'add', newIp, 'dev', eth]);
      } catch (err) {
        fx.warn(messageOf(err));
        return;
      }
    }
  } else if (flag(old['host-managed']) && !flag(next['host-managed'])) {
    await fx.dhclient('stop', version, eth);
  }

  if (changeGw) {
    if (newGw) {
      try {
        if (isRealIp && !ipInCidr(newGw, newIp, version)) await ctIp(fx, [fam, 'route', 'add', newGw, 'dev', eth]);
        await ctIp(fx, [fam, 'route', 'replace', 'default', 'via', newGw]);
      } catch (err) {
        fx.warn(messageOf(err));
        if (changeIp && isRealIp) await ctIp(fx, [fam, 'addr', 'del', newIp, 'dev', eth]).catch((e: unknown) => fx.warn(messageOf(e)));
        return;
      }
    } else {
      await ctIp(fx, [fam, 'route', 'del', 'default']).catch((e: unknown) => fx.warn(messageOf(e)));
    }
    if (oldGw && oldIp && !ipInCidr(oldGw, oldIp, version)) await ctIp(fx, [fam, 'route', 'del', oldGw, 'dev', eth]).catch((e: unknown) => fx.warn(messageOf(e)));
  }

  if (changeIp && oldIp && !/^(auto|dhcp)$/.test(oldIp)) {
    // Without promote_secondaries the kernel drops the new address with the old one when both share a subnet.
    let promote = 0;
    try {
      if (version === 4) {
        promote = parseInt(await fx.inCt('/bin/cat', [`/proc/sys/net/ipv4/conf/${eth}/promote_secondaries`]), 10) || 0;
        await fx.inCt(SYSCTL, [`net.ipv4.conf.${eth}.promote_secondaries=1`]);
      }
      await ctIp(fx, [fam, 'addr', 'del', oldIp, 'dev', eth]);
    } catch (err) {
      fx.warn(messageOf(err));
    }
    // Outside PVE's eval: a failure here is the hotplug's error.
    if (version === 4) await fx.inCt(SYSCTL, [`net.ipv4.conf.${eth}.promote_secondaries=${promote}`]);
  }
}

/** `/sbin/ip` in the CT's network namespace. */
function ctIp(fx: NetEffects, args: string[]): Promise<string> {
  return fx.inCt('/sbin/ip', args);
}
