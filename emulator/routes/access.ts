// /access/ticket: password login (tokens are refused by the server layer before this runs).
import { Ctx, Route } from '../core';
import { str } from '../params';

function ticket(ctx: Ctx): unknown {
  const p = ctx.params;
  const r = ctx.core.auth.login(String(p['username']), String(p['password']), p['realm'] as string | undefined);
  return {
    username: r.username, ticket: r.ticket, CSRFPreventionToken: r.CSRFPreventionToken,
    cap: { vms: { 'VM.Allocate': 1, 'VM.Audit': 1, 'VM.Config.Options': 1 }, nodes: { 'Sys.Audit': 1, 'Sys.Modify': 1 }, storage: { 'Datastore.Allocate': 1 }, access: {}, dc: {}, sdn: {}, mapping: {} },
    ...(ctx.core.state.nodeList.length > 1 ? { clustername: 'emulator' } : {}),
  };
}

export const accessRoutes: Route[] = [
  { method: 'GET', path: '/access/ticket', schema: { props: {} }, handler: () => null },
  {
    method: 'POST', path: '/access/ticket', handler: ticket,
    schema: {
      props: {
        username: { type: 'string', maxLength: 64 }, password: { type: 'string' }, realm: str(), otp: str(),
        path: str({ requires: 'privs' }), privs: str({ requires: 'path' }), 'new-format': { type: 'boolean', optional: true }, 'tfa-challenge': str(),
      },
    },
  },
];
