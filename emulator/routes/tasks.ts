// /nodes/{node}/tasks…: list, status, log, stop.
import type { TaskRecord } from '../tasks';
import { canPerm, checkPerm, Ctx, Reply, Route } from '../core';
import { bool, int, nodeProp, str } from '../params';

/** A token sees its own tasks; a user sees theirs and their tokens'; others need Sys.Audit/Sys.Modify. */
function visible(ctx: Ctx, t: TaskRecord, priv = 'Sys.Audit'): boolean {
  const who = ctx.identity;
  if (!who) return false;
  const owner = t.tokenid ? `${t.user}!${t.tokenid}` : t.user;
  if (owner === who.full || (!who.tokenid && t.user === who.user)) return true;
  return canPerm(ctx, `/nodes/${t.node}`, priv);
}

function owned(ctx: Ctx, upid: string, priv = 'Sys.Audit'): TaskRecord {
  const t = ctx.core.tasks.get(upid);
  if (!visible(ctx, t, priv)) checkPerm(ctx, `/nodes/${t.node}`, priv);
  return t;
}

function taskRow(t: TaskRecord): Record<string, unknown> {
  const row: Record<string, unknown> = {
    upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id,
    user: t.tokenid ? `${t.user}!${t.tokenid}` : t.user,
  };
  if (t.status === 'stopped') {
    row['endtime'] = t.endtime;
    row['status'] = t.exitstatus;
  } else {
    // pve-manager `PVE/API2/Tasks.pm` `node_tasks`: an active task with no status yet "would be archived otherwise".
    row['status'] = 'RUNNING';
  }
  return row;
}

function list(ctx: Ctx): Reply {
  const p = ctx.params;
  const node = String(p['node']);
  ctx.core.state.node(node);
  let tasks = ctx.core.tasks.list(node).filter((t) => visible(ctx, t));
  const source = String(p['source'] ?? 'archive');
  if (source === 'active') tasks = tasks.filter((t) => t.status === 'running');
  if (source === 'archive') tasks = tasks.filter((t) => t.status === 'stopped');
  if (p['typefilter'] !== undefined) tasks = tasks.filter((t) => t.type === p['typefilter']);
  if (p['userfilter'] !== undefined) tasks = tasks.filter((t) => t.user.includes(String(p['userfilter'])));
  if (p['vmid'] !== undefined) tasks = tasks.filter((t) => t.id === String(p['vmid']));
  if (p['errors']) tasks = tasks.filter((t) => t.status === 'stopped' && t.exitstatus !== 'OK' && !t.exitstatus?.startsWith('WARNINGS'));
  if (p['since'] !== undefined) tasks = tasks.filter((t) => t.starttime >= Number(p['since']));
  if (p['until'] !== undefined) tasks = tasks.filter((t) => t.starttime <= Number(p['until']));
  const start = Number(p['start'] ?? 0);
  const limit = Number(p['limit'] ?? 50);
  return new Reply(tasks.slice(start, start + limit).map(taskRow), { total: tasks.length });
}

function status(ctx: Ctx): unknown {
  const t = owned(ctx, String(ctx.params['upid']));
  return {
    upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user,
    ...(t.tokenid ? { tokenid: t.tokenid } : {}), status: t.status, ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}),
  };
}

function log(ctx: Ctx): Reply {
  const t = owned(ctx, String(ctx.params['upid']));
  const start = Number(ctx.params['start'] ?? 0);
  const limit = Number(ctx.params['limit'] ?? 50);
  const lines = t.log.map((line, i) => ({ n: i + 1, t: line }));
  return new Reply(lines.slice(start, start + limit), { total: lines.length });
}

const upidSchema = { node: nodeProp, upid: { type: 'string' as const } };
export const taskRoutes: Route[] = [
  {
    method: 'GET', path: '/nodes/{node}/tasks', handler: list,
    schema: {
      props: {
        node: nodeProp, start: int({ minimum: 0 }), limit: int({ minimum: 0 }), userfilter: str(), typefilter: str(), vmid: int({ minimum: 100 }),
        errors: bool(), source: str({ enum: ['archive', 'active', 'all'] }), since: int(), until: int(), statusfilter: str(),
      },
    },
  },
  { method: 'GET', path: '/nodes/{node}/tasks/{upid}', schema: { props: upidSchema }, handler: (ctx) => (owned(ctx, String(ctx.params['upid'])), [{ name: 'log' }, { name: 'status' }]) },
  { method: 'GET', path: '/nodes/{node}/tasks/{upid}/status', schema: { props: upidSchema }, handler: status },
  { method: 'GET', path: '/nodes/{node}/tasks/{upid}/log', schema: { props: { ...upidSchema, start: int({ minimum: 0 }), limit: int({ minimum: 0 }), download: bool() } }, handler: log },
  { method: 'DELETE', path: '/nodes/{node}/tasks/{upid}', schema: { props: upidSchema }, handler: (ctx) => (owned(ctx, String(ctx.params['upid']), 'Sys.Modify'), null) },
];
