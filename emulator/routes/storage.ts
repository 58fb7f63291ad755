// /nodes/{node}/storage…: status listing, content listing/alloc/delete, multipart upload.
import { createHash } from 'node:crypto';
import type { StorageState, Volume } from '../cluster';
import { ApiError, fail } from '../errors';
import { canPerm, Core, Ctx, paramError, Route, sleep, startTask } from '../core';
import { bool, int, nodeProp, ParamSchema, str } from '../params';
import { formatSize, parseSize } from '../property-string';

const sidProp = { type: 'string' as const, pattern: /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i };

/** Allocate a CT disk the way each storage type names it; a host backend makes the real volume too. */
export async function allocateDisk(core: Core, node: string, sid: string, vmid: number, bytes: number): Promise<Volume> {
  const st = core.state.storage(node, sid);
  const name = (n: number) => {
    switch (st.def.type) {
      case 'zfspool': return `${sid}:subvol-${vmid}-disk-${n}`;
      case 'lvmthin': return `${sid}:vm-${vmid}-disk-${n}`;
      case 'dir': return `${sid}:${vmid}/vm-${vmid}-disk-${n}.raw`;
    }
  };
  let n = 0;
  // find_free_diskname: a name is taken by any volume of that name, linked clones (`base/name`) and bases included.
  const taken = (i: number) => [...st.volumes.keys()].some((v) => {
    const plain = `${sid}:${v.slice(sid.length + 1).replace(/^.*\//, '')}`;
    return plain === name(i) || plain.replace(/:basevol-/, ':subvol-').replace(/:base-/, ':vm-') === name(i);
  });
  while (taken(n)) n++;
  const vol: Volume = {
    volid: name(n), content: 'rootdir', format: st.def.type === 'zfspool' ? 'subvol' : 'raw', size: bytes,
    ctime: Math.floor(core.opts.clock() / 1000), vmid,
  };
  st.volumes.set(vol.volid, vol);
  try {
    await core.opts.hostBackend?.allocateVolume?.(node, st.def, vol.volid, bytes);
  } catch (err) {
    st.volumes.delete(vol.volid);
    throw err;
  }
  return vol;
}

/**
 * PVE::Storage vdisk_clone: a new volume of the target CT cloned from a base volume (or an LVM-thin snapshot).
 * ZFS names it `<storage>:<basename>/subvol-<vmid>-disk-<n>` (ZFSPoolPlugin clone_image), LVM-thin
 * `<storage>:vm-<vmid>-disk-<n>`. A host backend gets the plain volume name to allocate.
 */
export async function linkedCloneVolume(core: Core, node: string, volid: string, vmid: number): Promise<Volume> {
  const sid = volid.split(':')[0]!;
  const st = core.state.storage(node, sid);
  const source = st.volumes.get(volid);
  const basename = volid.slice(sid.length + 1).replace(/\/.*$/, '');
  const plain = (n: number) => (st.def.type === 'zfspool' ? `subvol-${vmid}-disk-${n}` : `vm-${vmid}-disk-${n}`);
  const taken = (n: number) => [...st.volumes.keys()].some((v) => v.slice(sid.length + 1).replace(/^.*\//, '') === plain(n));
  let n = 0;
  while (taken(n)) n++;
  const name = st.def.type === 'zfspool' ? `${basename}/${plain(n)}` : plain(n);
  const vol: Volume = {
    volid: `${sid}:${name}`, content: 'rootdir', format: st.def.type === 'zfspool' ? 'subvol' : 'raw', size: source?.size ?? 0,
    ctime: Math.floor(core.opts.clock() / 1000), vmid,
  };
  st.volumes.set(vol.volid, vol);
  try {
    await core.opts.hostBackend?.allocateVolume?.(node, st.def, `${sid}:${plain(n)}`, vol.size);
  } catch (err) {
    st.volumes.delete(vol.volid);
    throw err;
  }
  return vol;
}

export async function freeVolume(core: Core, node: string, volid: string): Promise<void> {
  const sid = volid.split(':')[0] ?? '';
  const st = core.state.nodes.get(node)?.storages.get(sid);
  if (!st?.volumes.delete(volid)) return;
  await core.opts.hostBackend?.freeVolume?.(node, st.def, volid);
}

/** The datacenter storage.cfg entry as `GET /storage` shows it (same definitions on every node here). */
function storageConfigRow(st: StorageState): Record<string, unknown> {
  const { storage, type, content, shared, pool } = st.def;
  return { storage, type, content: content.join(','), ...(shared ? { shared } : {}), ...(pool ? { pool, sparse: 1 } : {}), digest: createHash('sha1').update(JSON.stringify(st.def)).digest('hex') };
}

function firstNodeStorages(ctx: Ctx): StorageState[] {
  const first = ctx.core.state.nodes.values().next().value;
  return first ? [...first.storages.values()] : [];
}

/** `GET /storage`: entries the caller has Datastore.Audit or Datastore.AllocateSpace on (PVE API2/Storage/Config.pm). */
function configIndex(ctx: Ctx): unknown {
  return firstNodeStorages(ctx)
    .filter((st) => ctx.params['type'] === undefined || st.def.type === ctx.params['type'])
    .filter((st) => canPerm(ctx, `/storage/${st.def.storage}`, 'Datastore.Audit') || canPerm(ctx, `/storage/${st.def.storage}`, 'Datastore.AllocateSpace'))
    .map(storageConfigRow);
}

function configRead(ctx: Ctx): unknown {
  const st = firstNodeStorages(ctx).find((s) => s.def.storage === ctx.params['storage']);
  if (!st) fail(`storage '${String(ctx.params['storage'])}' does not exist`);
  return storageConfigRow(st);
}

function used(st: StorageState): number {
  let n = 0;
  for (const v of st.volumes.values()) n += v.size;
  return n;
}

function storageRow(st: StorageState): Record<string, unknown> {
  const u = used(st);
  return {
    storage: st.def.storage, type: st.def.type, content: st.def.content.join(','), enabled: 1, active: 1, shared: st.def.shared,
    total: st.def.total, used: u, avail: st.def.total - u, used_fraction: u / st.def.total,
  };
}

export function storageResource(node: string, st: StorageState): Record<string, unknown> {
  return {
    id: `storage/${node}/${st.def.storage}`, storage: st.def.storage, node, type: 'storage', plugintype: st.def.type, status: 'available',
    shared: st.def.shared, content: st.def.content.join(','), disk: used(st), maxdisk: st.def.total,
  };
}

function index(ctx: Ctx): unknown {
  const node = String(ctx.params['node']);
  const n = ctx.core.state.node(node);
  const content = ctx.params['content'] === undefined ? [] : String(ctx.params['content']).split(',');
  return [...n.storages.values()]
    .filter((st) => ctx.params['storage'] === undefined || st.def.storage === ctx.params['storage'])
    .filter((st) => content.every((c) => st.def.content.includes(c)))
    .filter((st) => canPerm(ctx, `/storage/${st.def.storage}`, 'Datastore.Audit') || canPerm(ctx, `/storage/${st.def.storage}`, 'Datastore.AllocateSpace'))
    .map(storageRow);
}

export function volumeRow(v: Volume): Record<string, unknown> {
  const { data: _data, ...row } = v;
  return row;
}

function contentList(ctx: Ctx): unknown {
  const st = ctx.core.state.storage(String(ctx.params['node']), String(ctx.params['storage']));
  return [...st.volumes.values()]
    .filter((v) => ctx.params['content'] === undefined || v.content === ctx.params['content'])
    .filter((v) => ctx.params['vmid'] === undefined || v.vmid === ctx.params['vmid'])
    .map(volumeRow);
}

/** `{volume}` may be a full volid or storage-relative; a foreign storage id is a 400. */
function resolveVolid(ctx: Ctx): string {
  const sid = String(ctx.params['storage']);
  const volume = String(ctx.params['volume']);
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.exec(volume);
  if (!m) return `${sid}:${volume}`;
  if (m[1] !== sid) paramError('volume', `storage ID mismatch (${m[1]} != ${sid})`);
  return volume;
}

function contentGet(ctx: Ctx): unknown {
  const node = String(ctx.params['node']);
  const volid = resolveVolid(ctx);
  const vol = ctx.core.state.storage(node, String(ctx.params['storage'])).volumes.get(volid);
  if (!vol) fail(`volume '${volid}' does not exist`);
  return { path: `/var/lib/vz/${volid.split(':')[1]}`, size: vol.size, used: vol.size, format: vol.format, ...(vol.notes ? { notes: vol.notes } : {}) };
}

async function contentAlloc(ctx: Ctx): Promise<unknown> {
  const node = String(ctx.params['node']);
  const sid = String(ctx.params['storage']);
  const st = ctx.core.state.storage(node, sid);
  if (!st.def.content.includes('images') && !st.def.content.includes('rootdir')) fail(`storage '${sid}' does not support vm images`);
  const vmid = Number(ctx.params['vmid']);
  const size = String(ctx.params['size']);
  const bytes = /^\d+$/.test(size) ? Number(size) * 1024 : parseSize(size);
  const vol = await allocateDisk(ctx.core, node, sid, vmid, bytes);
  return vol.volid;
}

async function contentDelete(ctx: Ctx): Promise<unknown> {
  const { core } = ctx;
  const node = String(ctx.params['node']);
  const sid = String(ctx.params['storage']);
  const st = core.state.storage(node, sid);
  const volid = resolveVolid(ctx);
  const vol = st.volumes.get(volid);
  if (vol?.protected) fail(`volume '${volid}' is protected`);
  const id = vol?.vmid !== undefined ? `${vol.vmid}@${sid}` : sid;
  const upid = startTask(ctx, node, 'imgdel', id, async (t) => {
    await t.sleep();
    if (!st.volumes.has(volid)) throw new Error(`volume '${volid}' does not exist`);
    await freeVolume(core, node, volid);
    t.log(`Removed volume '${volid}'`);
  });
  const delay = ctx.params['delay'];
  if (delay === undefined) return upid;
  // With `delay`, PVE waits up to that long: null on success, the task's error on failure.
  const rec = core.tasks.get(upid);
  const finished = await Promise.race([rec.done.then(() => true), sleep(Number(delay) * 1000).then(() => false)]);
  if (!finished) return upid;
  if (rec.exitstatus !== 'OK' && !rec.exitstatus?.startsWith('WARNINGS')) fail(rec.exitstatus ?? 'unexpected status');
  return null;
}

const ALGOS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;

function upload(ctx: Ctx): string {
  const { core, params, file } = ctx;
  const node = String(params['node']);
  const sid = String(params['storage']);
  const content = String(params['content']);
  const st = core.state.storage(node, sid);
  if (st.def.type !== 'dir') fail(`can't upload to storage type '${st.def.type}', not a file based storage!`);
  if (!st.def.content.includes(content)) fail(`storage '${sid}' is not configured for content-type '${content}'`);
  if (!file) throw new ApiError(400, 'missing file upload');
  const filename = String(params['filename'] ?? file.filename).replace(/^.*\//, '').replace(/[^a-zA-Z0-9_.-]/g, '_');
  if (content === 'vztmpl' && !/\.tar(\.(gz|xz|zst|bz2))?$/.test(filename)) paramError('filename', 'wrong file extension');
  if (content === 'iso' && !/\.(iso|img)$/i.test(filename)) paramError('filename', 'wrong file extension');
  const algo = params['checksum-algorithm'] as (typeof ALGOS)[number] | undefined;
  const expect = params['checksum'] as string | undefined;
  const volid = `${sid}:${content}/${filename}`;
  return startTask(ctx, node, 'imgcopy', '', async (t) => {
    t.log(`starting file import from: /var/tmp/pveupload-${Date.now().toString(16)}`);
    if (algo && expect) {
      t.log(`calculating checksum...`);
      const got = createHash(algo).update(file.data).digest('hex');
      if (got.toLowerCase() !== expect.toLowerCase()) throw new Error(`checksum mismatch: got '${got}' != expect '${expect}'`);
      t.log('checksum verified');
    }
    await t.sleep();
    const format = content === 'iso' ? 'iso' : ({ gz: 'tgz', xz: 'txz', zst: 'tzst', bz2: 'tbz2' }[/\.tar\.(\w+)$/.exec(filename)?.[1] ?? ''] ?? 'tar');
    // An existing file is silently overwritten, as on PVE.
    st.volumes.set(volid, { volid, content, format, size: file.data.length, ctime: Math.floor(core.opts.clock() / 1000), data: file.data });
    t.log(`target file: /var/lib/vz/template/${content === 'iso' ? 'iso' : 'cache'}/${filename}`);
    t.log(`file size is: ${file.data.length}`);
  });
}

const nodeStorage = { node: nodeProp, storage: sidProp };
const contentSchema: ParamSchema = { props: { ...nodeStorage, volume: { type: 'string' } } };
export const storageRoutes: Route[] = [
  { method: 'GET', path: '/storage', schema: { props: { type: str({ enum: ['dir', 'zfspool', 'lvmthin'] }) } }, handler: configIndex },
  { method: 'GET', path: '/storage/{storage}', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.Allocate']], schema: { props: { storage: sidProp } }, handler: configRead },
  {
    method: 'GET', path: '/nodes/{node}/storage', handler: index,
    schema: { props: { node: nodeProp, content: str(), enabled: bool(), storage: str(), target: str(), format: bool() } },
  },
  { method: 'GET', path: '/nodes/{node}/storage/{storage}', schema: { props: nodeStorage }, handler: () => [{ subdir: 'content' }, { subdir: 'status' }, { subdir: 'upload' }] },
  {
    method: 'GET', path: '/nodes/{node}/storage/{storage}/status', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.Audit']], schema: { props: nodeStorage },
    handler: (ctx) => storageRow(ctx.core.state.storage(String(ctx.params['node']), String(ctx.params['storage']))),
  },
  { method: 'GET', path: '/nodes/{node}/storage/{storage}/content', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.Audit']], schema: { props: { ...nodeStorage, content: str(), vmid: int({ minimum: 100 }) } }, handler: contentList },
  {
    method: 'POST', path: '/nodes/{node}/storage/{storage}/content', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.AllocateSpace']], handler: contentAlloc,
    schema: { props: { ...nodeStorage, filename: { type: 'string' }, size: { type: 'string', pattern: /^\d+[KMG]?$/ }, vmid: { type: 'integer', minimum: 100 }, format: str({ enum: ['raw', 'qcow2', 'subvol', 'vmdk'] }) } },
  },
  { method: 'GET', path: '/nodes/{node}/storage/{storage}/content/{volume*}', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.Audit']], schema: contentSchema, handler: contentGet },
  { method: 'DELETE', path: '/nodes/{node}/storage/{storage}/content/{volume*}', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.Allocate']], schema: { props: { ...contentSchema.props, delay: int({ minimum: 1, maximum: 30 }) } }, handler: contentDelete },
  {
    method: 'POST', path: '/nodes/{node}/storage/{storage}/upload', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.AllocateTemplate']], multipart: true, csrfExempt: true, handler: upload,
    schema: {
      props: {
        ...nodeStorage, content: { type: 'string', enum: ['iso', 'vztmpl', 'import'] }, filename: { type: 'string', maxLength: 255 },
        checksum: str({ requires: 'checksum-algorithm' }), 'checksum-algorithm': str({ enum: ALGOS, requires: 'checksum' }), tmpfilename: str(),
      },
    },
  },
];

export { formatSize };
