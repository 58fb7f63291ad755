// /nodes/{node}/lxc/{vmid}/snapshot…: list, create, delete, rollback and the snapshot's config, as
// pve-container src/PVE/API2/LXC/Snapshot.pm and pve-guest-common src/PVE/AbstractConfig.pm (snapshot_create,
// snapshot_delete, snapshot_rollback) do them: the worker takes the `snapshot`, `snapshot-delete` or `rollback`
// lock, each volume gets the snapshot on its storage, and the config keeps a `[name]` section.
import type { ConfigValues, Container, Volume } from '../cluster';
import { commitConfig, configDigest } from '../cluster';
import { ApiError, fail } from '../errors';
import { checkPerm, Core, Ctx, Route, startTask } from '../core';
import { bool, nodeProp, str, vmidProp, type PropSchema } from '../params';
import { parseKey } from '../lxc-config';
import { startContainer, stopContainer } from './lxc';

// pve-common JSONSchema.pm: the pve-snapshot-name standard option (format pve-configid, maxLength 40).
export const snapnameProp: PropSchema = {
  type: 'string', maxLength: 40,
  format: (v) => (/^[a-z][a-z0-9_-]+$/i.test(v) ? undefined : `invalid format - invalid configuration ID '${v}'\n`),
};

const base = { node: nodeProp, vmid: vmidProp };

/** Volume keys in valid_volume_keys order (rootfs, mp0…). */
export function volumeEntries(conf: ConfigValues): Array<[string, string]> {
  const keys = Object.keys(conf).filter((k) => k === 'rootfs' || /^mp\d+$/.test(k));
  keys.sort((a, b) => (a === 'rootfs' ? -1 : b === 'rootfs' ? 1 : Number(a.slice(2)) - Number(b.slice(2))));
  return keys.map((k) => [k, String(parseKey(k, String(conf[k]))['volume'])]);
}

function storageVolume(core: Core, node: string, volid: string): { type: string | undefined; vol: Volume | undefined } {
  const st = core.state.nodes.get(node)?.storages.get(volid.split(':')[0] ?? '');
  return { type: st?.def.type, vol: st?.volumes.get(volid) };
}

/**
 * PVE::Storage volume_has_feature('snapshot', …, current): ZFS and LVM-thin volumes have it; raw files on a dir
 * storage and bind mounts (not storage volumes) do not.
 */
function canSnapshot(core: Core, node: string, volid: string): boolean {
  if (volid.startsWith('/')) return false;
  const t = storageVolume(core, node, volid).type;
  return t === 'zfspool' || t === 'lvmthin';
}

/** AbstractConfig.pm __snapshot_copy_config: everything but snapshot bookkeeping, the lock, description, unusedN. */
function copyConfig(source: ConfigValues, dest: ConfigValues): void {
  for (const [k, v] of Object.entries(source)) {
    if (['snapstate', 'snaptime', 'vmstate', 'lock', 'digest', 'description'].includes(k) || /^unused\d+$/.test(k)) continue;
    dest[k] = v;
  }
}

function ctOf(core: Core, node: string, vmid: number): Container {
  return core.state.ct(node, vmid);
}

function list(ctx: Ctx): unknown {
  const ct = ctOf(ctx.core, String(ctx.params['node']), Number(ctx.params['vmid']));
  const snaps = Object.entries(ct.snapshots ?? {}).sort(([, a], [, b]) => Number(a['snaptime'] ?? 0) - Number(b['snaptime'] ?? 0));
  const res: Array<Record<string, unknown>> = snaps.map(([name, d]) => ({
    name, snaptime: Number(d['snaptime'] ?? 0), description: d['description'] ?? '',
    ...(d['parent'] !== undefined ? { parent: d['parent'] } : {}), ...(d['snapstate'] ? { snapstate: d['snapstate'] } : {}),
  }));
  res.push({
    name: 'current', digest: configDigest(ct), running: ct.status === 'running' ? 1 : 0, description: 'You are here!',
    ...(ct.conf['parent'] !== undefined ? { parent: ct.conf['parent'] } : {}),
  });
  return res;
}

function create(ctx: Ctx): string {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const snapname = String(params['snapname']);
  if (snapname === 'current') fail(`unable to use snapshot name 'current' (reserved name)`);
  if (snapname === 'vzdump') fail(`unable to use snapshot name 'vzdump' (reserved name)`);
  core.state.node(node);
  return startTask(ctx, node, 'vzsnapshot', String(vmid), async (t) => {
    // __snapshot_prepare, under the config flock.
    await core.flocks.with(vmid, () => {
      const ct = ctOf(core, node, vmid);
      if (ct.conf['template']) fail(`you can't take a snapshot if it's a template`);
      if (ct.conf['lock'] !== undefined) fail(`CT is locked (${ct.conf['lock']})`);
      const snapshots = (ct.snapshots ??= {});
      if (snapshots[snapname]) fail(`snapshot name '${snapname}' already used`);
      if (!volumeEntries(ct.conf).every(([, volid]) => canSnapshot(core, node, volid))) fail('snapshot feature is not available');
      for (const [name, s] of Object.entries(snapshots)) {
        if (s['parent'] === snapname) {
          t.log(`deleting parent '${snapname}' reference from '${name}' to avoid bogus snapshot cycle.`);
          delete s['parent'];
        }
      }
      const snap: ConfigValues = {};
      copyConfig(ct.conf, snap);
      snap['snapstate'] = 'prepare';
      snap['snaptime'] = Math.floor(core.opts.clock() / 1000);
      if (params['description']) snap['description'] = params['description'];
      snapshots[snapname] = snap;
      ct.conf['lock'] = 'snapshot';
      commitConfig(ct);
    });
    const ct = ctOf(core, node, vmid);
    try {
      await t.sleep();
      for (const [, volid] of volumeEntries(ct.snapshots![snapname]!)) {
        const { vol } = storageVolume(core, node, volid);
        if (vol) (vol.snapshots ??= []).push(snapname);
      }
    } catch (err) {
      // snapshot_create: "snapshot create failed: starting cleanup", then snapshot_delete with force.
      t.log('snapshot create failed: starting cleanup');
      await core.flocks.with(vmid, () => {
        delete ct.snapshots![snapname];
        if (ct.conf['lock'] === 'snapshot') delete ct.conf['lock'];
        commitConfig(ct);
      });
      throw err;
    }
    // __snapshot_commit.
    await core.flocks.with(vmid, () => {
      if (ct.conf['lock'] !== 'snapshot') fail('missing snapshot lock');
      const snap = ct.snapshots?.[snapname];
      if (!snap) fail(`snapshot '${snapname}' does not exist`);
      delete snap['snapstate'];
      delete ct.conf['lock'];
      ct.conf['parent'] = snapname;
      commitConfig(ct);
    });
  });
}

function remove(ctx: Ctx): string {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const snapname = String(params['snapname']);
  core.state.node(node);
  return startTask(ctx, node, 'vzdelsnapshot', String(vmid), async (t) => {
    const ct = ctOf(core, node, vmid);
    if (!ct.snapshots?.[snapname]) fail(`snapshot '${snapname}' does not exist`);
    // set_lock: check_lock first.
    await core.flocks.with(vmid, () => {
      if (ct.conf['lock'] !== undefined) fail(`CT is locked (${ct.conf['lock']})`);
      ct.conf['lock'] = 'snapshot-delete';
      commitConfig(ct);
    });
    await core.flocks.with(vmid, () => {
      if (ct.conf['lock'] !== 'snapshot-delete') fail(`encountered invalid lock, expected 'snapshot-delete'`);
      if (ct.conf['template']) fail(`you can't delete a snapshot if vm is a template`);
      const snap = ct.snapshots?.[snapname];
      if (!snap) fail(`snapshot '${snapname}' does not exist`);
      snap['snapstate'] = 'delete';
      commitConfig(ct);
    });
    await t.sleep();
    await core.flocks.with(vmid, () => {
      const snap = ct.snapshots?.[snapname];
      if (!snap) fail(`snapshot '${snapname}' does not exist`);
      for (const [, volid] of volumeEntries(snap)) {
        const { vol } = storageVolume(core, node, volid);
        if (vol?.snapshots) vol.snapshots = vol.snapshots.filter((s) => s !== snapname);
      }
      const newParent = snap['parent'];
      const unlink = (c: ConfigValues) => {
        if (c['parent'] !== snapname) return;
        if (newParent) c['parent'] = newParent;
        else delete c['parent'];
      };
      unlink(ct.conf);
      for (const [name, other] of Object.entries(ct.snapshots!)) if (name !== snapname) unlink(other);
      delete ct.snapshots![snapname];
      delete ct.conf['lock'];
      commitConfig(ct);
    });
  });
}

function rollback(ctx: Ctx): string {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const snapname = String(params['snapname']);
  rollbackPermitted(ctx);
  core.state.node(node);
  return startTask(ctx, node, 'vzrollback', String(vmid), async (t) => {
    const ct = ctOf(core, node, vmid);
    const snapshotOf = () => {
      if (ct.conf['template']) fail(`you can't rollback if vm is a template`);
      const snap = ct.snapshots?.[snapname];
      if (!snap) fail(`snapshot '${snapname}' does not exist`);
      return snap;
    };
    // Prepare: rollback possible on every volume (ZFS only to its most recent snapshot), lock, stop.
    await core.flocks.with(vmid, async () => {
      const snap = snapshotOf();
      for (const [, volid] of volumeEntries(snap)) {
        const { type, vol } = storageVolume(core, node, volid);
        if (type !== 'zfspool' || !vol) continue;
        // ZFSPoolPlugin volume_rollback_is_possible.
        if (!vol.snapshots?.includes(snapname)) fail(`can't rollback, snapshot '${snapname}' does not exist on '${volid}'`);
        if (vol.snapshots[vol.snapshots.length - 1] !== snapname) fail(`can't rollback, '${snapname}' is not most recent snapshot on '${volid}'`);
      }
      if (snap['snapstate']) fail(`unable to rollback to incomplete snapshot (snapstate = ${snap['snapstate']})`);
      if (ct.conf['lock'] !== undefined) fail(`CT is locked (${ct.conf['lock']})`);
      if (ct.status === 'running') await stopContainer(core, ct);
      ct.conf['lock'] = 'rollback';
      commitConfig(ct);
    });
    await t.sleep();
    // Commit: the volumes the snapshot does not have become unusedN; the snapshot's config becomes current.
    await core.flocks.with(vmid, () => {
      const snap = snapshotOf();
      if (ct.conf['lock'] !== 'rollback') fail('got wrong lock');
      delete ct.conf['lock'];
      const keep = new Set(volumeEntries(snap).map(([, v]) => v));
      const next: ConfigValues = {};
      for (const [k, v] of Object.entries(ct.conf)) if (/^unused\d+$/.test(k) || k === 'description') next[k] = v;
      for (const [, volid] of volumeEntries(ct.conf)) {
        if (keep.has(volid) || volid.startsWith('/')) continue;
        let n = 0;
        while (next[`unused${n}`] !== undefined) n++;
        next[`unused${n}`] = volid;
      }
      copyConfig(snap, next);
      next['parent'] = snapname;
      ct.conf = next;
      ct.pending = {};
      ct.pendingDelete = new Set();
      commitConfig(ct);
    });
    if (params['start']) await startContainer(core, node, vmid, () => t.sleep(), (l) => t.log(l));
  });
}

function snapshotConfig(ctx: Ctx): unknown {
  const ct = ctOf(ctx.core, String(ctx.params['node']), Number(ctx.params['vmid']));
  const snap = ct.snapshots?.[String(ctx.params['snapname'])];
  if (!snap) fail(`snapshot '${ctx.params['snapname']}' does not exist`);
  return { ...snap };
}

async function updateSnapshotConfig(ctx: Ctx): Promise<null> {
  const { core, params } = ctx;
  if (params['description'] === undefined) return null;
  const vmid = Number(params['vmid']);
  await core.flocks.with(vmid, () => {
    const ct = ctOf(core, String(params['node']), vmid);
    if (ct.conf['lock'] !== undefined) fail(`CT is locked (${ct.conf['lock']})`);
    const snap = ct.snapshots?.[String(params['snapname'])];
    if (!snap) fail(`snapshot '${params['snapname']}' does not exist`);
    snap['description'] = params['description']!;
    commitConfig(ct);
  });
  return null;
}

const snap = '/nodes/{node}/lxc/{vmid}/snapshot';
const snapOnly = { props: { ...base, snapname: snapnameProp } };
const perm = (priv: string) => (p: Record<string, unknown>): Array<[string, string]> => [[`/vms/${p['vmid']}`, priv]];
export const snapshotRoutes: Route[] = [
  { method: 'GET', path: snap, perms: perm('VM.Audit'), schema: { props: base }, handler: list },
  { method: 'POST', path: snap, perms: perm('VM.Snapshot'), schema: { props: { ...base, snapname: snapnameProp, description: str() } }, handler: create },
  { method: 'GET', path: `${snap}/{snapname}`, perms: perm('VM.Audit'), schema: snapOnly, handler: () => [{ cmd: 'rollback' }, { cmd: 'config' }] },
  { method: 'DELETE', path: `${snap}/{snapname}`, perms: perm('VM.Snapshot'), schema: { props: { ...snapOnly.props, force: bool() } }, handler: remove },
  {
    // check => ['perm', '/vms/{vmid}', ['VM.Snapshot', 'VM.Snapshot.Rollback'], any => 1]
    method: 'POST', path: `${snap}/{snapname}/rollback`, schema: { props: { ...snapOnly.props, start: bool() } }, handler: rollback,
  },
  { method: 'GET', path: `${snap}/{snapname}/config`, perms: perm('VM.Audit'), schema: snapOnly, handler: snapshotConfig },
  { method: 'PUT', path: `${snap}/{snapname}/config`, perms: perm('VM.Snapshot'), schema: { props: { ...snapOnly.props, description: str() } }, handler: updateSnapshotConfig },
];

/** The rollback permission is either privilege (`any => 1`). */
export function rollbackPermitted(ctx: Ctx): void {
  const path = `/vms/${ctx.params['vmid']}`;
  try {
    checkPerm(ctx, path, 'VM.Snapshot');
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    checkPerm(ctx, path, 'VM.Snapshot.Rollback');
  }
}
