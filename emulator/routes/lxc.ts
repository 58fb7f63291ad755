// /nodes/{node}/lxc…: list, create, config, pending, power, destroy, resize, template, interfaces.
import { Container, ConfigValues, commitConfig, configDigest, mergedConfig } from '../cluster';
import { applyAllPending, updateConfig } from '../lxc-update';
import { ApiError, fail, ParamError } from '../errors';
import { canPerm, checkPerm, Core, Ctx, paramError, Route, startTask } from '../core';
import { privForConfigKey } from '../permissions';
import { bool, int, nodeProp, ParamSchema, Params, str, vmidProp } from '../params';
import { formatSize, parseSize } from '../property-string';
import {
  configSchema, isConfigKey, parseKey, printKey, rootOnlyFeatureChange, splitList, storedValue,
} from '../lxc-config';
import { allocateDisk, freeVolume } from './storage';
import { InjectedTaskError } from '../tasks';
import { memoryBackend, type RuntimeBackend } from '../runtime/backend';

const base = { node: nodeProp, vmid: vmidProp };
const nodeOnly: ParamSchema = { props: { node: nodeProp } };
const ctOnly: ParamSchema = { props: { ...base } };

const uptime = (core: Core, ct: Container) => (ct.status === 'running' && ct.startedAt ? Math.floor((core.opts.clock() - ct.startedAt) / 1000) : 0);

function diskBytes(ct: Container): number {
  const rootfs = ct.conf['rootfs'];
  if (typeof rootfs !== 'string') return 0;
  const size = parseKey('rootfs', rootfs)['size'];
  return typeof size === 'string' ? parseSize(size) : 0;
}

/** The vmstatus object shared by the list, status/current and /cluster/resources. */
export function vmStatus(core: Core, ct: Container): Record<string, unknown> {
  const c = ct.conf;
  const memory = Number(c['memory'] ?? 512) * 1024 * 1024;
  const running = ct.status === 'running';
  const out: Record<string, unknown> = {
    vmid: ct.vmid, name: String(c['hostname'] ?? `CT${ct.vmid}`), status: ct.status, type: 'lxc',
    cpus: Number(c['cores'] ?? 1), maxmem: memory, maxswap: Number(c['swap'] ?? 512) * 1024 * 1024, maxdisk: diskBytes(ct),
    mem: running ? Math.floor(memory / 16) : 0, swap: 0, disk: running ? Math.floor(diskBytes(ct) / 20) : 0,
    uptime: uptime(core, ct), cpu: running ? 0.0012 : 0, netin: 0, netout: 0, diskread: 0, diskwrite: 0,
  };
  if (c['lock'] !== undefined) out['lock'] = c['lock'];
  if (c['tags'] !== undefined) out['tags'] = c['tags'];
  if (c['template']) out['template'] = 1;
  if (running) out['pid'] = ct.pid ?? 10000 + ct.vmid;
  return out;
}

function checkLock(ct: Container, allow?: string): void {
  const lock = ct.conf['lock'];
  if (lock !== undefined && lock !== allow) fail(`CT is locked (${lock})`);
}

const isBind = (volume: unknown) => typeof volume === 'string' && volume.startsWith('/');

/** Checks PVE makes with `$authuser eq 'root@pam'`: API tokens (even root's) never pass them. */
function checkRootOnly(ctx: Ctx, changes: Record<string, unknown>, before: ConfigValues): void {
  if (ctx.identity?.full === 'root@pam') return;
  for (const [key, value] of Object.entries(changes)) {
    if (key === 'features' && rootOnlyFeatureChange(before['features'] as string | undefined, value as string | undefined)) {
      throw new ApiError(403, 'Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)');
    }
    if (/^mp\d+$/.test(key) && typeof value === 'string' && isBind(parseKey(key, value)['volume'])) {
      throw new ApiError(403, 'Permission check failed (mount point type bind is only allowed for root@pam)');
    }
    if (/^dev\d+$/.test(key)) throw new ApiError(403, 'Permission check failed (configuring device passthrough is only allowed for root@pam)');
    if (key === 'hookscript') throw new ApiError(403, 'Permission check failed (changing the hookscript is only allowed for root@pam)');
  }
}

function checkSkiplock(ctx: Ctx): void {
  if (ctx.params['skiplock'] && ctx.identity?.full !== 'root@pam') paramError('skiplock', 'Only root may use this option.');
}

function setStatus(core: Core, ct: Container, status: 'running' | 'stopped'): void {
  ct.status = status;
  ct.changedAt = core.opts.clock();
  if (status === 'running') ct.startedAt = core.opts.clock();
  else delete ct.startedAt;
}

// ---- create ----

const createSchema = configSchema({
  ...base,
  vmid: { ...vmidProp },
  ostemplate: { type: 'string', maxLength: 255 },
  password: str({ minLength: 5 }),
  'ssh-public-keys': str(),
  storage: str({ pattern: /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i }),
  force: bool(), restore: bool(), unique: bool({ requires: 'restore' }), pool: str(), 'ignore-unpack-errors': bool(),
  bwlimit: { type: 'number', optional: true, minimum: 0 }, start: bool(), 'ha-managed': bool(),
});

const NEW_DISK = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i;

async function createCt(ctx: Ctx): Promise<string> {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  core.state.node(node);
  const storageDefault = String(params['storage'] ?? 'local');
  const ostemplate = String(params['ostemplate']);
  const conf: ConfigValues = {};
  for (const [k, v] of Object.entries(params)) if (isConfigKey(k) && k !== 'vmid') conf[k] = v;
  checkRootOnly(ctx, conf, {});
  core.state.assertVmidUnused(vmid);

  // Disks: bare numbers mean `<storage>:<GiB>`; no rootfs means `<storage>:4`.
  conf['rootfs'] ??= `${storageDefault}:4`;
  const disks: Array<{ key: string; values: Record<string, string | number>; newSize?: number; sid?: string }> = [];
  // create_disks walks the volume keys in valid_volume_keys order (rootfs, mp0, mp1…), whatever order they were
  // sent in, so rootfs is always disk-0 (pve-container src/PVE/LXC/Config.pm valid_volume_keys).
  const volumeKeys = Object.keys(conf).filter((k) => k === 'rootfs' || /^mp\d+$/.test(k));
  volumeKeys.sort((a, b) => (a === 'rootfs' ? -1 : b === 'rootfs' ? 1 : Number(a.slice(2)) - Number(b.slice(2))));
  for (const key of volumeKeys) {
    let raw = String(conf[key]);
    if (/^\d+(\.\d+)?$/.test(raw)) raw = `${storageDefault}:${raw}`;
    else {
      const first = raw.split(',')[0] ?? '';
      if (/^\d+(\.\d+)?$/.test(first)) raw = `${storageDefault}:${raw}`;
    }
    const values = parseKey(key, raw);
    const m = NEW_DISK.exec(String(values['volume']));
    if (m) {
      const sid = m[1]!;
      const st = core.state.node(node).storages.get(sid);
      if (!st) fail(`storage '${sid}' does not exist`);
      if (!st.def.content.includes('rootdir')) paramError('storage', `storage '${sid}' does not support container directories`);
      checkPerm(ctx, `/storage/${sid}`, 'Datastore.AllocateSpace');
      disks.push({ key, values, newSize: Number(m[2]), sid });
    } else disks.push({ key, values });
  }

  // Like create_and_lock_config: the config exists at once, locked `create`, and the flock is held
  // for the whole worker.
  const release = await core.flocks.acquire(vmid);
  let ct: Container;
  try {
    core.state.assertVmidUnused(vmid);
    ct = { node, vmid, conf: { lock: 'create' }, pending: {}, pendingDelete: new Set(), status: 'stopped', changedAt: core.opts.clock() };
    core.state.guests.set(vmid, ct);
  } catch (e) {
    release();
    throw e;
  }
  const start = params['start'] === 1;
  return startTask(ctx, node, 'vzcreate', String(vmid), async (task) => {
    const allocated: string[] = [];
    try {
      await task.sleep();
      const tmpl = core.state.findVolume(node, ostemplate);
      if (!tmpl || tmpl.content !== 'vztmpl') throw new Error(`volume '${ostemplate}' does not exist`);
      for (const d of disks) {
        if (d.newSize !== undefined && d.sid) {
          const vol = await allocateDisk(core, node, d.sid, vmid, d.newSize * 1024 ** 3);
          allocated.push(vol.volid);
          d.values['volume'] = vol.volid;
          d.values['size'] = formatSize(vol.size);
        }
        conf[d.key] = printKey(d.key, d.values);
      }
      task.log(`extracting archive '/var/lib/vz/template/cache/${ostemplate.replace(/^[^:]*:vztmpl\//, '')}'`);
      task.log(`Total bytes read: ${tmpl.size}`);
      const final: ConfigValues = {};
      for (const [k, v] of Object.entries(conf)) final[k] = storedValue(k, v);
      final['hostname'] ??= `CT${vmid}`;
      final['memory'] ??= 512;
      final['swap'] ??= 512;
      final['unprivileged'] ??= 1;
      final['arch'] ??= 'amd64';
      final['ostype'] ??= /^(debian|ubuntu|alpine|centos|fedora|archlinux|devuan|opensuse|gentoo|nixos)/.exec(ostemplate.replace(/^[^:]*:vztmpl\//, ''))?.[1] ?? 'unmanaged';
      task.log(`Detected container architecture: ${final['arch']}`);
      // restore_oci_archive / restore_archive (API2/LXC.pm create_vm): the OCI config mapping, and with a runtime
      // the extraction into the rootfs.
      const restored = await (core.opts.runtime ?? memoryBackend).restore(node, vmid, final, tmpl, (l) => task.log(l));
      ct.conf = restored.conf;
      if (restored.lxc?.length) ct.lxc = restored.lxc;
      commitConfig(ct);
    } catch (err) {
      for (const volid of allocated) await freeVolume(core, node, volid).catch((e: Error) => task.log(`could not free ${volid}: ${e.message}`));
      if (core.state.guests.get(vmid) === ct) core.state.guests.delete(vmid);
      if (err instanceof InjectedTaskError) throw err;
      throw new Error(`unable to create CT ${vmid} - ${(err as Error).message}`, { cause: err });
    } finally {
      release();
    }
    if (start) {
      const upid = startTask({ ...ctx, fault: undefined }, node, 'vzstart', String(vmid), (t) => startWorker(core, node, vmid, t.sleep.bind(t), false, (l) => t.log(l), (l) => t.warn(l)));
      task.log(`starting CT ${vmid}: ${upid}`);
    }
  });
}

/** Start a CT (as the vzstart worker does), for other workers: rollback with `start`. */
export function startContainer(core: Core, node: string, vmid: number, sleep: () => Promise<void>, log?: (line: string) => void): Promise<void> {
  return startWorker(core, node, vmid, sleep, false, log);
}

/** `vm_stop` from inside another worker that holds the CT's flock (snapshot rollback). */
export function stopContainer(core: Core, ct: Container): void {
  setStatus(core, ct, 'stopped');
}

async function startWorker(core: Core, node: string, vmid: number, sleep: () => Promise<void>, skiplock = false, log?: (line: string) => void, warn?: (line: string) => void): Promise<void> {
  await core.flocks.with(vmid, async () => {
    const ct = core.state.ct(node, vmid);
    if (ct.conf['template']) fail(`you can't start a CT if it's a template`);
    if (!skiplock) checkLock(ct, 'mounted');
    if (ct.status === 'running') fail(`CT ${vmid} already running`);
    await sleep();
    for (const volid of applyAllPending(ct)) await freeVolume(core, node, volid);
    assertBridges(core, ct, log);
    await core.opts.runtime?.start?.(ct, warn);
    setStatus(core, ct, 'running');
  });
}

/**
 * lxcnetaddbr (the veth's up hook) dies with `bridge '<b>' does not exist` when the bridge is missing; lxc-start
 * aborts, vm_start prints the CT's stderr log into the task and dies with `startup for container '<id>' failed`
 * (pve-container src/lxcnetaddbr, src/PVE/LXC.pm monitor_start). Pending changes were applied before that.
 */
function assertBridges(core: Core, ct: Container, log?: (line: string) => void): void {
  for (const key of Object.keys(ct.conf).filter((k) => /^net\d+$/.test(k)).sort()) {
    const bridge = parseKey(key, String(ct.conf[key]))['bridge'];
    if (bridge === undefined || bridgeExists(core, ct.node, String(bridge))) continue;
    log?.(`bridge '${bridge}' does not exist`);
    fail(`startup for container '${ct.vmid}' failed`);
  }
}

// ---- config ----

function configGet(ctx: Ctx): unknown {
  const { core, params } = ctx;
  // API2/LXC/Config.pm vm_config: both given (and true) is a 400 on both keys.
  if (params['current'] && params['snapshot']) {
    const msg = "cannot use 'snapshot' parameter with 'current'";
    throw new ParamError({ snapshot: msg, current: msg });
  }
  const ct = core.state.ct(String(params['node']), Number(params['vmid']));
  if (params['snapshot']) {
    // AbstractConfig.pm load_snapshot_config.
    const snap = ct.snapshots?.[String(params['snapshot'])];
    if (!snap) fail(`snapshot '${params['snapshot']}' does not exist`);
    return { ...snap, digest: configDigest(ct) };
  }
  const conf = params['current'] ? { ...ct.conf } : mergedConfig(ct);
  return { ...conf, ...(ct.lxc?.length ? { lxc: ct.lxc.map(([k, v]) => [k, v]) } : {}), digest: configDigest(ct) };
}

// delete and revert are `pve-configid-list`: repeated keys arrive joined with ','.
const putSchema = configSchema({ ...base, delete: str({ list: true }), revert: str({ list: true }), digest: str({ maxLength: 40 }) });

async function configPut(ctx: Ctx): Promise<null> {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const sets: ConfigValues = {};
  for (const [k, v] of Object.entries(params)) if (isConfigKey(k) && k !== 'vmid') sets[k] = v;
  const deletes = splitList(params['delete']);
  const reverts = splitList(params['revert']);
  // update_vm: `no options specified` only when nothing but node, vmid and digest was sent (an empty delete is fine).
  if (!Object.keys(params).some((k) => !['node', 'vmid', 'digest'].includes(k))) fail('no options specified');

  for (const k of deletes) {
    if (!isConfigKey(k)) paramError('delete', `unknown option '${k}'`);
    if (sets[k] !== undefined) paramError('delete', `you can't use '-${k}' and -delete ${k}' at the same time`);
    if (reverts.includes(k)) paramError('delete', `you can't use '-delete ${k}' and '-revert ${k}' at the same time`);
  }
  for (const k of reverts) {
    if (!isConfigKey(k)) paramError('revert', `unknown option '${k}'`);
    if (sets[k] !== undefined) paramError('revert', `you can't use '-${k}' and '-revert ${k}' at the same time`);
  }
  for (const k of [...Object.keys(sets), ...deletes, ...reverts]) checkPerm(ctx, `/vms/${vmid}`, privForConfigKey(k));

  const result = await core.flocks.with(vmid, async () => {
    const ct = core.state.ct(node, vmid);
    checkLock(ct);
    if (params['digest'] !== undefined && params['digest'] !== configDigest(ct)) {
      fail('detected modified configuration - file changed by other user? Try again.');
    }
    checkRootOnly(ctx, sets, mergedConfig(ct));
    await allocateNewDisks(ctx, ct, sets);
    let r;
    const netsBefore = netValues(ct.conf);
    try {
      r = updateConfig(ct, { sets, deletes, reverts }, ct.status === 'running', (b) => bridgeExists(core, node, b));
    } catch (e) {
      fail((e as Error).message);
    }
    for (const volid of r.toFree) await freeVolume(core, node, volid);
    if (ct.status === 'running' && core.opts.runtime?.updateNet) await hotplugNets(core.opts.runtime.updateNet, ct, netsBefore, r.errors);
    return r;
  });
  if (Object.keys(result.errors).length) throw new ParamError(result.errors);
  return null;
}

const netValues = (conf: ConfigValues) => Object.fromEntries(Object.entries(conf).filter(([k]) => /^net\d+$/.test(k)).map(([k, v]) => [k, String(v)]));

/**
 * Config.pm `vmconfig_hotplug_pending` for NICs of a running CT with a runtime: each netN the update changed, added or
 * removed goes to the real container (LXC.pm update_net / the hot-unplug branch). A failure is that key's hotplug
 * error, as PVE adds it: the change goes back to pending and the call fails naming it.
 */
async function hotplugNets(update: NonNullable<RuntimeBackend['updateNet']>, ct: Container, before: Record<string, string>, errors: Record<string, string>): Promise<void> {
  const after = netValues(ct.conf);
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    if (before[key] === after[key]) continue;
    try {
      await update(ct, key, before[key], after[key]);
    } catch (err) {
      if (after[key] !== undefined) ct.pending[key] = after[key]!;
      else ct.pendingDelete.add(key);
      if (before[key] !== undefined) ct.conf[key] = before[key]!;
      else delete ct.conf[key];
      commitConfig(ct);
      errors[key] = `unable to hotplug ${key}: ${(err as Error).message}\n`;
    }
  }
}

/** `/sys/class/net/<bridge>` on the node: any active host interface of that name. */
export function bridgeExists(core: Core, node: string, bridge: string): boolean {
  return core.state.node(node).network.active.some((i) => i.iface === bridge);
}

/**
 * `STORAGE:SIZE` volumes in a config update are allocated at once, as PVE's update does (the
 * volume they replace becomes `unusedN` only when the change applies; see lxc-update.ts).
 */
async function allocateNewDisks(ctx: Ctx, ct: Container, sets: ConfigValues): Promise<void> {
  for (const key of Object.keys(sets).filter((k) => k === 'rootfs' || /^mp\d+$/.test(k))) {
    const values = parseKey(key, String(sets[key]));
    const m = NEW_DISK.exec(String(values['volume']));
    if (!m) continue;
    const sid = m[1]!;
    const st = ctx.core.state.node(ct.node).storages.get(sid);
    if (!st) fail(`storage '${sid}' does not exist`);
    if (!st.def.content.includes('rootdir')) paramError(key, `storage '${sid}' does not support container directories`);
    checkPerm(ctx, `/storage/${sid}`, 'Datastore.AllocateSpace');
    const vol = await allocateDisk(ctx.core, ct.node, sid, ct.vmid, Math.round(Number(m[2]) * 1024 ** 3));
    values['volume'] = vol.volid;
    values['size'] = formatSize(vol.size);
    sets[key] = printKey(key, values);
  }
}

function pendingGet(ctx: Ctx): unknown {
  const ct = ctx.core.state.ct(String(ctx.params['node']), Number(ctx.params['vmid']));
  const keys = [...new Set([...Object.keys(ct.conf), ...Object.keys(ct.pending), ...ct.pendingDelete])].sort();
  return keys.map((key) => {
    const row: Record<string, unknown> = { key };
    const show = (v: unknown) => v;
    if (ct.conf[key] !== undefined) row['value'] = show(ct.conf[key]);
    if (ct.pending[key] !== undefined) row['pending'] = show(ct.pending[key]);
    if (ct.pendingDelete.has(key)) row['delete'] = 1;
    return row;
  });
}

// ---- power ----

function powerStart(ctx: Ctx): string {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  core.state.node(node);
  checkSkiplock(ctx);
  const ct = core.state.guests.get(vmid);
  if (ct && ct.node === node && ct.status === 'running') fail(`CT ${vmid} already running`);
  // A nonexistent CT still gets a UPID; the task fails on the missing config.
  return startTask(ctx, node, 'vzstart', String(vmid), (t) => startWorker(core, node, vmid, () => t.sleep(), params['skiplock'] === 1, (l) => t.log(l), (l) => t.warn(l)));
}

function runningCt(ctx: Ctx, notRunning: string): Container {
  const ct = ctx.core.state.ct(String(ctx.params['node']), Number(ctx.params['vmid']));
  if (ct.status !== 'running') fail(notRunning);
  return ct;
}

function powerStop(ctx: Ctx): string {
  const { core, params } = ctx;
  const vmid = Number(params['vmid']);
  checkSkiplock(ctx);
  const ct = runningCt(ctx, `CT ${vmid} not running`);
  return startTask(ctx, ct.node, 'vzstop', String(vmid), (t) =>
    core.flocks.with(vmid, async () => {
      if (!params['skiplock']) checkLock(ct, 'mounted');
      await t.sleep();
      await core.opts.runtime?.stop?.(ct);
      setStatus(core, ct, 'stopped');
    }),
  );
}

function powerShutdown(ctx: Ctx): string {
  const { core, params } = ctx;
  const vmid = Number(params['vmid']);
  const ct = runningCt(ctx, `CT ${vmid} not running`);
  const timeoutS = Number(params['timeout'] ?? 60);
  return startTask(ctx, ct.node, 'vzshutdown', String(vmid), (t) =>
    core.flocks.with(vmid, async () => {
      checkLock(ct, 'mounted');
      const rt = core.opts.runtime;
      if (rt?.shutdown) await rt.shutdown(ct, timeoutS, !!params['forceStop']);
      else if (ct.ignoreShutdown) {
        await t.sleep(timeoutS * 1000);
        if (!params['forceStop']) fail('container did not stop');
        t.log('container did not stop within timeout, forcing stop');
      } else await t.sleep();
      setStatus(core, ct, 'stopped');
    }, core.opts.lockTimeoutMs + timeoutS * 1000),
  );
}

function powerReboot(ctx: Ctx): string {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const ct = runningCt(ctx, `VM ${vmid} not running`);
  return startTask(ctx, ct.node, 'vzreboot', String(vmid), (t) =>
    core.flocks.with(vmid, async () => {
      checkLock(ct, 'mounted');
      await t.sleep();
      // vm_reboot: vm_stop with kill after the timeout, then vm_start.
      await core.opts.runtime?.shutdown?.(ct, Number(params['timeout'] ?? 60), true);
      setStatus(core, ct, 'stopped');
      for (const volid of applyAllPending(ct)) await freeVolume(core, node, volid);
      assertBridges(core, ct, (l) => t.log(l));
      await core.opts.runtime?.start?.(ct, (l) => t.warn(l));
      setStatus(core, ct, 'running');
    }),
  );
}

// ---- destroy, resize, template ----

function ownedVolumes(ct: Container): string[] {
  const vols: string[] = [];
  for (const [k, v] of Object.entries(ct.conf)) {
    if (k === 'rootfs' || /^mp\d+$/.test(k)) {
      const volume = parseKey(k, String(v))['volume'];
      if (!isBind(volume)) vols.push(String(volume));
    } else if (/^unused\d+$/.test(k)) vols.push(String(v));
  }
  // Volumes only a snapshot still references go with the CT too.
  for (const snap of Object.values(ct.snapshots ?? {})) {
    for (const [k, v] of Object.entries(snap)) {
      if (k !== 'rootfs' && !/^mp\d+$/.test(k)) continue;
      const volume = String(parseKey(k, String(v))['volume']);
      if (!isBind(volume) && !vols.includes(volume)) vols.push(volume);
    }
  }
  return vols;
}

function destroy(ctx: Ctx): string {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const ct = core.state.ct(node, vmid);
  checkLock(ct);
  if (ct.conf['protection']) fail(`can't remove CT ${vmid} - protection mode enabled`);
  if (ct.status === 'running' && !params['force']) fail(`unable to destroy CT ${vmid} - container is running`);
  return startTask(ctx, node, 'vzdestroy', String(vmid), (t) =>
    core.flocks.with(vmid, async () => {
      ct.conf['lock'] = 'destroyed';
      try {
        await t.sleep();
      } catch (err) {
        delete ct.conf['lock'];
        throw err;
      }
      await core.opts.runtime?.destroy?.(ct);
      if (ct.status === 'running') setStatus(core, ct, 'stopped');
      for (const volid of ownedVolumes(ct)) await freeVolume(core, node, volid);
      if (params['destroy-unreferenced-disks'] ?? 1) {
        for (const st of core.state.node(node).storages.values()) {
          for (const v of [...st.volumes.values()]) if (v.vmid === vmid && v.content === 'rootdir') st.volumes.delete(v.volid);
        }
      }
      if (params['purge']) t.log(`purging CT ${vmid} from related configurations..`);
      core.state.guests.delete(vmid);
    }),
  );
}

async function resize(ctx: Ctx): Promise<string> {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const disk = String(params['disk']);
  const release = await core.flocks.acquire(vmid);
  try {
    const ct = core.state.ct(node, vmid);
    checkLock(ct);
    if (params['digest'] !== undefined && params['digest'] !== configDigest(ct)) fail('detected modified configuration - file changed by other user? Try again.');
    const raw = ct.conf[disk];
    if (typeof raw !== 'string') fail(`disk '${disk}' does not exist`);
    const values = parseKey(disk, raw);
    const current = values['size'] ? parseSize(String(values['size'])) : 0;
    const spec = String(params['size']);
    const delta = parseSize(spec.replace(/^\+/, ''));
    const target = spec.startsWith('+') ? current + delta : delta;
    if (target < current) fail('unable to shrink disk size');
    if (target === current) fail('disk is already at specified size');
    const upid = startTask(ctx, node, 'resize', String(vmid), async (t) => {
      try {
        await t.sleep();
        values['size'] = formatSize(target);
        ct.conf[disk] = printKey(disk, values);
        const vol = core.state.findVolume(node, String(values['volume']));
        if (vol) vol.size = target;
      } finally {
        release();
      }
    });
    return upid;
  } catch (e) {
    release();
    throw e;
  }
}

function template(ctx: Ctx): null {
  const { core, params } = ctx;
  const node = String(params['node']);
  const vmid = Number(params['vmid']);
  const ct = core.state.ct(node, vmid);
  checkLock(ct);
  if (Object.keys(ct.snapshots ?? {}).length) fail('unable to create template, because CT contains snapshots');
  if (ct.conf['template']) fail(`you can't convert a template to a template`);
  if (ct.status === 'running') fail(`you can't convert a CT to template if the CT is running`);
  // PVE forks a vztemplate worker but returns null, so callers cannot wait for it.
  startTask(ctx, node, 'vztemplate', String(vmid), (t) =>
    core.flocks.with(vmid, async () => {
      await t.sleep();
      for (const [k, v] of Object.entries(ct.conf)) {
        if (k !== 'rootfs' && !/^mp\d+$/.test(k)) continue;
        const values = parseKey(k, String(v));
        const old = String(values['volume']);
        if (!old.includes(':subvol-') && !old.includes(':vm-')) continue;
        const renamed = old.replace(':subvol-', ':basevol-').replace(':vm-', ':base-');
        const st = core.state.node(node).storages.get(old.split(':')[0]!);
        const vol = st?.volumes.get(old);
        if (st && vol) {
          st.volumes.delete(old);
          st.volumes.set(renamed, { ...vol, volid: renamed });
        }
        values['volume'] = renamed;
        ct.conf[k] = printKey(k, values);
      }
      ct.conf['template'] = 1;
      commitConfig(ct);
    }),
  );
  return null;
}

// ---- interfaces ----

/** A stable fake DHCP lease derived from the MAC, so a stable MAC keeps its address. */
export function dhcpLease(hwaddr: string): string {
  const b = hwaddr.split(':').map((x) => parseInt(x, 16));
  return `10.${b[3] ?? 0}.${b[4] ?? 0}.${2 + ((b[5] ?? 0) % 252)}/8`;
}

async function interfaces(ctx: Ctx): Promise<unknown> {
  const ct = ctx.core.state.ct(String(ctx.params['node']), Number(ctx.params['vmid']));
  await ctx.core.opts.runtime?.refresh?.(ct);
  if (ct.status !== 'running') fail(`CT ${ct.vmid} not running`);
  const rt = ctx.core.opts.runtime;
  if (rt?.interfaces) return rt.interfaces(ct);
  const entry = (name: string, hwaddr: string, inet?: string, inet6?: string) => {
    const ips: Array<Record<string, unknown>> = [];
    for (const [addr, type] of [[inet, 'inet'], [inet6, 'inet6']] as const) {
      if (!addr) continue;
      const [ip, prefix] = addr.split('/');
      ips.push({ 'ip-address': ip, 'ip-address-type': type, prefix: Number(prefix) });
    }
    return { name, hwaddr, 'hardware-address': hwaddr, ...(inet ? { inet } : {}), ...(inet6 ? { inet6 } : {}), 'ip-addresses': ips };
  };
  const out = [entry('lo', '00:00:00:00:00:00', '127.0.0.1/8', '::1/128')];
  const nets = Object.keys(ct.conf).filter((k) => /^net\d+$/.test(k)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  for (const k of nets) {
    const net = parseKey(k, String(ct.conf[k]));
    const mac = String(net['hwaddr']).toLowerCase();
    const ip = net['ip'] === 'dhcp' ? dhcpLease(mac) : net['ip'] !== 'manual' && net['ip'] ? String(net['ip']) : undefined;
    const ip6 = typeof net['ip6'] === 'string' && net['ip6'].includes('/') ? net['ip6'] : undefined;
    out.push(entry(String(net['name']), mac, ip, ip6));
  }
  return out;
}

async function list(ctx: Ctx): Promise<unknown> {
  const node = String(ctx.params['node']);
  ctx.core.state.node(node);
  for (const c of ctx.core.state.guests.values()) if (c.node === node) await ctx.core.opts.runtime?.refresh?.(c);
  // Only CTs the caller may audit are listed.
  return [...ctx.core.state.guests.values()].filter((c) => c.node === node && canPerm(ctx, `/vms/${c.vmid}`, 'VM.Audit')).map((c) => vmStatus(ctx.core, c));
}

async function statusCurrent(ctx: Ctx): Promise<unknown> {
  const ct = ctx.core.state.ct(String(ctx.params['node']), Number(ctx.params['vmid']));
  await ctx.core.opts.runtime?.refresh?.(ct);
  return { ...vmStatus(ctx.core, ct), ha: { managed: 0 } };
}

const ct = '/nodes/{node}/lxc/{vmid}';
export const lxcRoutes: Route[] = [
  { method: 'GET', path: '/nodes/{node}/lxc', schema: nodeOnly, handler: list },
  { method: 'POST', path: '/nodes/{node}/lxc', perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Allocate']], schema: createSchema, handler: createCt },
  { method: 'GET', path: ct, schema: ctOnly, handler: () => [{ subdir: 'config' }, { subdir: 'status' }, { subdir: 'pending' }, { subdir: 'interfaces' }, { subdir: 'resize' }, { subdir: 'template' }, { subdir: 'snapshot' }, { subdir: 'clone' }, { subdir: 'rrddata' }] },
  { method: 'DELETE', path: ct, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Allocate']], schema: { props: { ...base, force: bool(), purge: bool(), 'destroy-unreferenced-disks': bool() } }, handler: destroy },
  { method: 'GET', path: `${ct}/config`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Audit']], schema: { props: { ...base, current: bool(), snapshot: str() } }, handler: configGet },
  { method: 'PUT', path: `${ct}/config`, schema: putSchema, handler: configPut },
  { method: 'GET', path: `${ct}/pending`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Audit']], schema: ctOnly, handler: pendingGet },
  { method: 'GET', path: `${ct}/status`, schema: ctOnly, handler: () => [{ subdir: 'current' }, { subdir: 'start' }, { subdir: 'stop' }, { subdir: 'shutdown' }, { subdir: 'reboot' }] },
  { method: 'GET', path: `${ct}/status/current`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Audit']], schema: ctOnly, handler: statusCurrent },
  { method: 'POST', path: `${ct}/status/start`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.PowerMgmt']], schema: { props: { ...base, skiplock: bool(), debug: bool() } }, handler: powerStart },
  { method: 'POST', path: `${ct}/status/stop`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.PowerMgmt']], schema: { props: { ...base, skiplock: bool(), 'overrule-shutdown': bool() } }, handler: powerStop },
  { method: 'POST', path: `${ct}/status/shutdown`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.PowerMgmt']], schema: { props: { ...base, timeout: int({ minimum: 0 }), forceStop: bool() } }, handler: powerShutdown },
  { method: 'POST', path: `${ct}/status/reboot`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.PowerMgmt']], schema: { props: { ...base, timeout: int({ minimum: 0 }) } }, handler: powerReboot },
  {
    method: 'PUT', path: `${ct}/resize`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Config.Disk']], handler: resize,
    schema: { props: { ...base, disk: { type: 'string', enum: ['rootfs', ...Array.from({ length: 256 }, (_, i) => `mp${i}`)] }, size: { type: 'string', pattern: /^\+?\d+(\.\d+)?[KMGT]?$/ }, digest: str({ maxLength: 40 }) } },
  },
  { method: 'POST', path: `${ct}/template`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Allocate']], schema: ctOnly, handler: template },
  { method: 'GET', path: `${ct}/interfaces`, perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Audit']], schema: ctOnly, handler: interfaces },
];

export type { Params };
