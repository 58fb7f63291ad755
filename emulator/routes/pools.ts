// /pools: resource pools and their members, as pve-manager PVE/API2/Pool.pm (index, create_pool, update_pool,
// read_pool, delete_pool and the deprecated /pools/{poolid} forms) keeps them in user.cfg.
import { fail } from '../errors';
import { canPerm, Ctx, Route } from '../core';
import { bool, str } from '../params';
import { splitList } from '../lxc-config';
import { vmStatus } from './lxc';
import { storageResource } from './storage';

const poolidProp = { type: 'string' as const, pattern: /^[A-Za-z0-9.\-_/]+$/ };

function members(ctx: Ctx, poolid: string, type?: string): Array<Record<string, unknown>> {
  const pool = ctx.core.state.pools.get(poolid);
  if (!pool) fail(`pool '${poolid}' does not exist`);
  const out: Array<Record<string, unknown>> = [];
  const vmids = [...pool.members].filter((m) => m.startsWith('vm:')).map((m) => Number(m.slice(3))).sort((a, b) => String(a).localeCompare(String(b)));
  for (const vmid of vmids) {
    const ct = ctx.core.state.guests.get(vmid);
    if (!ct || (type !== undefined && type !== 'lxc')) continue;
    const s = vmStatus(ctx.core, ct);
    out.push({ id: `lxc/${vmid}`, node: ct.node, ...s, type: 'lxc' });
  }
  if (type === undefined || type === 'storage') {
    const first = ctx.core.state.nodes.values().next().value;
    for (const m of [...pool.members].filter((x) => x.startsWith('storage:')).sort()) {
      const st = first?.storages.get(m.slice(8));
      if (first && st) out.push(storageResource(first.name, st));
    }
  }
  return out;
}

function index(ctx: Ctx): unknown {
  const poolid = ctx.params['poolid'];
  if (poolid !== undefined) {
    const pool = ctx.core.state.pools.get(String(poolid));
    const m = members(ctx, String(poolid), ctx.params['type'] as string | undefined);
    return [{ members: m, ...(pool?.comment !== undefined ? { comment: pool.comment } : {}), poolid }];
  }
  return [...ctx.core.state.pools.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .filter(([id]) => canPerm(ctx, `/pool/${id}`, 'Pool.Audit'))
    .map(([id, p]) => ({ poolid: id, ...(p.comment !== undefined ? { comment: p.comment } : {}) }));
}

function create(ctx: Ctx): null {
  const poolid = String(ctx.params['poolid']);
  const pools = ctx.core.state.pools;
  if (pools.has(poolid)) fail(`pool '${poolid}' already exists`);
  const slash = poolid.lastIndexOf('/');
  if (slash >= 0) {
    const parent = poolid.slice(0, slash);
    if (!pools.has(parent)) fail(`parent '${parent}' of pool '${poolid}' does not exist`);
    if (!/^[A-Za-z]/.test(poolid.slice(slash + 1))) fail('pool name must start with a letter');
  } else if (!/^[A-Za-z]/.test(poolid)) fail('pool name must start with a letter');
  pools.set(poolid, { ...(ctx.params['comment'] !== undefined ? { comment: String(ctx.params['comment']) } : {}), members: new Set() });
  return null;
}

function update(ctx: Ctx): null {
  const { params, core } = ctx;
  const poolid = String(params['poolid']);
  const pool = core.state.pools.get(poolid);
  if (!pool) fail(`pool '${poolid}' does not exist`);
  if (params['comment'] !== undefined) pool.comment = String(params['comment']);
  const remove = !!params['delete'];
  for (const id of splitList(params['vms'])) {
    const key = `vm:${Number(id)}`;
    if (remove) {
      if (!pool.members.has(key)) fail(`VM ${id} is not a pool member`);
      pool.members.delete(key);
      continue;
    }
    if (pool.members.has(key)) fail(`VM ${id} is already a pool member`);
    const existing = [...core.state.pools.entries()].find(([, p]) => p.members.has(key));
    if (existing) {
      if (!params['allow-move']) fail(`VM ${id} belongs already to pool '${existing[0]}' and 'allow-move' is not set`);
      existing[1].members.delete(key);
    }
    pool.members.add(key);
  }
  for (const sid of splitList(params['storage'])) {
    const key = `storage:${sid}`;
    if (remove) {
      if (!pool.members.has(key)) fail(`Storage '${sid}' is not a pool member`);
      pool.members.delete(key);
    } else {
      if (pool.members.has(key)) fail(`Storage '${sid}' is already a pool member`);
      pool.members.add(key);
    }
  }
  return null;
}

function remove(ctx: Ctx): null {
  const poolid = String(ctx.params['poolid']);
  const pools = ctx.core.state.pools;
  const pool = pools.get(poolid);
  if (!pool) fail(`pool '${poolid}' does not exist`);
  const sub = [...pools.keys()].find((k) => k.startsWith(`${poolid}/`));
  if (sub) fail(`pool '${poolid}' is not empty (contains pool '${sub}')`);
  const vm = [...pool.members].find((m) => m.startsWith('vm:'));
  if (vm) fail(`pool '${poolid}' is not empty (contains VM ${vm.slice(3)})`);
  const st = [...pool.members].find((m) => m.startsWith('storage:'));
  if (st) fail(`pool '${poolid}' is not empty (contains storage '${st.slice(8)}')`);
  pools.delete(poolid);
  return null;
}

const updateProps = { comment: str(), vms: str({ list: true }), storage: str({ list: true }), delete: bool(), 'allow-move': bool() };
const alloc = (p: Record<string, unknown>): Array<[string, string]> => [[`/pool/${p['poolid']}`, 'Pool.Allocate']];
export const poolRoutes: Route[] = [
  { method: 'GET', path: '/pools', schema: { props: { poolid: { ...poolidProp, optional: true }, type: str({ enum: ['qemu', 'lxc', 'storage'] }) } }, handler: index },
  { method: 'POST', path: '/pools', perms: alloc, schema: { props: { poolid: poolidProp, comment: str() } }, handler: create },
  { method: 'PUT', path: '/pools', perms: alloc, schema: { props: { poolid: poolidProp, ...updateProps } }, handler: update },
  { method: 'DELETE', path: '/pools', perms: alloc, schema: { props: { poolid: poolidProp } }, handler: remove },
  {
    method: 'GET', path: '/pools/{poolid}', perms: (p) => [[`/pool/${p['poolid']}`, 'Pool.Audit']], schema: { props: { poolid: poolidProp, type: str({ enum: ['qemu', 'lxc', 'storage'] }) } },
    handler: (ctx) => {
      const pool = ctx.core.state.pools.get(String(ctx.params['poolid']));
      const m = members(ctx, String(ctx.params['poolid']), ctx.params['type'] as string | undefined);
      return { members: m, ...(pool?.comment !== undefined ? { comment: pool.comment } : {}) };
    },
  },
  { method: 'PUT', path: '/pools/{poolid}', perms: alloc, schema: { props: { poolid: poolidProp, ...updateProps } }, handler: update },
  { method: 'DELETE', path: '/pools/{poolid}', perms: alloc, schema: { props: { poolid: poolidProp } }, handler: remove },
];
