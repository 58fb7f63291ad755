// /version, /nodes, /nodes/{node}/status, /cluster/nextid, /cluster/resources, /cluster/status.
import { canPerm, Ctx, paramError, Route } from '../core';
import { int, nodeProp, str } from '../params';
import { vmStatus } from './lxc';
import { storageResource } from './storage';

export const PVE_VERSION = { version: '9.1.1', release: '9.1', repoid: '42ab4c7e5e0c3a2b' };
const GiB = 1024 ** 3;

function nodeRow(ctx: Ctx, node: string): Record<string, unknown> {
  return {
    id: `node/${node}`, node, type: 'node', status: 'online', cpu: 0.021, maxcpu: 8, mem: 6 * GiB, maxmem: 64 * GiB,
    disk: 12 * GiB, maxdisk: 100 * GiB, uptime: 86400, level: '', ssl_fingerprint: ctx.core.fingerprint,
  };
}

function nextid(ctx: Ctx): unknown {
  const state = ctx.core.state;
  const wanted = ctx.params['vmid'];
  if (wanted !== undefined) {
    if (state.vmidUsed(Number(wanted))) paramError('vmid', `VM ${wanted} already exists`);
    return String(wanted);
  }
  // PVE builds the value with string handling, so it is usually serialised as a JSON string.
  return String(state.nextFreeVmid());
}

function resources(ctx: Ctx): unknown {
  const { core } = ctx;
  const type = ctx.params['type'];
  const out: Array<Record<string, unknown>> = [];
  if (type === undefined || type === 'vm') {
    const now = core.opts.clock();
    for (const ct of core.state.guests.values()) {
      if (!canPerm(ctx, `/vms/${ct.vmid}`, 'VM.Audit')) continue;
      const s = vmStatus(core, ct);
      // pvestatd pushes guest stats every ~10 s; fresh changes may show `unknown` until then.
      const lagging = core.opts.resourcesLagMs > 0 && now - ct.changedAt < core.opts.resourcesLagMs;
      out.push({
        id: `lxc/${ct.vmid}`, vmid: ct.vmid, node: ct.node, type: 'lxc', status: lagging ? 'unknown' : s['status'], name: s['name'],
        cpu: s['cpu'], maxcpu: s['cpus'], mem: s['mem'], maxmem: s['maxmem'], disk: s['disk'], maxdisk: s['maxdisk'], uptime: s['uptime'],
        template: s['template'] ?? 0, ...(s['tags'] !== undefined ? { tags: s['tags'] } : {}), ...(s['lock'] !== undefined ? { lock: s['lock'] } : {}),
      });
    }
  }
  if (type === undefined || type === 'node') for (const n of core.state.nodeList) out.push(nodeRow(ctx, n));
  if (type === undefined || type === 'storage') {
    for (const n of core.state.nodes.values()) for (const st of n.storages.values()) if (canPerm(ctx, `/storage/${st.def.storage}`, 'Datastore.Audit')) out.push(storageResource(n.name, st));
  }
  return out;
}

function nodeStatus(ctx: Ctx): unknown {
  const node = String(ctx.params['node']);
  ctx.core.state.node(node);
  return {
    uptime: 86400, cpu: 0.021, wait: 0, loadavg: ['0.10', '0.08', '0.05'], pveversion: `pve-manager/${PVE_VERSION.version}/${PVE_VERSION.repoid}`,
    kversion: 'Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC', 'boot-info': { mode: 'efi', secureboot: 0 },
    cpuinfo: { cpus: 8, cores: 4, sockets: 1, model: 'Emulated CPU', mhz: '3000.000', hvm: '1', flags: '' },
    memory: { total: 64 * GiB, used: 6 * GiB, free: 58 * GiB, available: 58 * GiB },
    swap: { total: 8 * GiB, used: 0, free: 8 * GiB }, rootfs: { total: 100 * GiB, used: 12 * GiB, free: 88 * GiB, avail: 88 * GiB },
  };
}

export const clusterRoutes: Route[] = [
  { method: 'GET', path: '/version', schema: { props: {} }, handler: () => ({ ...PVE_VERSION }) },
  { method: 'GET', path: '/nodes', schema: { props: {} }, handler: (ctx) => ctx.core.state.nodeList.map((n) => nodeRow(ctx, n)) },
  {
    method: 'GET', path: '/nodes/{node}', schema: { props: { node: nodeProp } },
    handler: (ctx) => (ctx.core.state.node(String(ctx.params['node'])), ['aplinfo', 'dns', 'hosts', 'lxc', 'network', 'qemu', 'query-url-metadata', 'rrddata', 'status', 'storage', 'tasks', 'time', 'version'].map((subdir) => ({ name: subdir }))),
  },
  { method: 'GET', path: '/nodes/{node}/status', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Audit']], schema: { props: { node: nodeProp } }, handler: nodeStatus },
  { method: 'GET', path: '/cluster/nextid', schema: { props: { vmid: int({ minimum: 100, maximum: 999999999 }) } }, handler: nextid },
  { method: 'GET', path: '/cluster/resources', schema: { props: { type: str({ enum: ['vm', 'storage', 'node', 'sdn'] }) } }, handler: resources },
  {
    method: 'GET', path: '/cluster/status', schema: { props: {} },
    handler: (ctx) => [
      ...(ctx.core.state.nodeList.length > 1 ? [{ id: 'cluster', name: 'emulator', type: 'cluster', nodes: ctx.core.state.nodeList.length, quorate: 1, version: 1 }] : []),
      ...ctx.core.state.nodeList.map((n, i) => ({ id: `node/${n}`, name: n, type: 'node', online: 1, local: i === 0 ? 1 : 0, nodeid: i + 1, ip: `192.168.100.${10 + i}`, level: '' })),
    ],
  },
];
