// Ticket and API-token authentication as pveproxy does it: tickets `PVE:<user>:<HEXTIME>::<sig>` valid
// for 2 h (5 min skew grace), CSRF tokens for ticket-authenticated writes, tokens split at the last '='.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { ApiError, BareHttpError } from './errors';

export const TICKET_LIFETIME_S = 2 * 3600;
const SKEW_S = 300;

export interface Identity {
  /** `root@pam` */
  user: string;
  /** `ci` for `root@pam!ci` */
  tokenid?: string;
  /** What appears in UPIDs: `root@pam` or `root@pam!ci`. */
  full: string;
  viaTicket: boolean;
}

export interface TokenDef {
  user: string;
  tokenid: string;
  secret: string;
  privsep: 0 | 1;
}

const TOKEN_RE = /^([^\s!@:]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)=(.+)$/;

/** Parse `USER@REALM!ID=SECRET` (the secret is everything after the last '='). */
export function parseTokenString(text: string): TokenDef | undefined {
  const eq = text.lastIndexOf('=');
  if (eq < 0) return undefined;
  const m = TOKEN_RE.exec(`${text.slice(0, eq)}=${text.slice(eq + 1)}`);
  if (!m || m[1]!.includes('=') || m[2]!.includes('=')) return undefined;
  return { user: m[1]!, tokenid: m[2]!, secret: text.slice(eq + 1), privsep: 0 };
}

export function newTokenString(user = 'root@pam', id = 'emulator'): string {
  return `${user}!${id}=${randomUUID()}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const hexTime = (s: number) => s.toString(16).toUpperCase().padStart(8, '0');

export class AuthService {
  private readonly secret = randomBytes(32);
  private readonly tokens = new Map<string, TokenDef>();
  private readonly passwords = new Map<string, string>();

  constructor(tokens: TokenDef[], rootPassword: string, private readonly clock: () => number) {
    for (const t of tokens) this.tokens.set(`${t.user}!${t.tokenid}`, t);
    this.passwords.set('root@pam', rootPassword);
  }

  private now(): number {
    return Math.floor(this.clock() / 1000);
  }

  private sign(data: string): string {
    return createHmac('sha256', this.secret).update(data).digest('base64');
  }

  /** POST /access/ticket. Bad credentials → 401 `authentication failure` (JSON body, unlike other 401s). */
  login(username: string, password: string, realm?: string): { username: string; ticket: string; CSRFPreventionToken: string } {
    let user = username;
    if (!user.includes('@') && realm) user = `${user}@${realm}`;
    const expected = this.passwords.get(user);
    if (expected === undefined || !safeEqual(expected, password)) throw new ApiError(401, 'authentication failure');
    const t = hexTime(this.now());
    const data = `PVE:${user}:${t}`;
    return { username: user, ticket: `${data}::${this.sign(data)}`, CSRFPreventionToken: this.csrfFor(user, t) };
  }

  private csrfFor(user: string, t: string): string {
    return `${t}:${this.sign(`${t}:${user}`).replace(/=+$/, '')}`;
  }

  private fresh(t: number): boolean {
    const age = this.now() - t;
    return age > -SKEW_S && age < TICKET_LIFETIME_S;
  }

  verifyTicket(ticket: string): string | undefined {
    const m = /^PVE:([^:\s]+):([0-9A-Fa-f]{8})::(.+)$/.exec(ticket);
    if (!m) return undefined;
    if (!safeEqual(this.sign(`PVE:${m[1]}:${m[2]}`), m[3]!)) return undefined;
    if (!this.fresh(parseInt(m[2]!, 16))) return undefined;
    return m[1]!;
  }

  verifyCsrf(user: string, token: string | undefined): boolean {
    if (!token) return false;
    const m = /^([0-9A-Fa-f]{8}):(.+)$/.exec(token);
    if (!m) return false;
    return safeEqual(this.csrfFor(user, m[1]!.toUpperCase()), `${m[1]!.toUpperCase()}:${m[2]}`) && this.fresh(parseInt(m[1]!, 16));
  }

  token(full: string): TokenDef | undefined {
    return this.tokens.get(full);
  }

  /**
   * pveproxy's auth_handler. Throws BareHttpError(401) — `No ticket`, `Authentication failed!` or
   * `Permission denied - invalid csrf token` — which the server sends without a body.
   */
  authenticate(headers: Record<string, string | string[] | undefined>, method: string, csrfExempt: boolean): Identity {
    const authz = headerValue(headers['authorization']);
    const tokenMatch = authz ? /^PVEAPIToken[= ](.*)$/s.exec(authz) : null;
    if (tokenMatch) {
      const def = parseTokenString(tokenMatch[1]!.trim());
      const known = def && this.tokens.get(`${def.user}!${def.tokenid}`);
      if (!def || !known || !safeEqual(known.secret, def.secret)) throw new BareHttpError(401, 'Authentication failed!', true);
      return { user: def.user, tokenid: def.tokenid, full: `${def.user}!${def.tokenid}`, viaTicket: false };
    }
    const ticket = cookieTicket(headerValue(headers['cookie'])) ?? (authz ? /^PVEAuthCookie=(.*)$/.exec(authz)?.[1] : undefined);
    if (ticket === undefined) throw new BareHttpError(401, 'No ticket', true);
    const user = this.verifyTicket(safeDecode(ticket));
    if (!user) throw new BareHttpError(401, 'Authentication failed!', true);
    if (method !== 'GET' && !csrfExempt && !this.verifyCsrf(user, headerValue(headers['csrfpreventiontoken']))) {
      throw new BareHttpError(401, 'Permission denied - invalid csrf token', true);
    }
    return { user, full: user, viaTicket: true };
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function cookieTicket(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'PVEAuthCookie') return v.join('=');
  }
  return undefined;
}
