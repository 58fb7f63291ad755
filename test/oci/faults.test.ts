// Integrity and transport faults against an in-test registry (§7a cases 1–6, 37, 38, 39).
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContentStore } from '../../provider/oci/store/store';
import { RegistryClient } from '../../provider/oci/registry/client';
import { buildImage, buildIndex, makeTar, type BuiltImage } from '../../provider/oci/layout/writer';
import { pullImage } from '../../provider/oci/pull';
import { DigestMismatchError, ManifestError, RegistryAuthError, SizeMismatchError } from '../../provider/oci/errors';
import { startBlobHost, startFaultRegistry, type FaultServer } from './helpers/fault-server';

let dir: string;
let image: BuiltImage;
let n = 0;

async function freshStore(): Promise<ContentStore> {
  return ContentStore.open(join(dir, `store-${++n}`));
}

async function storeFiles(store: ContentStore): Promise<{ blobs: string[]; ingest: string[] }> {
  return {
    blobs: await fs.readdir(join(store.root, 'blobs', 'sha256')),
    ingest: await fs.readdir(join(store.root, 'ingest')),
  };
}

const servers: FaultServer[] = [];
async function serve(...args: Parameters<typeof startFaultRegistry>): Promise<FaultServer> {
  const s = await startFaultRegistry(...args);
  servers.push(s);
  return s;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'pp-oci-faults-'));
  // Incompressible content so blobs are large enough to cut in the middle.
  const big = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));
  image = buildImage({
    layers: [
      { tar: await makeTar([{ name: 'data.bin', content: big }]), compression: 'none' },
      { tar: await makeTar([{ name: 'small', content: 'small' }]) },
    ],
    runtime: { Cmd: ['/bin/sh'] },
  });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const pullFrom = (s: FaultServer, store: ContentStore, ref = 'repo/img:v1', extra: object = {}) =>
  pullImage(`${s.host}/${ref}`, { store, insecureRegistries: [s.host], dockerConfig: false, backoffMs: 10, retries: 0, ...extra });

test('case 1: layer bytes not matching the digest → error naming it, nothing in blobs/ or ingest/', async () => {
  const bad = image.layers[0]!.digest;
  const s = await serve({ 'repo/img:v1': image }, { blobBody: (d, b) => d === bad ? Buffer.from(b).fill(1, 100, 200) : b });
  const store = await freshStore();
  const err = await pullFrom(s, store).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DigestMismatchError);
  expect((err as Error).message).toContain(bad);
  const files = await storeFiles(store);
  expect(files.blobs).not.toContain(bad.slice(7));
  expect(files.ingest).toEqual([]);
});

test('case 2: a layer longer than its size is aborted as soon as the extra byte arrives', async () => {
  const layer = image.layers[0]!.digest;
  const s = await serve({ 'repo/img:v1': image }, { oversizeAndHang: new Set([layer]) });
  const store = await freshStore();
  const started = Date.now();
  const err = await pullFrom(s, store).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SizeMismatchError);
  expect((err as SizeMismatchError).short).toBe(false);
  // The server never ends the response: only an early abort can get here (well before the 60 s body timeout).
  expect(Date.now() - started).toBeLessThan(5000);
  const files = await storeFiles(store);
  expect(files.blobs).not.toContain(layer.slice(7));
  expect(files.ingest).toEqual([]);
}, 10_000);

test('case 3: a dropped connection leaves a resumable partial, never a blob; the next pull completes', async () => {
  const layer = image.layers[0]!;
  const s = await serve({ 'repo/img:v1': image }, { truncate: new Map([[layer.digest, 1]]), truncateAt: 70_000 });
  const store = await freshStore();
  await expect(pullFrom(s, store)).rejects.toThrow();
  const files = await storeFiles(store);
  expect(files.blobs).not.toContain(layer.digest.slice(7));
  const partial = files.ingest.find((f) => f.endsWith('.partial'));
  expect(partial).toBe(`sha256-${layer.digest.slice(7)}.partial`);
  // How much arrived before the drop depends on the socket; whatever did is kept for the next attempt.
  const have = (await fs.stat(join(store.root, 'ingest', partial!))).size;
  expect(have).toBeLessThanOrEqual(70_000);
  const pulled = await pullFrom(s, store);
  expect(pulled.layers[0]!.digest).toBe(layer.digest);
  expect(await fs.readFile(store.blobPath(layer.digest))).toEqual(layer.bytes);
  const second = s.log.filter((r) => r.path.endsWith(layer.digest))[1]!;
  expect(second.range).toBe(have > 0 ? `bytes=${have}-` : undefined);
  expect((await storeFiles(store)).ingest).toEqual([]);
});

async function seedPartial(store: ContentStore, digest: string, bytes: Buffer): Promise<void> {
  await fs.writeFile(join(store.root, 'ingest', `sha256-${digest.slice(7)}.partial`), bytes);
}

test('case 39: a partial download resumes with Range and gives the same digest', async () => {
  const layer = image.layers[0]!;
  const s = await serve({ 'repo/img:v1': image });
  const store = await freshStore();
  await seedPartial(store, layer.digest, layer.bytes.subarray(0, 60_000));
  const pulled = await pullFrom(s, store);
  expect(pulled.layers[0]!.digest).toBe(layer.digest);
  expect(await fs.readFile(store.blobPath(layer.digest))).toEqual(layer.bytes);
  expect(s.log.filter((r) => r.path.endsWith(layer.digest)).map((r) => r.range)).toEqual(['bytes=60000-']);
});

test('case 39: a server answering 200 to a Range request restarts cleanly (the stale partial is discarded)', async () => {
  const layer = image.layers[0]!;
  const s = await serve({ 'repo/img:v1': image }, { ignoreRange: true });
  const store = await freshStore();
  // Garbage in the partial: resuming on top of it would fail the digest, restarting must not.
  await seedPartial(store, layer.digest, Buffer.alloc(60_000, 0xee));
  const pulled = await pullFrom(s, store);
  expect(pulled.layers[0]!.digest).toBe(layer.digest);
  expect(await fs.readFile(store.blobPath(layer.digest))).toEqual(layer.bytes);
  expect(s.log.filter((r) => r.path.endsWith(layer.digest)).map((r) => r.range)).toEqual(['bytes=60000-']);
});

test('case 39: retries inside one pull recover from dropped connections', async () => {
  const layer = image.layers[0]!;
  const s = await serve({ 'repo/img:v1': image }, { truncate: new Map([[layer.digest, 2]]), truncateAt: 50_000 });
  const store = await freshStore();
  const pulled = await pullFrom(s, store, 'repo/img:v1', { retries: 2 });
  expect(pulled.layers[0]!.digest).toBe(layer.digest);
  expect(await fs.readFile(store.blobPath(layer.digest))).toEqual(layer.bytes);
  expect(s.log.filter((r) => r.path.endsWith(layer.digest))).toHaveLength(3);
});

test('case 39: blob redirect to another host:port is followed without Authorization', async () => {
  const blobHost = await startBlobHost(image.blobs);
  servers.push(blobHost);
  const s = await serve({ 'repo/img:v1': image }, { redirectBlobsTo: blobHost.url, bearer: { expiresIn: 300, serverTtlMs: 60_000 } });
  const store = await freshStore();
  const pulled = await pullFrom(s, store);
  expect(pulled.layers).toHaveLength(2);
  expect(s.log.filter((r) => r.path.includes('/blobs/') && r.authorization?.startsWith('Bearer ')).length).toBeGreaterThanOrEqual(3);
  expect(blobHost.log).toHaveLength(3);
  expect(blobHost.log.every((r) => r.authorization === undefined)).toBe(true);
});

test('case 4: a tag whose Docker-Content-Digest differs from the bytes is rejected', async () => {
  const other = `sha256:${'e'.repeat(64)}`;
  const s = await serve({ 'repo/img:v1': image }, { manifestDigestHeader: () => other });
  const store = await freshStore();
  const err = await pullFrom(s, store).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DigestMismatchError);
  expect((err as Error).message).toContain(other);
  expect((await storeFiles(store)).blobs).toEqual([]);
});

test('case 5: a manifest by digest with wrong bytes, or an index entry with a wrong size, is rejected', async () => {
  const tamper = (ref: string, b: Buffer) => ref === image.root.digest ? Buffer.from(b.toString().replace('"layers"', ' "layers"')) : b;
  const s = await serve({ 'repo/img:v1': image }, { manifestBody: tamper, manifestDigestHeader: () => null });
  const store = await freshStore();
  await expect(pullFrom(s, store, `repo/img@${image.root.digest}`)).rejects.toThrow(DigestMismatchError);

  const index = buildIndex([image]);
  const wrongSize = JSON.parse(index.root.bytes.toString());
  wrongSize.manifests[0].size += 1;
  const bytes = Buffer.from(JSON.stringify(wrongSize));
  const s2 = await serve({ 'repo/idx:v1': { ...index, root: { ...index.root, bytes, digest: `sha256:${require('node:crypto').createHash('sha256').update(bytes).digest('hex')}` } } });
  await expect(pullFrom(s2, await freshStore(), 'repo/idx:v1')).rejects.toThrow(SizeMismatchError);
});

test('case 6: Content-Type disagreeing with mediaType is rejected', async () => {
  const s = await serve({ 'repo/img:v1': image }, { contentType: () => 'application/vnd.docker.distribution.manifest.v2+json' });
  await expect(pullFrom(s, await freshStore())).rejects.toThrow(ManifestError);
});

test('case 37: concurrent pulls of one image share one download per blob', async () => {
  const s = await serve({ 'repo/img:v1': image }, { blobDelayMs: 100 });
  const store = await freshStore();
  const [a, b, c] = await Promise.all([pullFrom(s, store), pullFrom(s, store), pullFrom(s, store)]);
  expect(a.manifestDigest).toBe(image.root.digest);
  expect(b.layers).toEqual(a.layers);
  expect(c.layers).toEqual(a.layers);
  for (const digest of [image.config.digest, ...image.layers.map((l) => l.digest)]) {
    expect(s.log.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`))).toHaveLength(1);
  }
});

test('layers download in parallel under the bound', async () => {
  const many = buildImage({ layers: await Promise.all(Array.from({ length: 6 }, async (_, i) => ({ tar: await makeTar([{ name: `f${i}`, content: `layer ${i}` }]) }))) });
  const s = await serve({ 'repo/many:v1': many }, { blobDelayMs: 80 });
  const pulled = await pullFrom(s, await freshStore(), 'repo/many:v1', { concurrency: 2 });
  expect(pulled.layers).toHaveLength(6);
  expect(s.stats.maxInflight).toBe(2);
  const s3 = await serve({ 'repo/many:v1': many }, { blobDelayMs: 80 });
  await pullFrom(s3, await freshStore(), 'repo/many:v1');
  expect(s3.stats.maxInflight).toBe(3);
});

test('a config larger than the document limit is refused before download', async () => {
  const huge = buildImage({ layers: [{ tar: await makeTar([{ name: 'x', content: 'x' }]) }], mutateManifest: (m) => ({ ...m, config: { ...m.config, size: 64 * 1024 * 1024 } }) });
  const s = await serve({ 'repo/huge:v1': huge });
  await expect(pullFrom(s, await freshStore(), 'repo/huge:v1')).rejects.toThrow(/config claims 67108864 bytes/);
  expect(s.log.filter((r) => r.path.includes('/blobs/'))).toEqual([]);
});

describe('case 38: bearer tokens', () => {
  test('a cached token refused by the registry (expired) triggers exactly one re-auth', async () => {
    const s = await serve({ 'repo/img:v1': image }, { bearer: { expiresIn: 3600, serverTtlMs: 300 } });
    const client = new RegistryClient({ host: s.host, insecureRegistries: [s.host] });
    try {
      await client.getManifest('repo/img', 'v1');
      await client.getManifest('repo/img', 'v1');
      expect(client.tokenRequests).toBe(1);
      await sleep(400);
      await client.getManifest('repo/img', 'v1');
      expect(client.tokenRequests).toBe(2);
    } finally { await client.close(); }
  });

  test('expires_in bounds the cache: a new token after expiry without a failed request', async () => {
    const s = await serve({ 'repo/img:v1': image }, { bearer: { expiresIn: 1, serverTtlMs: 60_000 } });
    const client = new RegistryClient({ host: s.host, insecureRegistries: [s.host] });
    try {
      await client.getManifest('repo/img', 'v1');
      await client.getManifest('repo/img', 'v1');
      expect(client.tokenRequests).toBe(1);
      await sleep(1100);
      await client.getManifest('repo/img', 'v1');
      expect(client.tokenRequests).toBe(2);
    } finally { await client.close(); }
  });

  test('a registry that keeps refusing gets one re-auth, then a clear error with no token in it', async () => {
    const s = await serve({ 'repo/img:v1': image }, { bearer: { expiresIn: 300, serverTtlMs: 0, alwaysDeny: true } });
    const client = new RegistryClient({ host: s.host, insecureRegistries: [s.host] });
    try {
      const err = await client.getManifest('repo/img', 'v1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryAuthError);
      expect((err as Error).message).toMatch(/denied after authenticating anonymously/);
      expect(client.tokenRequests).toBe(1);
      expect(s.log.filter((r) => r.path.includes('/manifests/'))).toHaveLength(2);
      const issued = s.log.find((r) => r.authorization)?.authorization?.slice(7) ?? 'x';
      expect((err as Error).message).not.toContain(issued);
    } finally { await client.close(); }
  });
});
