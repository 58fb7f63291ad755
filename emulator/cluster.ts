// The in-memory cluster: nodes, guests, storages and host networks. Pure state plus the lookups
// whose failures PVE reports with fixed strings; request handling lives in routes/.
import { createHash } from 'node:crypto';
import { fail } from './errors';
import type { ParamValue } from './params';
import { parsePctConfig, writePctConfig } from './pct-config';

export type StorageType = 'dir' | 'zfspool' | 'lvmthin';

export interface StorageDef {
  storage: string;
  type: StorageType;
  content: string[];
  shared: 0 | 1;
  total: number;
  /** zfspool: the dataset volumes live under (`pool` in storage.cfg). */
  pool?: string;
}

export interface Volume {
  volid: string;
  content: string;
  format: string;
  size: number;
  ctime: number;
  vmid?: number;
  notes?: string;
  protected?: 0 | 1;
  data?: Buffer;
  /** Storage snapshots of the volume, oldest first (ZFS rolls back only to the newest). */
  snapshots?: string[];
}

export interface StorageState {
  def: StorageDef;
  volumes: Map<string, Volume>;
}

export type Iface = Record<string, ParamValue | string[]> & { iface: string; type: string };

export interface NodeState {
  name: string;
  index: number;
  storages: Map<string, StorageState>;
  network: { active: Iface[]; pending: Iface[] | null };
}

export type ConfigValues = Record<string, ParamValue>;

export interface Container {
  node: string;
  vmid: number;
  conf: ConfigValues;
  pending: ConfigValues;
  pendingDelete: Set<string>;
  status: 'running' | 'stopped';
  startedAt?: number;
  /** When status last changed; /cluster/resources may report `unknown` shortly after. */
  changedAt: number;
  /** Test hook: the CT ignores a clean shutdown request (PVE: the init process does not exit). */
  ignoreShutdown?: boolean;
  /** Snapshot sections of the config file, by name (`[name]`). */
  snapshots?: Record<string, ConfigValues>;
  /** Raw `lxc.*` entries (`$conf->{lxc}`): set only by the OCI create, as in PVE; shown by GET config as `lxc`. */
  lxc?: Array<[string, string]>;
  /** With a runtime backend: the real init's pid while running. */
  pid?: number;
}

const GiB = 1024 ** 3;

export const DEFAULT_TEMPLATE = 'debian-12-standard_12.7-1_amd64.tar.zst';

export function nodeNames(count: number): string[] {
  if (count <= 1) return ['pve'];
  return Array.from({ length: count }, (_, i) => `pve${i + 1}`);
}

/** PVE's installer names the zfspool storage's dataset `rpool/data`. */
export const DEFAULT_ZFS_POOL = 'rpool/data';

function defaultStorages(now: number, zfsPool: string): Map<string, StorageState> {
  const defs: StorageDef[] = [
    { storage: 'local', type: 'dir', content: ['backup', 'iso', 'vztmpl'], shared: 0, total: 100 * GiB },
    { storage: 'local-zfs', type: 'zfspool', content: ['images', 'rootdir'], shared: 0, total: 400 * GiB, pool: zfsPool },
    { storage: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], shared: 0, total: 300 * GiB },
  ];
  const map = new Map<string, StorageState>();
  for (const def of defs) map.set(def.storage, { def, volumes: new Map() });
  // Every fresh PVE install has `pveam` templates available; seed the common one so creates work.
  const tmpl: Volume = { volid: `local:vztmpl/${DEFAULT_TEMPLATE}`, content: 'vztmpl', format: 'tzst', size: 129_740_800, ctime: Math.floor(now / 1000) };
  map.get('local')!.volumes.set(tmpl.volid, tmpl);
  return map;
}

export function defaultNetwork(index: number): Iface[] {
  return [
    { iface: 'lo', type: 'loopback', method: 'loopback', method6: 'manual', families: ['inet'], active: 1, autostart: 1, priority: 1 },
    { iface: 'eno1', type: 'eth', method: 'manual', method6: 'manual', families: ['inet'], active: 1, exists: 1, priority: 2 },
    {
      iface: 'vmbr0', type: 'bridge', method: 'static', method6: 'manual', families: ['inet'], active: 1, autostart: 1, priority: 3,
      bridge_ports: 'eno1', bridge_stp: 'off', bridge_fd: '0', cidr: `192.168.100.${10 + index}/24`,
      address: `192.168.100.${10 + index}`, netmask: '24', gateway: '192.168.100.1',
    },
  ];
}

export class ClusterState {
  readonly nodes = new Map<string, NodeState>();
  readonly guests = new Map<number, Container>();
  /** QEMU guests only matter for VMID collisions (`VM 100 already exists on node 'x'`). */
  readonly qemu = new Map<number, string>();
  /** Resource pools (user.cfg `pool:`): members are `vm:<vmid>` and `storage:<storage>`. */
  readonly pools = new Map<string, { comment?: string; members: Set<string> }>();

  constructor(readonly nodeList: string[], private readonly clock: () => number, private readonly zfsPool = DEFAULT_ZFS_POOL) {
    this.reset();
  }

  reset(): void {
    this.nodes.clear();
    this.guests.clear();
    this.qemu.clear();
    this.pools.clear();
    this.nodeList.forEach((name, index) => {
      this.nodes.set(name, { name, index, storages: defaultStorages(this.clock(), this.zfsPool), network: { active: defaultNetwork(index), pending: null } });
    });
  }

  node(name: string): NodeState {
    const n = this.nodes.get(name);
    if (!n) fail(`hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`);
    return n;
  }

  /** The config-file lookup every CT endpoint does; a CT on another node is "missing" too. */
  ct(node: string, vmid: number): Container {
    const ct = this.guests.get(vmid);
    if (!ct || ct.node !== node) fail(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`);
    return ct;
  }

  /** PVE's check_vmid_unused. */
  assertVmidUnused(vmid: number): void {
    const ct = this.guests.get(vmid);
    if (ct) fail(`CT ${vmid} already exists on node '${ct.node}'`);
    const vm = this.qemu.get(vmid);
    if (vm) fail(`VM ${vmid} already exists on node '${vm}'`);
  }

  vmidUsed(vmid: number): boolean {
    return this.guests.has(vmid) || this.qemu.has(vmid);
  }

  nextFreeVmid(): number {
    let id = 100;
    while (this.vmidUsed(id)) id++;
    return id;
  }

  storage(node: string, storage: string): StorageState {
    const s = this.node(node).storages.get(storage);
    if (!s) fail(`storage '${storage}' does not exist`);
    return s;
  }

  findVolume(node: string, volid: string): Volume | undefined {
    const sid = volid.split(':')[0] ?? '';
    return this.nodes.get(node)?.storages.get(sid)?.volumes.get(volid);
  }
}

/** Config as merged by GET config (pending values win, pending deletes hide). */
export function mergedConfig(ct: Container): ConfigValues {
  // AbstractConfig.pm load_current_config: pending values first, then pending deletes of keys with a true value.
  const out: ConfigValues = { ...ct.conf, ...ct.pending };
  for (const k of ct.pendingDelete) if (out[k]) delete out[k];
  return out;
}

/** The config file text (pve-container's write_pct_config), pending and snapshot sections included. */
export function configText(ct: Container): string {
  return writePctConfig({ conf: ct.conf, pending: ct.pending, pendingDelete: ct.pendingDelete, snapshots: ct.snapshots ?? {}, ...(ct.lxc ? { lxc: ct.lxc } : {}) });
}

/**
 * Write the CT's config and read it back, as every PVE code path does (write_config, then load_config): what
 * clients read is what parse_pct_config makes of the written file.
 */
export function commitConfig(ct: Container): void {
  const parsed = parsePctConfig(configText(ct));
  ct.conf = parsed.conf;
  ct.pending = parsed.pending;
  ct.pendingDelete = parsed.pendingDelete;
  ct.snapshots = parsed.snapshots;
  if (parsed.lxc) ct.lxc = parsed.lxc;
  else delete ct.lxc;
}

/** `digest` of GET config: sha1 of the file text. */
export function configDigest(ct: Container): string {
  return createHash('sha1').update(configText(ct)).digest('hex');
}
