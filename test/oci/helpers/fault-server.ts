// A small in-test registry for faults a real registry cannot produce: wrong Docker-Content-Digest, tampered
// bodies, truncated or oversized blobs, redirects to another host, ignored Range, expiring bearer tokens.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { freePort } from './ports';

export interface Servable { root: { digest: string; bytes: Buffer; mediaType: string }; manifests: { digest: string; bytes: Buffer; mediaType: string }[]; blobs: Map<string, Buffer> }

export interface Faults {
  /** Docker-Content-Digest to send for a manifest (undefined: the right one; null: none). */
  manifestDigestHeader?: (digest: string) => string | null | undefined;
  manifestBody?: (ref: string, bytes: Buffer) => Buffer;
  contentType?: (ref: string, mediaType: string) => string;
  blobBody?: (digest: string, bytes: Buffer) => Buffer;
  /** Per digest: how many more times to cut the connection after `truncateAt` bytes. */
  truncate?: Map<string, number>;
  truncateAt?: number;
  /** Send the blob plus extra bytes and never finish the response. */
  oversizeAndHang?: Set<string>;
  ignoreRange?: boolean;
  /** Redirect blob GETs to this base URL (`<base>/blobs/<digest>`). */
  redirectBlobsTo?: string;
  /** Delay each blob response (to overlap concurrent pulls). */
  blobDelayMs?: number;
  bearer?: { expiresIn: number; serverTtlMs: number; alwaysDeny?: boolean };
}

export interface RequestLog { method: string; path: string; range?: string; authorization?: string }

export interface FaultServer { url: string; host: string; log: RequestLog[]; tokensIssued: number; faults: Faults; stats: { inflight: number; maxInflight: number }; close(): Promise<void> }

function serveBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, faults: Faults, digest: string): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  let body = bytes;
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'docker-content-digest': digest };
  let status = 200;
  if (range && !faults.ignoreRange) {
    const start = Number(range[1]);
    body = bytes.subarray(start);
    status = 206;
    headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
  }
  if (faults.oversizeAndHang?.has(digest)) {
    res.writeHead(200, headers);
    res.write(Buffer.concat([body, Buffer.from('EXTRA-BYTES')]));
    return; // never ends: the client must stop on its own
  }
  headers['content-length'] = String(body.length);
  const left = faults.truncate?.get(digest) ?? 0;
  if (left > 0) {
    faults.truncate!.set(digest, left - 1);
    res.writeHead(status, headers);
    // A graceful FIN (not RST) so every byte sent reaches the client before the connection drops.
    res.write(body.subarray(0, Math.min(faults.truncateAt ?? Math.floor(body.length / 2), body.length - 1)), () => res.socket?.end());
    return;
  }
  res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body);
}

export async function startFaultRegistry(images: Record<string, Servable>, faults: Faults = {}): Promise<FaultServer> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const log: RequestLog[] = [];
  const tokens = new Map<string, number>();
  const state = { tokensIssued: 0 };
  const stats = { inflight: 0, maxInflight: 0 };
  const manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  const blobs = new Map<string, Buffer>();
  for (const img of Object.values(images)) {
    for (const m of [...img.manifests, img.root]) manifests.set(m.digest, m);
    for (const [d, b] of img.blobs) blobs.set(d, b);
  }
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    log.push({ method: req.method ?? '', path: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (url.pathname === '/token') {
      state.tokensIssued++;
      const token = randomUUID();
      tokens.set(token, Date.now());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: faults.bearer!.expiresIn }));
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) { res.writeHead(404).end(); return; }
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (faults.bearer) {
      const tok = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const issued = tok ? tokens.get(tok) : undefined;
      if (faults.bearer.alwaysDeny || issued === undefined || Date.now() - issued > faults.bearer.serverTtlMs) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="fault",scope="repository:${repo}:pull"`, 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
    }
    if (kind === 'manifests') {
      const tagged = images[`${repo}:${ref}`]?.root;
      const doc = tagged ?? manifests.get(ref);
      if (!doc) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'); return; }
      const body = faults.manifestBody ? faults.manifestBody(ref, doc.bytes) : doc.bytes;
      const claimed = faults.manifestDigestHeader ? faults.manifestDigestHeader(doc.digest) : doc.digest;
      res.writeHead(200, {
        'content-type': faults.contentType ? faults.contentType(ref, doc.mediaType) : doc.mediaType,
        'content-length': String(body.length), ...(claimed ? { 'docker-content-digest': claimed } : {}),
      }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const bytes = blobs.get(ref);
    if (!bytes) { res.writeHead(404).end(); return; }
    stats.inflight++;
    stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
    res.on('close', () => { stats.inflight--; });
    const send = () => {
      if (faults.redirectBlobsTo) { res.writeHead(307, { location: `${faults.redirectBlobsTo}/blobs/${ref}` }).end(); return; }
      serveBytes(req, res, faults.blobBody ? faults.blobBody(ref, bytes) : bytes, faults, ref);
    };
    if (faults.blobDelayMs) setTimeout(send, faults.blobDelayMs); else send();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://${host}`, host, log, faults, stats,
    get tokensIssued() { return state.tokensIssued; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A plain blob host (object storage stand-in) for redirect tests. */
export async function startBlobHost(blobs: Map<string, Buffer>, faults: Faults = {}): Promise<FaultServer> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const log: RequestLog[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    log.push({ method: req.method ?? '', path: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const digest = url.pathname.replace(/^\/blobs\//, '');
    const bytes = blobs.get(digest);
    if (!bytes) { res.writeHead(404).end(); return; }
    serveBytes(req, res, bytes, faults, digest);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://${host}`, host, log, faults, tokensIssued: 0, stats: { inflight: 0, maxInflight: 0 },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
