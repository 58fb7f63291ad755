// Minimal pusher (enough for the distribution registry): blobs monolithic or chunked, then the manifest.
// Tests and fixtures use it; the provider itself only pulls.
import { digestOf } from '../digest';
import { RegistryError } from '../errors';
import type { RegistryClient } from './client';

export interface PushOptions { chunkSize?: number }

function loc(res: { headers: Record<string, string | string[] | undefined>; url: URL }): string {
  const l = res.headers.location;
  const v = Array.isArray(l) ? l[0] : l;
  if (!v) throw new RegistryError(res.url.href, 0, 'upload response without Location');
  return new URL(v, res.url).href;
}

export async function blobExists(client: RegistryClient, repository: string, digest: string): Promise<boolean> {
  const res = await client.send('HEAD', `/v2/${repository}/blobs/${digest}`, { scope: client.scope(repository, 'pull,push'), idempotent: true });
  await res.body.dump();
  return res.statusCode === 200;
}

export async function pushBlob(client: RegistryClient, repository: string, bytes: Buffer, options: PushOptions = {}): Promise<string> {
  const digest = digestOf(bytes);
  const scope = client.scope(repository, 'pull,push');
  if (await blobExists(client, repository, digest)) return digest;
  const start = await client.send('POST', `/v2/${repository}/blobs/uploads/`, { scope, idempotent: false });
  if (start.statusCode !== 202) throw new RegistryError(start.url.href, start.statusCode, await start.body.text());
  await start.body.dump();
  let location = loc(start);
  const chunk = options.chunkSize ?? 0;
  if (chunk > 0) {
    for (let off = 0; off < bytes.length; off += chunk) {
      const part = bytes.subarray(off, Math.min(off + chunk, bytes.length));
      const res = await client.send('PATCH', location, {
        scope, idempotent: false, body: part,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${off + part.length - 1}`, 'content-length': String(part.length) },
      });
      if (res.statusCode !== 202) throw new RegistryError(res.url.href, res.statusCode, await res.body.text());
      await res.body.dump();
      location = loc(res);
    }
  }
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  const body = chunk > 0 ? Buffer.alloc(0) : bytes;
  const done = await client.send('PUT', url.href, {
    scope, idempotent: false, body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
  });
  if (done.statusCode !== 201) throw new RegistryError(done.url.href, done.statusCode, await done.body.text());
  await done.body.dump();
  return digest;
}

export async function pushManifest(client: RegistryClient, repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
  const res = await client.send('PUT', `/v2/${repository}/manifests/${reference}`, {
    scope: client.scope(repository, 'pull,push'), idempotent: true, body: bytes, headers: { 'content-type': mediaType },
  });
  if (res.statusCode !== 201) throw new RegistryError(res.url.href, res.statusCode, await res.body.text());
  await res.body.dump();
  return digestOf(bytes);
}

/** Anything built by layout/writer: blobs first (children before parents), then the root document. */
export interface PushableImage { blobs: Map<string, Buffer>; manifests: { digest: string; bytes: Buffer; mediaType: string }[]; root: { digest: string; bytes: Buffer; mediaType: string } }

export async function pushImage(client: RegistryClient, repository: string, tag: string, image: PushableImage, options: PushOptions = {}): Promise<string> {
  for (const bytes of image.blobs.values()) await pushBlob(client, repository, bytes, options);
  for (const m of image.manifests) await pushManifest(client, repository, m.digest, m.bytes, m.mediaType);
  return pushManifest(client, repository, tag, image.root.bytes, image.root.mediaType);
}
