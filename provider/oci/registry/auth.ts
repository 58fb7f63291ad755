// Registry authentication: answers a 401 challenge with a bearer token (fetched from the realm, anonymously
// or with Basic credentials) or with Basic credentials. Tokens are cached per (realm, service, scope) until
// `expires_in` (default 60 s) minus a skew. Secrets never appear in errors.
import { request, type Dispatcher } from 'undici';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { RegistryAuthError } from '../errors';
import { basicHeader, type Credentials } from './credentials';
import type { Challenge } from './www-authenticate';

const tokenResponseSchema = z.looseObject({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().positive().optional(),
  issued_at: z.string().optional(),
});

export interface AuthContext {
  host: string;
  dispatcher: Dispatcher;
  credentials?: Credentials;
  /** May credentials go to this URL (https, loopback, or an insecure-marked registry)? */
  mayCarrySecrets(url: URL): boolean;
}

export class Authenticator {
  private readonly tokens = new LRUCache<string, string>({ max: 256, ttlAutopurge: false });
  /** The challenge last seen per scope, so later requests send a token up front. */
  private readonly challenges = new Map<string, Challenge>();
  tokenRequests = 0;

  constructor(private readonly ctx: AuthContext) {}

  private key(ch: Challenge, scope: string): string {
    return `${ch.params.realm ?? ''}\0${ch.params.service ?? ''}\0${scope}`;
  }

  /** Authorization header for a request under `scope`, from what earlier challenges taught us. */
  cachedHeader(scope: string): string | undefined {
    const ch = this.challenges.get(scope);
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return this.ctx.credentials ? basicHeader(this.ctx.credentials) : undefined;
    const token = this.tokens.get(this.key(ch, scope));
    return token ? `Bearer ${token}` : undefined;
  }

  /** Answers a challenge; drops any cached token for the scope first (it was refused or expired). */
  async respond(challenges: Challenge[], scope: string): Promise<string> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.challenges.set(scope, bearer);
      this.tokens.delete(this.key(bearer, scope));
      return `Bearer ${await this.fetchToken(bearer, scope)}`;
    }
    if (basic) {
      this.challenges.set(scope, basic);
      if (!this.ctx.credentials) throw new RegistryAuthError(this.ctx.host, 'requires a username and password (basic auth); give credentials or log in with docker/skopeo');
      return basicHeader(this.ctx.credentials);
    }
    throw new RegistryAuthError(this.ctx.host, `answered 401 without a usable WWW-Authenticate challenge (${challenges.map((c) => c.scheme).join(', ') || 'none'})`);
  }

  private async fetchToken(ch: Challenge, scope: string): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new RegistryAuthError(this.ctx.host, 'bearer challenge has no realm');
    let url: URL;
    try { url = new URL(realm); } catch { throw new RegistryAuthError(this.ctx.host, `bearer realm ${JSON.stringify(realm)} is not a URL`); }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryAuthError(this.ctx.host, `bearer realm must be http(s), got ${url.protocol}`);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    // Several scopes are space-separated; each becomes its own `scope` parameter.
    // Ask for what we need plus what the challenge names (it may name less, e.g. pull for a HEAD during a push).
    const scopes = new Set([scope, ...(ch.params.scope ?? '').split(' ')].filter(Boolean));
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.ctx.credentials) {
      if (!this.ctx.mayCarrySecrets(url)) {
        throw new RegistryAuthError(this.ctx.host, `refusing to send credentials to token realm ${url.origin} over plain HTTP; mark it insecure only if you trust the network`);
      }
      headers.authorization = basicHeader(this.ctx.credentials);
    }
    this.tokenRequests++;
    let res;
    try {
      res = await request(url, { method: 'GET', headers, dispatcher: this.ctx.dispatcher });
    } catch (err) {
      throw new RegistryAuthError(this.ctx.host, `token service ${url.origin} is unreachable (${(err as Error).message})`);
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryAuthError(this.ctx.host, `token service refused ${this.ctx.credentials ? `the credentials of user ${this.ctx.credentials.username}` : 'anonymous access'} (HTTP ${res.statusCode})`);
    }
    if (res.statusCode !== 200) throw new RegistryAuthError(this.ctx.host, `token service ${url.origin} answered HTTP ${res.statusCode}`);
    let body;
    try { body = tokenResponseSchema.parse(JSON.parse(text)); } catch { throw new RegistryAuthError(this.ctx.host, 'token service answered without a JSON token'); }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryAuthError(this.ctx.host, 'token service answered without "token" or "access_token"');
    const expiresMs = (body.expires_in ?? 60) * 1000;
    const skew = Math.min(10_000, expiresMs / 5);
    const ttl = Math.max(1, Math.floor(expiresMs - skew));
    this.tokens.set(this.key(ch, scope), token, { ttl });
    return token;
  }
}
