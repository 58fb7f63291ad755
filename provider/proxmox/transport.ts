// HTTP transport for the PVE API. proxmox-api's Proxy builds the paths and gives us PVE's typings; this
// class is the `doRequest` engine behind it. We do not use proxmox-api's own ProxmoxEngine because:
//  - it retries every request once on a network error, which would re-POST a create;
//  - it refreshes a ticket only on reason phrases real PVE never sends (`invalid PVE ticket`), so an
//    expired 2 h ticket is never renewed (real PVE answers `401 Authentication failed!`, empty body);
//  - it turns errors into plain strings, losing status, PVE's message and the per-parameter errors;
//  - it sets Content-Length to the body's character count, wrong for non-ASCII (env, description);
//  - its debug output prints the token/ticket.
// So requests go through undici's fetch (it exposes the HTTP reason phrase, which pre-2025 PVE uses as
// the only error text) with the TLS-pinned dispatcher from tls.ts.
import { fetch, type Dispatcher } from 'undici';
import type { ConnectionConfig } from './config';
import { DeadlineError } from '../errors';
import { PveApiError, PveConnectionError, PveRequestTimeoutError, TlsFingerprintError, isLockMessage } from './errors';
import { DEFAULT_RETRY, Deadline, type Clock, type RetryPolicy, systemClock, withRetry } from './retry';
import { redact } from './secret';

export type Params = Record<string, unknown>;

export interface CallOptions {
  /** Safe to repeat after a 5xx or a lost connection (GETs are; creates are not). */
  idempotent?: boolean;
  deadline?: Deadline;
  /** Overrides the lock/5xx retry policy for this call (maxAttempts 1 = no retry). */
  retry?: RetryPolicy;
  /** Return the whole envelope (`{data, changes, total}`) instead of `data`. */
  envelope?: boolean;
}

export interface TransportOptions {
  dispatcher: Dispatcher;
  clock?: Clock;
  retry?: RetryPolicy;
  /** Called on each retry, with a message that carries no secrets. */
  log?: (message: string) => void;
  /** Renew a ticket this long after login (PVE tickets live 2 h). */
  ticketRefreshMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Called before every request that may change something (anything but GET), retries included; throwing stops it.
   * The provider refuses new work here once its Pulumi engine is gone (provider/engine-liveness.ts).
   */
  beforeMutation?: (what: string) => void;
}

interface Ticket {
  ticket: string;
  csrf: string;
  obtainedAt: number;
}

const API_PREFIX = '/api2/json';
const USER_AGENT = 'proxmox-pods';

export class PveTransport {
  readonly baseUrl: string;
  readonly dispatcher: Dispatcher;
  readonly authKind: 'token' | 'ticket';
  private readonly clock: Clock;
  private readonly retry: RetryPolicy;
  private readonly ticketRefreshMs: number;
  private ticket?: Ticket;
  private login?: Promise<Ticket>;

  constructor(private readonly cfg: ConnectionConfig, private readonly opts: TransportOptions) {
    this.baseUrl = cfg.endpoint;
    this.dispatcher = opts.dispatcher;
    this.authKind = cfg.apiToken ? 'token' : 'ticket';
    this.clock = opts.clock ?? systemClock;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.ticketRefreshMs = opts.ticketRefreshMs ?? 105 * 60_000;
  }

  /** Every secret this transport knows, for scrubbing messages. */
  secrets(): string[] {
    return [this.cfg.apiToken?.secret.reveal(), this.cfg.password?.reveal(), this.ticket?.ticket, this.ticket?.csrf].filter(
      (s): s is string => !!s,
    );
  }

  /** The `doRequest` engine proxmox-api's Proxy calls; `path` already starts with /api2/json. */
  engine(options: CallOptions = {}) {
    return {
      doRequest: (method: string, path: string, _template: string, params?: Params) =>
        this.request(method.toUpperCase(), path.startsWith(API_PREFIX) ? path.slice(API_PREFIX.length) : path, params, options),
    };
  }

  /** One API call with lock/5xx retries; `path` is relative to /api2/json. */
  async request<T = unknown>(method: string, path: string, params: Params = {}, options: CallOptions = {}): Promise<T> {
    const idempotent = options.idempotent ?? method === 'GET';
    const deadline = options.deadline ?? new Deadline(`PVE ${method} ${path}`, this.cfg.timeouts.operationMs, this.clock);
    return withRetry((attempt) => this.once<T>(method, path, params, deadline, attempt, options.envelope ?? false), {
      what: `PVE ${method} ${path}`,
      policy: options.retry ?? this.retry,
      deadline,
      retryable: (err) => isRetryable(err, idempotent),
      onRetry: (err, attempt, delay) =>
        this.opts.log?.(this.scrub(`retrying ${method} ${path} (attempt ${attempt + 1}) in ${delay} ms: ${err instanceof Error ? err.message : String(err)}`)),
      sleep: this.opts.sleep,
    });
  }

  /** Throws when the owner of this client forbids new changes (see TransportOptions.beforeMutation). */
  guardMutation(method: string, path: string): void {
    if (method !== 'GET') this.opts.beforeMutation?.(`PVE ${method} ${path}`);
  }

  /** Auth headers for a raw request (multipart upload). Logs in first when using tickets. */
  async authHeaders(method: string): Promise<Record<string, string>> {
    if (this.cfg.apiToken) {
      return { Authorization: `PVEAPIToken=${this.cfg.apiToken.tokenId}=${this.cfg.apiToken.secret.reveal()}` };
    }
    const t = await this.currentTicket();
    return { Cookie: `PVEAuthCookie=${t.ticket}`, ...(method === 'GET' ? {} : { CSRFPreventionToken: t.csrf }) };
  }

  /** Turn a non-200 response into PveApiError (or return `data`). */
  async parseResponse<T>(method: string, path: string, res: Awaited<ReturnType<typeof fetch>>, envelope = false): Promise<T> {
    const type = res.headers.get('content-type') ?? '';
    let body: { data?: unknown; message?: string; errors?: Record<string, string> } | undefined;
    let text: string;
    if (/^application\/json/i.test(type)) {
      text = await res.text();
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON after all: handled below as a response without PVE's envelope, with its text.
        body = undefined;
      }
    } else {
      // Only detail for the error below, which the status already makes.
      text = await res.text().catch(() => '');
    }
    if (res.status === 200 && body && typeof body === 'object') return (envelope ? body : body.data) as T;
    if (res.status === 200) {
      throw new PveApiError({ status: 502, method, path, pveMessage: `unexpected response (content-type '${type || 'none'}'), not PVE's JSON envelope` });
    }
    // PVE puts the first line of the error in the reason phrase; servers since pve-http-server 5.2 also
    // send it as `message`. 401s have no body at all, only the reason phrase.
    const pveMessage = (body?.message ?? '').trim() || res.statusText || (type.startsWith('text/') ? text.slice(0, 200) : '');
    throw new PveApiError({ status: res.status, method, path, pveMessage: this.scrub(pveMessage), errors: body?.errors ?? undefined, auth: this.authKind });
  }

  private async once<T>(method: string, path: string, params: Params, deadline: Deadline, _attempt: number, envelope: boolean): Promise<T> {
    const res = await this.send(method, path, params, deadline);
    if (res.status === 401 && this.authKind === 'ticket') {
      // The ticket expired or the server restarted with new keys: log in again, once. The request did
      // not run (auth comes first), so repeating it is safe even for a create.
      // Discarding a 401 body we never read; a failed cancel only costs the connection.
      await res.body?.cancel().catch(() => undefined);
      this.ticket = undefined;
      const again = await this.send(method, path, params, deadline);
      return this.parseResponse<T>(method, path, again, envelope);
    }
    return this.parseResponse<T>(method, path, res, envelope);
  }

  private async send(method: string, path: string, params: Params, deadline: Deadline) {
    this.guardMutation(method, path);
    const url = new URL(`${this.baseUrl}${API_PREFIX}${path}`);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT, ...(await this.authHeaders(method)) };
    let body: string | undefined;
    const form = encodeParams(params);
    if (method === 'GET' || method === 'DELETE') {
      form.forEach((v, k) => url.searchParams.append(k, v));
    } else if ([...form.keys()].length > 0) {
      body = form.toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    // The operation's deadline may cut a request shorter; only the configured request timeout is reported as such.
    const timeout = Math.max(1, Math.min(this.cfg.timeouts.requestMs, deadline.remaining()));
    try {
      return await fetch(url, { method, headers, body, dispatcher: this.dispatcher, signal: AbortSignal.timeout(timeout) });
    } catch (err) {
      const failure = this.connectionError(method, path, err, timeout);
      // Cut short by the operation's deadline, not by the request timeout: that is the deadline running out.
      if (failure instanceof PveRequestTimeoutError && timeout < this.cfg.timeouts.requestMs) throw new DeadlineError(deadline.what, deadline.budgetMs);
      throw failure;
    }
  }

  private async currentTicket(): Promise<Ticket> {
    const t = this.ticket;
    if (t && this.clock() - t.obtainedAt < this.ticketRefreshMs) return t;
    // One login at a time; parallel requests share it.
    this.login ??= this.doLogin().finally(() => {
      this.login = undefined;
    });
    return this.login;
  }

  private async doLogin(): Promise<Ticket> {
    const path = '/access/ticket';
    const body = new URLSearchParams({ username: this.cfg.username!, password: this.cfg.password!.reveal() }).toString();
    let res;
    try {
      res = await fetch(`${this.baseUrl}${API_PREFIX}${path}`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'User-Agent': USER_AGENT, 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(this.cfg.timeouts.requestMs),
      });
    } catch (err) {
      throw this.connectionError('POST', path, err, this.cfg.timeouts.requestMs);
    }
    const data = await this.parseResponse<{ ticket?: string; CSRFPreventionToken?: string; NeedTFA?: number }>('POST', path, res);
    if (!data?.ticket || !data.CSRFPreventionToken) {
      throw new PveApiError({ status: 502, method: 'POST', path, pveMessage: 'login answered without a ticket', auth: 'ticket' });
    }
    if (data.NeedTFA) {
      throw new PveApiError({ status: 401, method: 'POST', path, pveMessage: 'the account requires two-factor authentication; use an API token instead', auth: 'ticket' });
    }
    this.ticket = { ticket: data.ticket, csrf: data.CSRFPreventionToken, obtainedAt: this.clock() };
    return this.ticket;
  }

  private connectionError(method: string, path: string, err: unknown, timeoutMs: number): Error {
    const cause = (err as { cause?: unknown })?.cause;
    if (cause instanceof TlsFingerprintError) return cause;
    if (err instanceof TlsFingerprintError) return err;
    const e = (cause ?? err) as { code?: string; message?: string; name?: string };
    // AbortSignal.timeout rejects with a DOMException named TimeoutError. (undici's own connect timeout, 10 s in
    // tls.ts, is a connection error with code UND_ERR_CONNECT_TIMEOUT: nothing answered the SYN, retried as before.)
    if (e?.name === 'TimeoutError' || (err as Error)?.name === 'TimeoutError') {
      return new PveRequestTimeoutError(method, path, this.baseUrl, timeoutMs, { cause: err });
    }
    const detail = `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`;
    return new PveConnectionError(method, path, this.scrub(detail), { cause: err, code: e?.code, endpoint: this.baseUrl });
  }

  private scrub(text: string): string {
    return redact(text, this.secrets());
  }
}

/** Form encoding the way PVE wants it: booleans as 1/0, arrays as repeated keys, no null/undefined. */
export function encodeParams(params: Params): URLSearchParams {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const item of values) form.append(k, item === true ? '1' : item === false ? '0' : String(item));
  }
  return form;
}

/**
 * Lock errors mean PVE refused before doing anything, so any call may repeat. 5xx and lost connections
 * are retried only for idempotent calls: a create may have happened even though we saw an error.
 */
export function isRetryable(err: unknown, idempotent: boolean): boolean {
  if (err instanceof PveApiError) {
    if (isLockMessage(err.pveMessage)) return true;
    if (!idempotent) return false;
    if (err.status === 595 || err.status === 596 || err.status === 599 || err.status === 502 || err.status === 503 || err.status === 504) return true;
    // A 500 carrying a definite answer will not change on repeat.
    if (err.status === 500) return !isPermanentMessage(err.pveMessage);
    return false;
  }
  if (err instanceof TlsFingerprintError) return false;
  if (err instanceof PveConnectionError) return idempotent && !err.certificate;
  return false;
}

function isPermanentMessage(message: string): boolean {
  return /does not exist|already exists|not running|already running|protection mode|detected modified configuration|no options specified|unable to|can't |you can't|not implemented|Permission/i.test(
    message,
  );
}
