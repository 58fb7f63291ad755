// HTTP(S) front end: body framing, authentication, routing, and PVE's response/error envelope.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, BareHttpError, ParamError } from './errors';
import type { Core, Ctx, Method, Route } from './core';
import { Reply, sleep } from './core';
import { validateParams } from './params';
import { boundaryOf, parseMultipart } from './multipart';
import { decodeUrlencoded, extractParams, JsonBodyError, normalizeListParams, type RawParams } from './request-params';
import type { Router } from './router';

export const CONTENT_TYPE = 'application/json;charset=UTF-8';
const MAX_BODY = 512 * 1024;
const MAX_UPLOAD = 4 * 1024 ** 3;
const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);

export interface ServerOptions {
  legacyErrors: boolean;
  authFailureDelayMs: number;
}

/** Node rejects control characters in the reason phrase; PVE only ever sends the first line. */
function reasonPhrase(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/[^\t\x20-\x7e]/g, '?');
}

function send(res: ServerResponse, status: number, reason: string, body?: unknown): void {
  const headers: Record<string, string | number> = { Server: 'pve-api-daemon/3.0', 'Cache-Control': 'max-age=0', Pragma: 'no-cache' };
  if (body === undefined) {
    res.writeHead(status, reasonPhrase(reason), { ...headers, 'Content-Length': 0 });
    res.end();
    return;
  }
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(status, reasonPhrase(reason), { ...headers, 'Content-Type': CONTENT_TYPE, 'Content-Length': text.length });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, message: string): void {
  const text = Buffer.from(message);
  res.writeHead(status, reasonPhrase(message), { Server: 'pve-api-daemon/3.0', 'Cache-Control': 'max-age=0', Pragma: 'no-cache', 'Content-Length': text.length });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function createHandler(core: Core, router: Router, opts: ServerOptions) {
  const sendError = async (res: ServerResponse, err: unknown): Promise<void> => {
    if (err instanceof BareHttpError) {
      if (err.status === 401 && opts.authFailureDelayMs > 0) await sleep(opts.authFailureDelayMs);
      // AnyEvent.pm `error` (since pve-http-server 6.0, 2025) also writes the message into the body, as text
      // without a Content-Type; auth failures are answered by `response` directly, without a body.
      if (err.delayAuth || opts.legacyErrors) send(res, err.status, err.message);
      else sendText(res, err.status, err.message);
      return;
    }
    if (err instanceof ApiError) {
      if (err.status === 401 && opts.authFailureDelayMs > 0) await sleep(opts.authFailureDelayMs);
      const body: Record<string, unknown> = { data: null };
      if (err.errors) body['errors'] = err.errors;
      if (!opts.legacyErrors) body['message'] = `${err.message}\n`;
      send(res, err.status, err.message, body);
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    send(res, 500, msg, opts.legacyErrors ? { data: null } : { data: null, message: `${msg}\n` });
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handle(req, res);
    } catch (err) {
      if (!res.headersSent) await sendError(res, err);
      else res.destroy();
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = (req.method ?? 'GET').toUpperCase();
    let decoded: string;
    try {
      decoded = decodeURIComponent(url.pathname);
    } catch {
      decoded = url.pathname;
    }
    const m = /^\/api2\/json(\/.*)?$/.exec(decoded);
    const relPath = (m?.[1] ?? '/').replace(/\/+$/, '') || '/';
    const found = m && METHODS.has(method) ? router.match(method as Method, relPath) : undefined;
    const route = found?.route;

    // Body framing comes first in pveproxy.
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    const multipart = ct.startsWith('multipart/form-data');
    const body = await readBody(req, route?.multipart && multipart ? MAX_UPLOAD : MAX_BODY);
    if (body === 'too-large') throw new BareHttpError(501, 'for data too large');
    if ((method === 'GET' || method === 'DELETE') && body.length > 0) throw new BareHttpError(501, `Unexpected content for method '${method}'`);

    if (!m) throw new ApiError(501, `Method '${method} ${decoded}' not implemented`);

    // Authentication: everything except the ticket call.
    let identity;
    const anonymous = relPath === '/access/ticket' && (method === 'GET' || method === 'POST');
    if (!anonymous) {
      identity = core.auth.authenticate(req.headers, method, !!route?.csrfExempt);
    } else if (/^PVEAPIToken/.test(String(req.headers['authorization'] ?? ''))) {
      throw new ApiError(403, `Permission check failed (URI '${relPath}' not available with API token, need proper ticket.)`);
    }
    if (!route) throw new ApiError(501, `Method '${method} ${relPath}' not implemented`);

    const fault = core.faults.take(method, relPath);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.status) throw new ApiError(fault.status, fault.message ?? 'injected fault');
    if (fault?.dropConnection === 'before') {
      res.socket?.destroy();
      return;
    }

    // Parameters as pveproxy extracts them (AnyEvent.pm extract_params): body (JSON or form), then every
    // query-string key replacing the body's; multipart uploads take their text fields from the parts.
    let input: RawParams;
    let file: Ctx['file'];
    if (body.length > 0 && multipart) {
      if (!route.multipart) throw new BareHttpError(506, `upload 'Content-Type '${ct}' not implemented`);
      const boundary = boundaryOf(req.headers['content-type'] ?? '');
      if (!boundary) throw new BareHttpError(400, 'missing boundary');
      const parsed = parseMultipart(body, boundary);
      input = { ...parsed.fields, ...decodeUrlencoded(url.search.slice(1)) };
      if (parsed.file) {
        // pveproxy spools the file part to a temp file; the part's filename becomes the parameter.
        file = { filename: parsed.file.filename, data: parsed.file.data };
        input[parsed.file.field] = parsed.file.filename;
      }
    } else {
      // pveproxy reads a body only as form or JSON (matched as sent, before any `;` parameter); others are a 506.
      const rawCt = req.headers['content-type'];
      const baseCt = rawCt?.split(/\s*[;,]\s*/)[0];
      if (body.length > 0 && baseCt && baseCt !== 'application/x-www-form-urlencoded' && baseCt !== 'application/json') {
        throw new BareHttpError(506, `upload 'Content-Type '${rawCt}' not implemented`);
      }
      try {
        input = extractParams(method, rawCt, body.toString('utf8'), url.search.slice(1));
      } catch (e) {
        if (e instanceof JsonBodyError) throw new BareHttpError(500, e.message);
        throw e;
      }
    }
    const conflicts: Record<string, string> = {};
    for (const [k, v] of Object.entries(found!.vars)) {
      if (input[k] !== undefined && String(input[k]) !== v) conflicts[k] = 'duplicate parameter (already defined in URI) with conflicting values!';
      input[k] = v;
    }
    if (Object.keys(conflicts).length) throw new ParamError(conflicts);
    const params = validateParams(route.schema, normalizeListParams(input, route.schema));
    for (const [path, priv] of route.perms?.(params) ?? []) core.perms.check(identity, path, priv);

    const ctx: Ctx = { core, identity, params, ...(file ? { file } : {}), ...(fault ? { fault } : {}) };
    const result = await runHandler(route, ctx);
    if (fault?.dropConnection === 'after') {
      res.socket?.destroy();
      return;
    }
    if (result instanceof Reply) send(res, 200, 'OK', { data: result.data ?? null, ...result.extra });
    else send(res, 200, 'OK', { data: result ?? null });
  }
}

async function runHandler(route: Route, ctx: Ctx): Promise<unknown> {
  return route.handler(ctx);
}
