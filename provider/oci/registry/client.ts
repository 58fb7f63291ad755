// Registry client per the distribution spec: manifests (with Accept for OCI + Docker types), blobs (with
// redirects and Range), auth retry once on 401, backoff on 5xx/429/network errors. One undici Agent per
// client: TLS settings never leak into the process.
import { request, Agent, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, isValidDigest, parseDigest } from '../digest';
import { DigestMismatchError, ManifestError, RegistryAuthError, RegistryError } from '../errors';
import { MANIFEST_ACCEPT } from '../media-types';
import { MAX_JSON_BYTES } from '../manifest';
import { readCapped } from '../read-capped';
import { Authenticator } from './auth';
import type { Credentials } from './credentials';
import { parseWwwAuthenticate } from './www-authenticate';

export interface RegistryClientOptions {
  /** host[:port] to connect to. */
  host: string;
  /** Hosts (host or host:port) reached over plain HTTP. Everything else uses https. */
  insecureRegistries?: readonly string[];
  credentials?: Credentials;
  /** Extra CA certificate(s), PEM, trusted for this client only. */
  ca?: string | string[];
  retries?: number;
  backoffMs?: number;
  /** Milliseconds without data before a response is abandoned (and retried). */
  bodyTimeoutMs?: number;
}

export interface ManifestResponse { bytes: Buffer; contentType?: string; digest: string }

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  scope: string;
  /** Safe to repeat on 5xx/429/network errors. */
  idempotent?: boolean;
  /** Follow 3xx (dropping Authorization when the host changes). */
  followRedirects?: boolean;
}

export interface SendResult { statusCode: number; headers: Record<string, string | string[] | undefined>; body: Readable & { text(): Promise<string>; dump(): Promise<void> }; url: URL }

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}


async function errorDetail(res: SendResult): Promise<string> {
  // Detail for an error the status already makes; an unreadable body leaves only the status.
  const text = (await res.body.text().catch(() => '')).slice(0, 2000);
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (parsed.errors?.length) return parsed.errors.map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
  } catch { /* not JSON */ }
  return text.trim().slice(0, 200) || 'no detail';
}

export class RegistryClient {
  readonly host: string;
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly auth: Authenticator;
  private readonly insecure: readonly string[];

  constructor(private readonly options: RegistryClientOptions) {
    this.host = options.host;
    this.insecure = options.insecureRegistries ?? [];
    this.baseUrl = `${this.isInsecure(options.host) ? 'http' : 'https'}://${options.host}`;
    const bodyTimeout = options.bodyTimeoutMs ?? 60_000;
    this.dispatcher = new Agent({ bodyTimeout, headersTimeout: bodyTimeout, ...(options.ca ? { connect: { ca: options.ca } } : {}) });
    this.auth = new Authenticator({
      host: options.host, dispatcher: this.dispatcher, ...(options.credentials ? { credentials: options.credentials } : {}),
      mayCarrySecrets: (url) => url.protocol === 'https:' || LOOPBACK.has(url.hostname) || this.isInsecure(url.host),
    });
  }

  /** Token requests made so far (tests use it to observe caching). */
  get tokenRequests(): number { return this.auth.tokenRequests; }

  isInsecure(host: string): boolean {
    const hostname = host.replace(/:\d+$/, '');
    return this.insecure.some((h) => h === host || h === hostname);
  }

  async close(): Promise<void> { await this.dispatcher.close(); }

  private async once(method: Method, url: URL, headers: Record<string, string>, body?: Buffer | string): Promise<SendResult> {
    const res = await request(url, { method, headers, dispatcher: this.dispatcher, ...(body !== undefined ? { body } : {}) });
    return { statusCode: res.statusCode, headers: res.headers, body: res.body as SendResult['body'], url };
  }

  /** One logical request: auth, redirects, retries. The caller owns the body of the result. */
  async send(method: Method, pathOrUrl: string, opts: SendOptions): Promise<SendResult> {
    const retries = opts.idempotent === false ? 0 : this.options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      let res: SendResult;
      try {
        res = await this.sendAuthed(method, new URL(pathOrUrl, this.baseUrl), opts);
      } catch (err) {
        if (err instanceof RegistryAuthError || err instanceof RegistryError || attempt >= retries) {
          if (err instanceof RegistryAuthError || err instanceof RegistryError) throw err;
          throw new RegistryError(`${this.baseUrl}${pathOrUrl.startsWith('/') ? pathOrUrl : ''}`, 0, `network error: ${(err as Error).message}`);
        }
        await sleep((this.options.backoffMs ?? 200) * 2 ** attempt);
        continue;
      }
      if ((res.statusCode >= 500 || res.statusCode === 429) && attempt < retries) {
        const retryAfter = Number(header(res.headers, 'retry-after'));
        await res.body.dump();
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : (this.options.backoffMs ?? 200) * 2 ** attempt);
        continue;
      }
      return res;
    }
  }

  private async sendAuthed(method: Method, url: URL, opts: SendOptions): Promise<SendResult> {
    let authorization = this.auth.cachedHeader(opts.scope);
    for (let round = 0; ; round++) {
      const headers = { ...opts.headers, ...(authorization ? { authorization } : {}) };
      const res = await this.followRedirects(method, url, headers, opts);
      if (res.statusCode !== 401) return res;
      const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
      const detail = await errorDetail(res);
      // One re-auth: an expired or refused token is replaced once; a second 401 means no access.
      if (round >= 1) {
        throw new RegistryAuthError(this.host, `access to ${opts.scope} denied after authenticating${this.options.credentials ? ` as ${this.options.credentials.username}` : ' anonymously'} (${detail}); check the credentials and that the repository exists`);
      }
      authorization = await this.auth.respond(challenges, opts.scope);
    }
  }

  private async followRedirects(method: Method, start: URL, headers: Record<string, string>, opts: SendOptions): Promise<SendResult> {
    let url = start;
    let hdrs = headers;
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, url, hdrs, opts.body);
      if (!opts.followRedirects || ![301, 302, 303, 307, 308].includes(res.statusCode)) return res;
      const location = header(res.headers, 'location');
      await res.body.dump();
      if (!location) throw new RegistryError(url.href, res.statusCode, 'redirect without Location');
      if (hop >= 5) throw new RegistryError(start.href, res.statusCode, 'too many redirects');
      const next = new URL(location, url);
      if (url.protocol === 'https:' && next.protocol !== 'https:') throw new RegistryError(start.href, res.statusCode, `refusing redirect from https to ${next.protocol}`);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryError(start.href, res.statusCode, `refusing redirect to ${next.protocol}`);
      // Credentials belong to the registry: never forward them to another host (object storage).
      if (next.origin !== url.origin) {
        const { authorization: _drop, ...rest } = hdrs;
        hdrs = rest;
      }
      url = next;
    }
  }

  scope(repository: string, actions = 'pull'): string {
    return `repository:${repository}:${actions}`;
  }

  /** GET a manifest or index; verifies Docker-Content-Digest and, for a digest reference, the bytes. */
  async getManifest(repository: string, tagOrDigest: string): Promise<ManifestResponse> {
    const byDigest = tagOrDigest.includes(':');
    const algorithm = byDigest ? parseDigest(tagOrDigest).algorithm : 'sha256';
    const path = `/v2/${repository}/manifests/${tagOrDigest}`;
    const res = await this.send('GET', path, { scope: this.scope(repository), headers: { accept: MANIFEST_ACCEPT }, idempotent: true });
    if (res.statusCode !== 200) throw new RegistryError(`${this.baseUrl}${path}`, res.statusCode, await errorDetail(res));
    const what = `manifest ${this.host}/${repository}@${tagOrDigest}`;
    const declared = Number(header(res.headers, 'content-length'));
    // Draining a body we refuse; a failed drain only costs the connection.
    if (declared > MAX_JSON_BYTES) { await res.body.dump().catch(() => undefined); throw new ManifestError(what, `document is ${declared} bytes, more than the ${MAX_JSON_BYTES} byte limit`); }
    const bytes = await readCapped(res.body, MAX_JSON_BYTES, () => new ManifestError(what, `document is larger than the ${MAX_JSON_BYTES} byte limit`));
    const digest = digestOf(bytes, algorithm);
    if (byDigest && digest !== tagOrDigest) throw new DigestMismatchError(what, tagOrDigest, digest);
    const claimed = header(res.headers, 'docker-content-digest');
    if (claimed) {
      if (!isValidDigest(claimed)) throw new ManifestError(what, `registry sent an invalid Docker-Content-Digest ${JSON.stringify(claimed)}`);
      const computed = digestOf(bytes, parseDigest(claimed).algorithm);
      if (computed !== claimed) throw new DigestMismatchError(`${what} (Docker-Content-Digest)`, claimed, computed);
    }
    const contentType = header(res.headers, 'content-type');
    return { bytes, digest, ...(contentType ? { contentType } : {}) };
  }

  /** The digest a tag points to now: HEAD, falling back to GET when the registry sends no digest header. */
  async resolveDigest(repository: string, tag: string): Promise<string> {
    const path = `/v2/${repository}/manifests/${tag}`;
    const res = await this.send('HEAD', path, { scope: this.scope(repository), headers: { accept: MANIFEST_ACCEPT }, idempotent: true });
    await res.body.dump();
    const claimed = header(res.headers, 'docker-content-digest');
    if (res.statusCode === 200 && claimed && isValidDigest(claimed)) return claimed;
    if (res.statusCode !== 200 && res.statusCode !== 405) throw new RegistryError(`${this.baseUrl}${path}`, res.statusCode, 'manifest not found or not readable');
    return (await this.getManifest(repository, tag)).digest;
  }

  /** Opens a blob from `offset`. Returns where the stream really starts (0 if the server ignored Range). */
  async openBlob(repository: string, digest: string, offset = 0): Promise<{ stream: Readable; offset: number }> {
    parseDigest(digest);
    const path = `/v2/${repository}/blobs/${digest}`;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.send('GET', path, { scope: this.scope(repository), headers, idempotent: true, followRedirects: true });
    if (res.statusCode === 416 && offset > 0) {
      await res.body.dump();
      return this.openBlob(repository, digest, 0);
    }
    if (res.statusCode === 200) {
      const claimed = header(res.headers, 'docker-content-digest');
      if (claimed && isValidDigest(claimed) && claimed !== digest) {
        res.body.destroy();
        throw new DigestMismatchError(`blob ${digest} from ${this.host}/${repository}`, digest, `${claimed} (Docker-Content-Digest)`);
      }
      return { stream: res.body, offset: 0 };
    }
    if (res.statusCode === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
      if (!m || Number(m[1]) !== offset) {
        res.body.destroy();
        throw new RegistryError(res.url.href, 206, `Content-Range ${JSON.stringify(header(res.headers, 'content-range'))} does not start at ${offset}`);
      }
      return { stream: res.body, offset };
    }
    throw new RegistryError(res.url.href, res.statusCode, await errorDetail(res));
  }
}
