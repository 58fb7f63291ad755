// Node and datacenter read-outs third-party clients call on connect or plan: /nodes/{node}/qemu (no VMs here, only
// VMIDs registered for collisions), version, dns, time, hosts, aplinfo, rrddata, query-url-metadata and the storage
// download-url; /access/users and /access/permissions; /cluster/options. Shapes follow pve-manager
// PVE/API2/Nodes.pm, PVE/API2/Cluster.pm, pve-storage src/PVE/API2/Storage/Status.pm (download_url) and
// pve-access-control src/PVE/API2/User.pm / AccessControl.pm.
import { createHash } from 'node:crypto';
import { fetch as undiciFetch } from 'undici';
import { fail } from '../errors';
import { Ctx, paramError, Route, startTask } from '../core';
import { bool, nodeProp, str, vmidProp } from '../params';
import { DEFAULT_TEMPLATE } from '../cluster';
import { PVE_VERSION } from './cluster';

const node = { node: nodeProp };
const nodeName = (ctx: Ctx) => (ctx.core.state.node(String(ctx.params['node'])), String(ctx.params['node']));

/** Tests may only fetch from loopback: anything else is refused before a connection is made. */
function assertLoopback(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    paramError('url', 'invalid format - invalid url');
  }
  if (!/^https?:$/.test(u.protocol)) paramError('url', 'invalid format - invalid url');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || /^127\./.test(host) || host === '::1')) fail(`the emulator only fetches from loopback, not '${u.hostname}'`);
  return u;
}

async function queryUrlMetadata(ctx: Ctx): Promise<unknown> {
  nodeName(ctx);
  const url = String(ctx.params['url']);
  assertLoopback(url);
  const res = await undiciFetch(url, { method: 'HEAD' });
  if (res.status !== 200) fail(`invalid server response: '${res.status} ${res.statusText}'`);
  const size = res.headers.get('content-length');
  const disposition = res.headers.get('content-disposition');
  let type = res.headers.get('content-type');
  let filename: string | undefined;
  const m = disposition && (/filename="([^"]*)"/.exec(disposition) ?? /filename=([^;]*)/.exec(disposition));
  if (m) filename = m[1];
  else filename = /^[^?]+\/([^?/]*)(?:\?.*)?$/.exec(url)?.[1];
  if (type) type = /^([^;]+);/.exec(type)?.[1] ?? type;
  return { ...(filename ? { filename } : {}), ...(size && Number(size) ? { size: Number(size) } : {}), ...(type ? { mimetype: type } : {}) };
}

const ALGOS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;

function downloadUrl(ctx: Ctx): string {
  const { core, params } = ctx;
  const n = nodeName(ctx);
  const sid = String(params['storage']);
  const st = core.state.storage(n, sid);
  if (st.def.type !== 'dir') fail(`can't upload to storage type '${st.def.type}', not a file based storage!`);
  const content = String(params['content']);
  if (!st.def.content.includes(content)) fail(`storage '${sid}' is not configured for content-type '${content}'`);
  const filename = String(params['filename']).replace(/^.*\//, '').replace(/[^a-zA-Z0-9_.-]/g, '_');
  if (content === 'iso' && !/\.(iso|img)$/i.test(filename)) paramError('filename', 'wrong file extension');
  if (content === 'vztmpl' && !/\.tar(\.(gz|xz|zst|bz2))?$/.test(filename)) paramError('filename', 'wrong file extension');
  const url = String(params['url']);
  assertLoopback(url);
  return startTask(ctx, n, 'download', sid, async (t) => {
    t.log(`downloading ${url} to /var/lib/vz/template/${content === 'iso' ? 'iso' : 'cache'}/${filename}`);
    const res = await undiciFetch(url);
    if (res.status !== 200) throw new Error(`download failed: ${res.status} ${res.statusText}`);
    const data = Buffer.from(await res.arrayBuffer());
    const algo = params['checksum-algorithm'] as (typeof ALGOS)[number] | undefined;
    if (algo && params['checksum'] !== undefined) {
      t.log(`calculating checksum...`);
      const got = createHash(algo).update(data).digest('hex');
      if (got.toLowerCase() !== String(params['checksum']).toLowerCase()) throw new Error(`checksum mismatch: got '${got}' != expect '${params['checksum']}'`);
      t.log('checksum verified');
    }
    await t.sleep();
    const volid = `${sid}:${content}/${filename}`;
    const format = content === 'iso' ? 'iso' : ({ gz: 'tgz', xz: 'txz', zst: 'tzst', bz2: 'tbz2' }[/\.tar\.(\w+)$/.exec(filename)?.[1] ?? ''] ?? 'tar');
    st.volumes.set(volid, { volid, content, format, size: data.length, ctime: Math.floor(core.opts.clock() / 1000), data });
    t.log(`download of '${url}' to '${volid}' finished`);
  });
}

interface NodeInfo {
  dns: { search: string; dns1?: string; dns2?: string; dns3?: string };
  timezone: string;
  hosts: string;
}

const nodeInfo = new WeakMap<object, Map<string, NodeInfo>>();
function infoOf(ctx: Ctx): NodeInfo {
  const name = nodeName(ctx);
  let perCluster = nodeInfo.get(ctx.core.state);
  if (!perCluster) nodeInfo.set(ctx.core.state, (perCluster = new Map()));
  let info = perCluster.get(name);
  if (!info) {
    const ip = `192.168.100.${10 + (ctx.core.state.nodes.get(name)?.index ?? 0)}`;
    info = { dns: { search: 'example.invalid', dns1: '192.168.100.1' }, timezone: 'UTC', hosts: `127.0.0.1 localhost.localdomain localhost\n${ip} ${name}.example.invalid ${name}\n` };
    perCluster.set(name, info);
  }
  return info;
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** Deterministic flat rrd points for the timeframe (PVE: 70 rows per frame). */
function rrddata(ctx: Ctx, fields: string[]): unknown {
  const step = ({ hour: 60, day: 1800, week: 10800, month: 43200, year: 604800, decade: 6048000 } as Record<string, number>)[String(ctx.params['timeframe'])] ?? 60;
  const now = Math.floor(ctx.core.opts.clock() / 1000 / step) * step;
  return Array.from({ length: 70 }, (_, i) => ({ time: now - (69 - i) * step, ...Object.fromEntries(fields.map((f) => [f, 0])) }));
}

const timeframe = { timeframe: { type: 'string' as const, enum: ['hour', 'day', 'week', 'month', 'year', 'decade'] }, cf: str({ enum: ['AVERAGE', 'MAX'] }) };
const audit = (p: Record<string, unknown>): Array<[string, string]> => [[`/nodes/${p['node']}`, 'Sys.Audit']];
const modify = (p: Record<string, unknown>): Array<[string, string]> => [[`/nodes/${p['node']}`, 'Sys.Modify']];

export const nodeInfoRoutes: Route[] = [
  {
    method: 'GET', path: '/nodes/{node}/qemu', schema: { props: { ...node, full: bool() } },
    handler: (ctx) => {
      const n = nodeName(ctx);
      return [...ctx.core.state.qemu.entries()].filter(([, at]) => at === n).map(([vmid]) => ({ vmid, name: `VM ${vmid}`, status: 'stopped', cpus: 1, maxmem: 536870912, maxdisk: 0, uptime: 0 }));
    },
  },
  { method: 'GET', path: '/nodes/{node}/version', schema: { props: node }, handler: (ctx) => (nodeName(ctx), { ...PVE_VERSION }) },
  { method: 'GET', path: '/nodes/{node}/dns', perms: audit, schema: { props: node }, handler: (ctx) => ({ ...infoOf(ctx).dns }) },
  {
    method: 'PUT', path: '/nodes/{node}/dns', perms: modify, schema: { props: { ...node, search: { type: 'string' }, dns1: str(), dns2: str(), dns3: str() } },
    handler: (ctx) => {
      const p = ctx.params;
      infoOf(ctx).dns = { search: String(p['search']), ...(['dns1', 'dns2', 'dns3'] as const).reduce((o, k) => (p[k] !== undefined ? { ...o, [k]: String(p[k]) } : o), {}) };
      return null;
    },
  },
  {
    method: 'GET', path: '/nodes/{node}/time', perms: audit, schema: { props: node },
    handler: (ctx) => {
      const t = Math.floor(ctx.core.opts.clock() / 1000);
      return { timezone: infoOf(ctx).timezone, time: t, localtime: t };
    },
  },
  { method: 'PUT', path: '/nodes/{node}/time', perms: modify, schema: { props: { ...node, timezone: { type: 'string' } } }, handler: (ctx) => ((infoOf(ctx).timezone = String(ctx.params['timezone'])), null) },
  { method: 'GET', path: '/nodes/{node}/hosts', perms: audit, schema: { props: node }, handler: (ctx) => ({ digest: sha1(infoOf(ctx).hosts), data: infoOf(ctx).hosts }) },
  {
    method: 'POST', path: '/nodes/{node}/hosts', perms: modify, schema: { props: { ...node, data: { type: 'string' }, digest: str({ maxLength: 64 }) } },
    handler: (ctx) => {
      const info = infoOf(ctx);
      if (ctx.params['digest'] !== undefined && ctx.params['digest'] !== sha1(info.hosts)) fail('detected modified configuration - file changed by other user? Try again.');
      info.hosts = String(ctx.params['data']);
      return null;
    },
  },
  {
    method: 'GET', path: '/nodes/{node}/aplinfo', schema: { props: node },
    handler: (ctx) => (nodeName(ctx), [{
      template: DEFAULT_TEMPLATE, package: 'debian-12-standard', version: '12.7-1', os: 'debian-12', type: 'lxc', section: 'system',
      headline: 'Debian 12 Bookworm (standard)', description: 'A small Debian Bookworm system including all standard packages.', infopage: 'https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions',
      location: `http://download.proxmox.com/images/system/${DEFAULT_TEMPLATE}`, maintainer: 'Proxmox Support Team <support@proxmox.com>', architecture: 'amd64', source: 'http://download.proxmox.com/images/system/',
    }]),
  },
  {
    method: 'POST', path: '/nodes/{node}/aplinfo', perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.AllocateTemplate']],
    schema: { props: { ...node, storage: { type: 'string' }, template: { type: 'string', maxLength: 255 } } },
    handler: (ctx) => {
      const n = nodeName(ctx);
      const sid = String(ctx.params['storage']);
      const st = ctx.core.state.storage(n, sid);
      if (ctx.params['template'] !== DEFAULT_TEMPLATE) fail(`no such template '${ctx.params['template']}'`);
      if (!st.def.content.includes('vztmpl')) fail(`storage '${sid}' does not support templates`);
      return startTask(ctx, n, 'download', String(ctx.params['template']), async (t) => {
        await t.sleep();
        const volid = `${sid}:vztmpl/${DEFAULT_TEMPLATE}`;
        st.volumes.set(volid, { volid, content: 'vztmpl', format: 'tzst', size: 129_740_800, ctime: Math.floor(ctx.core.opts.clock() / 1000) });
        t.log(`download of '${DEFAULT_TEMPLATE}' finished`);
      });
    },
  },
  { method: 'GET', path: '/nodes/{node}/rrddata', perms: audit, schema: { props: { ...node, ...timeframe } }, handler: (ctx) => (nodeName(ctx), rrddata(ctx, ['cpu', 'maxcpu', 'memused', 'memtotal', 'netin', 'netout', 'loadavg'])) },
  {
    method: 'GET', path: '/nodes/{node}/lxc/{vmid}/rrddata', perms: (p) => [[`/vms/${p['vmid']}`, 'VM.Audit']], schema: { props: { ...node, vmid: vmidProp, ...timeframe } },
    handler: (ctx) => (ctx.core.state.ct(String(ctx.params['node']), Number(ctx.params['vmid'])), rrddata(ctx, ['cpu', 'maxcpu', 'mem', 'maxmem', 'disk', 'maxdisk', 'netin', 'netout', 'diskread', 'diskwrite'])),
  },
  {
    method: 'GET', path: '/nodes/{node}/query-url-metadata', perms: audit,
    schema: { props: { ...node, url: { type: 'string', pattern: /^https?:\/\/.*/ }, 'verify-certificates': bool() } }, handler: queryUrlMetadata,
  },
  {
    method: 'POST', path: '/nodes/{node}/storage/{storage}/download-url', handler: downloadUrl,
    perms: (p) => [[`/storage/${p['storage']}`, 'Datastore.AllocateTemplate'], [`/nodes/${p['node']}`, 'Sys.Audit']],
    schema: {
      props: {
        ...node, storage: { type: 'string', pattern: /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i }, url: { type: 'string', pattern: /^https?:\/\/.*/ },
        content: { type: 'string', enum: ['iso', 'vztmpl', 'import'] }, filename: { type: 'string' },
        checksum: str({ requires: 'checksum-algorithm' }), 'checksum-algorithm': str({ enum: ALGOS, requires: 'checksum' }),
        compression: str(), 'verify-certificates': bool(),
      },
    },
  },
  // Access: the users PVE has here (root@pam and the token owners) and the caller's effective privileges.
  {
    method: 'GET', path: '/access/users', schema: { props: { enabled: bool(), full: bool() } },
    handler: (ctx) => [{ userid: 'root@pam', enable: 1, expire: 0, firstname: '', lastname: '', email: '', comment: '', ...(ctx.params['full'] ? { tokens: [] } : {}) }],
  },
  {
    method: 'GET', path: '/access/permissions', schema: { props: { path: str(), userid: str() } },
    handler: (ctx) => {
      const privs = ['VM.Allocate', 'VM.Audit', 'VM.Clone', 'VM.Config.CPU', 'VM.Config.Disk', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.PowerMgmt', 'VM.Snapshot', 'VM.Snapshot.Rollback', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit', 'Pool.Allocate', 'Pool.Audit', 'Sys.Audit', 'Sys.Modify'];
      const paths = ctx.params['path'] !== undefined ? [String(ctx.params['path'])] : ['/', '/vms', '/storage', '/nodes', '/pool'];
      return Object.fromEntries(paths.map((p) => [p, Object.fromEntries(privs.filter((priv) => ctx.core.perms.can(ctx.identity, p, priv)).map((priv) => [priv, 1]))]));
    },
  },
  { method: 'GET', path: '/cluster/options', perms: () => [['/', 'Sys.Audit']], schema: { props: {} }, handler: () => ({ keyboard: 'en-us', console: 'xtermjs', 'mac_prefix': 'BC:24:11', 'next-id': { lower: 100, upper: 1000000 } }) },
];

