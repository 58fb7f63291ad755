// POST /nodes/{node}/lxc/{vmid}/clone as pve-container src/PVE/API2/LXC.pm `clone_vm` does it: the source is
// locked `disk` and the new CT `create` before the worker starts; a full clone copies every volume, a linked clone
// (the default for templates) clones base volumes — which only `POST …/template` makes (vdisk_create_base), so
// a CT created with `template=1` has none and PVE refuses: `Linked clone feature for '<volid>' is not available`.
import type { ConfigValues, Container } from '../cluster';
import { commitConfig } from '../cluster';
import { ApiError, fail } from '../errors';
import { canPerm, checkPerm, Core, Ctx, Route, startTask } from '../core';
import { bool, nodeProp, num, str, vmidProp } from '../params';
import { configProps } from '../lxc-config';
import { parseKey, printKey, randomHwaddr } from '../lxc-config';
import { allocateDisk, freeVolume, linkedCloneVolume } from './storage';
import { snapnameProp, volumeEntries } from './snapshots';

/** PVE::Storage volume_has_feature('clone', …): ZFS from base volumes, LVM-thin from base volumes and snapshots. */
function canLinkClone(core: Core, node: string, volid: string, snapname: string | undefined): boolean {
  const st = core.state.nodes.get(node)?.storages.get(volid.split(':')[0] ?? '');
  const name = volid.slice(volid.indexOf(':') + 1).replace(/^.*\//, '');
  const isBase = /^(basevol|base)-/.test(name);
  if (st?.def.type === 'zfspool') return !snapname && isBase;
  if (st?.def.type === 'lvmthin') return snapname ? true : isBase;
  return false; // dir: clone_image makes qcow2, which a CT cannot use (valid_target_formats raw, subvol)
}

function removeLock(ct: Container, lock: string): void {
  if (ct.conf['lock'] === lock) {
    delete ct.conf['lock'];
    commitConfig(ct);
  }
}

async function clone(ctx: Ctx): Promise<string> {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const newid = Number(params['newid']);
  const pool = params['pool'] === undefined ? undefined : String(params['pool']);
  const snapname = params['snapname'] === undefined ? undefined : String(params['snapname']);
  const storage = params['storage'] === undefined ? undefined : String(params['storage']);
  core.state.node(node);
  if (!canPerm(ctx, `/vms/${newid}`, 'VM.Allocate') && !(pool && canPerm(ctx, `/pool/${pool}`, 'VM.Allocate'))) {
    throw new ApiError(403, `Permission check failed (/vms/${newid}, VM.Allocate)`);
  }
  if (pool !== undefined && !core.state.pools.has(pool)) fail(`pool '${pool}' does not exist`);
  if (storage !== undefined) core.state.storage(node, storage);
  let target = params['target'] === undefined ? undefined : String(params['target']);
  if (target === node || target === 'localhost') target = undefined;
  if (target !== undefined && !core.state.nodes.has(target)) fail(`no such cluster node '${target}'`);
  if (target !== undefined && storage !== undefined && !core.state.storage(node, storage).def.shared) fail(`can't clone to non-shared storage '${storage}'`);

  // set_lock($vmid, 'disk'), then create_and_lock_config($newid).
  const src = await core.flocks.with(vmid, () => {
    const ct = core.state.ct(node, vmid);
    if (ct.conf['lock'] !== undefined) fail(`CT is locked (${ct.conf['lock']})`);
    ct.conf['lock'] = 'disk';
    commitConfig(ct);
    return ct;
  });
  const created = await core.flocks.with(newid, () => {
    try {
      core.state.assertVmidUnused(newid);
    } catch (e) {
      removeLock(src, 'disk');
      throw e;
    }
    const ct: Container = { node, vmid: newid, conf: { lock: 'create' }, pending: {}, pendingDelete: new Set(), status: 'stopped', changedAt: core.opts.clock() };
    core.state.guests.set(newid, ct);
    return ct;
  });

  const mountpoints: Array<{ key: string; values: Record<string, string | number>; full: boolean }> = [];
  try {
    const running = src.status === 'running';
    const full = params['full'] === undefined ? !src.conf['template'] : params['full'] === 1;
    if (storage !== undefined && !full) fail(`parameter 'storage' not allowed for linked clones`);
    if (snapname && !src.snapshots?.[snapname]) fail(`snapshot '${snapname}' does not exist`);
    const from: ConfigValues = snapname ? src.snapshots![snapname]! : src.conf;
    const newconf: ConfigValues = {};
    let shared = true;
    for (const key of Object.keys(from).sort()) {
      if (/^unused\d+$/.test(key)) continue;
      const value = from[key]!;
      if (key === 'rootfs' || /^mp\d+$/.test(key)) {
        const values = parseKey(key, String(value));
        const volid = String(values['volume']);
        if (volid.startsWith('/')) fail(`unable to clone mountpoint '${key}' (type ${volid.startsWith('/dev/') ? 'device' : 'bind'})`);
        const sid = storage ?? volid.split(':')[0]!;
        if (!core.state.storage(node, sid).def.shared) shared = false;
        checkPerm(ctx, `/storage/${sid}`, 'Datastore.AllocateSpace');
        if (full) {
          if (running && snapname === undefined) fail('Full clone of a running container is only possible from a snapshot');
        } else if (!canLinkClone(core, node, volid, snapname)) fail(`Linked clone feature for '${volid}' is not available`);
        mountpoints.push({ key, values, full });
      } else if (/^net\d+$/.test(key)) {
        // "always change MAC! address"
        const net = parseKey(key, String(value));
        net['hwaddr'] = randomHwaddr();
        net['type'] = 'veth';
        newconf[key] = printKey(key, net);
      } else newconf[key] = value;
    }
    if (target !== undefined && !shared) fail(`can't clone CT to node '${target}' (CT uses local storage)`);
    for (const k of ['snapshots', 'parent', 'snaptime', 'snapstate', 'template', 'lock', 'digest']) delete newconf[k];
    newconf['lock'] = 'create';
    if (params['hostname']) newconf['hostname'] = params['hostname'];
    if (params['description']) newconf['description'] = params['description'];
    created.conf = newconf;
    commitConfig(created);
  } catch (err) {
    removeLock(src, 'disk');
    if (core.state.guests.get(newid) === created) core.state.guests.delete(newid);
    throw err;
  }

  return startTask(ctx, node, 'vzclone', String(vmid), async (t) => {
    const newvols: string[] = [];
    try {
      t.log(`creating a clone of container ${vmid} with ID ${newid}`);
      await t.sleep();
      // PVE walks `keys %$mountpoints` (Perl hash order, so disk numbers vary between runs); here rootfs goes
      // first, as at create.
      mountpoints.sort((a, b) => (a.key === 'rootfs' ? -1 : b.key === 'rootfs' ? 1 : Number(a.key.slice(2)) - Number(b.key.slice(2))));
      for (const mp of mountpoints) {
        const volid = String(mp.values['volume']);
        let newvolid: string;
        if (mp.full) {
          t.log(`create full clone of mountpoint ${mp.key} (${volid})`);
          const sid = storage ?? volid.split(':')[0]!;
          const size = core.state.findVolume(node, volid)?.size ?? 0;
          newvolid = (await allocateDisk(core, node, sid, newid, size)).volid;
        } else {
          t.log(`create linked clone of mount point ${mp.key} (${volid})`);
          newvolid = (await linkedCloneVolume(core, node, volid, newid)).volid;
        }
        newvols.push(newvolid);
        created.conf[mp.key] = printKey(mp.key, { ...mp.values, volume: newvolid });
        commitConfig(created);
      }
      if (pool !== undefined) core.state.pools.get(pool)?.members.add(`vm:${newid}`);
    } catch (err) {
      removeLock(src, 'disk');
      for (const v of newvols) await freeVolume(core, node, v).catch((e: Error) => t.log(e.message));
      if (core.state.guests.get(newid) === created) core.state.guests.delete(newid);
      throw new Error(`clone failed: ${(err as Error).message}`);
    }
    removeLock(src, 'disk');
    removeLock(created, 'create');
    if (target !== undefined) created.node = target;
  });
}

export const cloneRoutes: Route[] = [
  {
    method: 'POST', path: '/nodes/{node}/lxc/{vmid}/clone', perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Clone']], handler: clone,
    schema: {
      props: {
        node: nodeProp, vmid: vmidProp, newid: { ...vmidProp }, hostname: configProps['hostname']!, description: str(), pool: str({ pattern: /^[A-Za-z0-9_\-]+$/ }),
        snapname: { ...snapnameProp, optional: true }, storage: str({ pattern: /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i }), full: bool(),
        target: { ...nodeProp, optional: true }, bwlimit: num({ minimum: 0 }),
      },
    },
  },
];

