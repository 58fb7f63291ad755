// A tiny token service for distribution's token auth: RS256 JWTs with the signing certificate in `x5c`
// (docker-registry 2.8 verifies x5c against its rootcertbundle). Users, grants and expiry are configurable.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { sign, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { freePort } from './ports';

export interface TokenServerOptions {
  /** Directory for the key and certificate. */
  dir: string;
  service?: string;
  issuer?: string;
  users?: Record<string, string>;
  /** Actions granted for a scope; default: everything asked when authenticated, pull when anonymous. */
  grant?: (user: string | undefined, type: string, name: string, actions: string[]) => string[];
  expiresIn?: number;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  requests: { user?: string; scopes: string[]; service?: string }[];
  close(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function basicUser(req: IncomingMessage, users: Record<string, string>): string | undefined | null {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Basic (.+)$/.exec(h);
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const user = text.slice(0, colon);
  return users[user] !== undefined && users[user] === text.slice(colon + 1) ? user : null;
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const keyPath = join(options.dir, 'token.key');
  const certPath = join(options.dir, 'token.crt');
  await fs.mkdir(options.dir, { recursive: true });
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=proxmox-pods test token signer']);
  const key = await fs.readFile(keyPath, 'utf8');
  const certPem = await fs.readFile(certPath, 'utf8');
  const der = Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const service = options.service ?? 'proxmox-pods-test';
  const issuer = options.issuer ?? 'proxmox-pods-test-issuer';
  const users = options.users ?? {};
  const requests: TokenServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const user = basicUser(req, users);
    const scopes = url.searchParams.getAll('scope');
    requests.push({ ...(user ? { user } : {}), scopes, ...(url.searchParams.get('service') ? { service: url.searchParams.get('service')! } : {}) });
    if (user === null) { res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}'); return; }
    const access = scopes.flatMap((s) => {
      const parts = s.split(':');
      if (parts.length < 3) return [];
      const actions = parts.pop()!.split(',');
      const type = parts.shift()!;
      const name = parts.join(':');
      const granted = options.grant ? options.grant(user, type, name, actions) : actions.filter((a) => user !== undefined || a === 'pull');
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresIn ?? 300;
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certPath, requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
