// Config changes of a container the way pve-container makes them (src/PVE/LXC/Config.pm `update_pct_config`,
// `vmconfig_hotplug_pending`, `vmconfig_apply_pending`; pve-guest-common AbstractConfig.pm `cleanup_pending`):
// every change is first written to the pending section, then applied at once (stopped CT) or hot-plugged where
// a running CT can take it. Pure over the config; the volumes a change drops are returned for the caller to free.
import type { ConfigValues, Container } from './cluster';
import { commitConfig } from './cluster';
import { FASTPLUG, parseKey, printKey, storedValue } from './lxc-config';

export interface ConfigUpdate {
  sets: ConfigValues;
  deletes: string[];
  reverts: string[];
}

export interface UpdateResult {
  /** Per-key errors (`raise_param_exc`): when there are any, nothing was written. */
  errors: Record<string, string>;
  /** Volumes an applied `unusedN` delete releases. */
  toFree: string[];
  warnings: string[];
}

/** Whether a bridge (any host interface, as `/sys/class/net/<bridge>/mtu`) exists on the CT's node. */
export type BridgeExists = (bridge: string) => boolean;

const isBind = (volume: unknown) => typeof volume === 'string' && volume.startsWith('/');

interface Working {
  conf: ConfigValues;
  pending: ConfigValues;
  pendingDelete: Set<string>;
}

/** AbstractConfig.pm `add_unused_volume`: the first free `unusedN`, unless the volume is listed already. */
function addUnused(w: Working, volid: string): void {
  for (const [k, v] of Object.entries(w.conf)) if (/^unused\d+$/.test(k) && v === volid) return;
  let n = 0;
  while (w.conf[`unused${n}`] !== undefined) n++;
  w.conf[`unused${n}`] = volid;
}

function volumeOf(key: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = String(parseKey(key, value)['volume']);
  return isBind(v) ? undefined : v;
}

/** Volumes still referenced by the config (rootfs, mpN other than `except`) or a snapshot: those are not freed. */
function inUse(ct: Container, w: Working, volid: string, except?: string): boolean {
  const refs = (c: ConfigValues) =>
    Object.entries(c).some(([k, v]) => k !== except && (k === 'rootfs' || /^mp\d+$/.test(k)) && volumeOf(k, v) === volid);
  return refs(w.conf) || Object.values(ct.snapshots ?? {}).some(refs);
}

/** `cleanup_pending`: drop pending values equal to the current ones and pending deletes of unset keys. */
function cleanupPending(w: Working): void {
  for (const k of Object.keys(w.pending)) if (w.conf[k] !== undefined && String(w.pending[k]) === String(w.conf[k])) delete w.pending[k];
  for (const k of [...w.pendingDelete]) if (w.conf[k] === undefined) w.pendingDelete.delete(k);
}

/** `vmconfig_apply_pending` (stopped CT, or at start): deletes, cleanup, then every pending value. */
function applyPending(ct: Container, w: Working, selection: Set<string> | undefined, res: UpdateResult): void {
  for (const k of [...w.pendingDelete].sort()) {
    if (selection && !selection.has(k)) continue;
    if (/^mp\d+$/.test(k)) {
      const vol = volumeOf(k, w.conf[k]);
      if (vol && !inUse(ct, w, vol, k)) addUnused(w, vol);
    } else if (/^unused\d+$/.test(k)) {
      const vol = String(w.conf[k]);
      if (!inUse(ct, w, vol)) res.toFree.push(vol);
    }
    delete w.conf[k];
    w.pendingDelete.delete(k);
  }
  cleanupPending(w);
  for (const k of Object.keys(w.pending).sort()) {
    if (selection && !selection.has(k)) continue;
    const value = w.pending[k]!;
    if (/^mp\d+$/.test(k)) {
      // apply_pending_mountpoint: the volume the mount point had becomes unusedN.
      const old = volumeOf(k, w.conf[k]);
      if (old && old !== volumeOf(k, value)) addUnused(w, old);
    }
    w.conf[k] = /^net\d+$/.test(k) ? storedValue(k, value) : value;
    delete w.pending[k];
  }
}

/** `vmconfig_hotplug_pending` (running CT): what can change live does, the rest stays pending. */
function hotplugPending(ct: Container, w: Working, selection: Set<string>, bridgeExists: BridgeExists, res: UpdateResult): void {
  for (const k of Object.keys(w.pending).sort()) {
    if (selection.has(k) && FASTPLUG.has(k)) {
      w.conf[k] = w.pending[k]!;
      delete w.pending[k];
    }
  }
  for (const k of [...w.pendingDelete].sort()) {
    if (!selection.has(k)) continue;
    if (FASTPLUG.has(k) || /^(unused|net)\d+$/.test(k) || ['swap', 'cpulimit', 'cpuunits'].includes(k)) {
      if (/^unused\d+$/.test(k) && !inUse(ct, w, String(w.conf[k]))) res.toFree.push(String(w.conf[k]));
      delete w.conf[k];
      w.pendingDelete.delete(k);
    }
  }
  for (const k of Object.keys(w.pending).sort()) {
    if (!selection.has(k)) continue;
    let value = w.pending[k]!;
    if (/^net\d+$/.test(k)) {
      // update_net plugs the veth into its bridge: a missing bridge is a hotplug error (PVE::Network tap_plug).
      value = storedValue(k, value);
      const bridge = parseKey(k, String(value))['bridge'];
      if (bridge !== undefined && !bridgeExists(String(bridge))) {
        res.errors[k] = `unable to hotplug ${k}: bridge '${bridge}' does not exist\n`;
        continue;
      }
    } else if (/^(mp|dev)\d+$/.test(k)) {
      if (w.conf[k] !== undefined) continue; // no hotplug over an existing mount point or device
    } else if (!['cpulimit', 'cpuunits', 'memory', 'swap'].includes(k)) continue;
    w.conf[k] = value;
    delete w.pending[k];
  }
}

/**
 * `update_pct_config` on a copy of the config: reverts, deletes (warned about when not set), sets into the
 * pending section, cleanup, then apply or hotplug. Throws what PVE dies with; per-key hotplug errors come back
 * in `errors` and leave the config unwritten, as update_vm raises them before write_config.
 */
export function updateConfig(ct: Container, u: ConfigUpdate, running: boolean, bridgeExists: BridgeExists): UpdateResult {
  const res: UpdateResult = { errors: {}, toFree: [], warnings: [] };
  const w: Working = { conf: { ...ct.conf }, pending: { ...ct.pending }, pendingDelete: new Set(ct.pendingDelete) };
  for (const k of u.reverts) {
    delete w.pending[k];
    w.pendingDelete.delete(k);
  }
  const modified = new Set<string>();
  for (const k of u.deletes) {
    if (w.conf[k] === undefined && w.pending[k] === undefined) {
      res.warnings.push(`cannot delete '${k}' - not set in current configuration!`);
      continue;
    }
    modified.add(k);
    if (k === 'memory' || k === 'rootfs' || k === 'ostype') throw new Error(`unable to delete required option '${k}'`);
    if (/^(unused|mp)\d+$/.test(k) && w.conf['protection']) throw new Error(`can't remove CT ${ct.vmid} drive '${k}' - protection mode enabled`);
    if (k === 'unprivileged') throw new Error(`unable to delete read-only option: '${k}'`);
    w.pendingDelete.add(k);
  }
  for (const k of Object.keys(u.sets).sort()) {
    modified.add(k);
    const value = u.sets[k]!;
    if ((k === 'rootfs' || /^mp\d+$/.test(k)) && w.conf['protection']) throw new Error(`can't update CT ${ct.vmid} drive '${k}' - protection mode enabled`);
    if (k === 'unprivileged') throw new Error(`unable to modify read-only option: '${k}'`);
    if (/^net\d+$/.test(k) && typeof value === 'string') {
      const net = parseKey(k, value);
      // read_bridge_mtu (PVE::Network) runs only when an MTU is given.
      if (net['mtu'] !== undefined && net['bridge'] !== undefined && !bridgeExists(String(net['bridge']))) throw new Error(`bridge '${net['bridge']}' does not exist`);
    }
    w.pending[k] = k.startsWith('net') ? value : storedValue(k, value);
    w.pendingDelete.delete(k);
  }
  cleanupPending(w);
  if (running) hotplugPending(ct, w, modified, bridgeExists, res);
  else applyPending(ct, w, modified, res);
  if (Object.keys(res.errors).length) return { ...res, toFree: [] };
  ct.conf = w.conf;
  ct.pending = w.pending;
  ct.pendingDelete = w.pendingDelete;
  commitConfig(ct);
  return res;
}

/** `vm_start` applies every pending change first. Returns the volumes freed by pending `unusedN` deletes. */
export function applyAllPending(ct: Container): string[] {
  const res: UpdateResult = { errors: {}, toFree: [], warnings: [] };
  const w: Working = { conf: { ...ct.conf }, pending: { ...ct.pending }, pendingDelete: new Set(ct.pendingDelete) };
  applyPending(ct, w, undefined, res);
  ct.conf = w.conf;
  ct.pending = w.pending;
  ct.pendingDelete = w.pendingDelete;
  commitConfig(ct);
  return res.toFree;
}

export { printKey };
