// Content store: one-pass verification, locks across processes, refs, refcounts and gc.
import { createServer } from 'node:http';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { ContentStore, defaultStorePath } from '../../provider/oci/store/store';
import { acquireLock } from '../../provider/oci/store/lock';
import { VerifyingTransform } from '../../provider/oci/verify';
import { digestOf } from '../../provider/oci/digest';
import { buildImage, makeTar, writeLayout } from '../../provider/oci/layout/writer';
import { pullImage } from '../../provider/oci/pull';
import { DigestMismatchError, SizeMismatchError } from '../../provider/oci/errors';
import { freePort } from './helpers/ports';

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(join(tmpdir(), 'pp-oci-store-')); });
afterAll(async () => { if (dir) await fs.rm(dir, { recursive: true, force: true }); });

test('default store path is per user (XDG_CACHE_HOME, else ~/.cache)', () => {
  expect(defaultStorePath({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/proxmox-pods');
  expect(defaultStorePath({ HOME: '/home/u' })).toBe('/home/u/.cache/proxmox-pods');
  expect(defaultStorePath({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.cache/proxmox-pods');
});

describe('VerifyingTransform', () => {
  const data = Buffer.from('hello world, verified in one pass');
  const run = (chunks: Buffer[], target: { digest: string; size: number }) => {
    const seen: number[] = [];
    const v = new VerifyingTransform(target);
    v.on('data', (c: Buffer) => seen.push(c.length));
    return { seen, done: pipeline(Readable.from(chunks), v) };
  };

  test('passes exact content', async () => {
    const { done } = run([data.subarray(0, 5), data.subarray(5)], { digest: digestOf(data), size: data.length });
    await expect(done).resolves.toBeUndefined();
  });

  test('fails at the chunk that crosses the size, without passing it on', async () => {
    const { seen, done } = run([data.subarray(0, 10), data.subarray(10), Buffer.from('more'), Buffer.from('never read')], { digest: digestOf(data), size: data.length });
    await expect(done).rejects.toThrow(SizeMismatchError);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(data.length);
  });

  test('short content and wrong digest', async () => {
    await expect(run([data.subarray(0, 3)], { digest: digestOf(data), size: data.length }).done).rejects.toThrow(/ended after 3 of/);
    await expect(run([data], { digest: digestOf('other'), size: data.length }).done).rejects.toThrow(DigestMismatchError);
  });
});

describe('locks', () => {
  test('a lock held by a dead process is broken; a live holder is waited for', async () => {
    const path = join(dir, 'l1.lock');
    const dead = execa('true');
    await dead;
    await fs.writeFile(path, JSON.stringify({ pid: dead.pid, host: require('node:os').hostname(), token: 'dead' }));
    const lock = await acquireLock(path, { pollMs: 10, timeoutMs: 2000 });
    const order: string[] = [];
    const second = acquireLock(path, { pollMs: 10, timeoutMs: 5000 }).then((l) => { order.push('second'); return l; });
    await new Promise((r) => setTimeout(r, 100));
    order.push('release');
    await lock.release();
    await (await second).release();
    expect(order).toEqual(['release', 'second']);
    await expect(fs.access(path)).rejects.toThrow();
  });

  test('two processes ingesting the same blob share one download', async () => {
    const blob = Buffer.alloc(300_000, 7);
    const digest = digestOf(blob);
    let gets = 0;
    const server = createServer((req, res) => {
      gets++;
      res.writeHead(200, { 'content-length': String(blob.length) });
      // Slow enough for both processes to race for the lock.
      let off = 0;
      const tick = () => {
        if (off >= blob.length) { res.end(); return; }
        res.write(blob.subarray(off, off + 30_000));
        off += 30_000;
        setTimeout(tick, 30);
      };
      tick();
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const root = join(dir, 'shared-store');
      const child = join(__dirname, 'helpers', 'ingest-child.js');
      const args = [child, root, `http://127.0.0.1:${port}/blob`, digest, String(blob.length)];
      const [a, b] = await Promise.all([execa(process.execPath, args), execa(process.execPath, args)]);
      expect(a.stdout).toMatch(/^ok /);
      expect(b.stdout).toMatch(/^ok /);
      expect(gets).toBe(1);
      expect(await fs.readFile(join(root, 'blobs', 'sha256', digest.slice(7)))).toEqual(blob);
      expect((await fs.readdir(join(root, 'ingest')))).toEqual([]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('refs and gc', () => {
  test('gc deletes what no ref reaches, keeps shared blobs, reports freed bytes', async () => {
    const shared = await makeTar([{ name: 'base', content: 'shared base layer' }]);
    const a = buildImage({ layers: [{ tar: shared }, { tar: await makeTar([{ name: 'a', content: 'only in a'.repeat(50) }]) }] });
    const b = buildImage({ layers: [{ tar: shared }, { tar: await makeTar([{ name: 'b', content: 'only in b'.repeat(70) }]) }] });
    const layout = join(dir, 'gc-layout');
    await writeLayout(layout, [{ image: a, tag: 'a' }, { image: b, tag: 'b' }]);
    const store = await ContentStore.open(join(dir, 'gc-store'));
    await pullImage(`oci-layout:${layout}:a`, { store, refName: 'image-a' });
    await pullImage(`oci-layout:${layout}:b`, { store, refName: 'image-b' });
    const counts = await store.refCounts();
    expect(counts.get(a.layers[0]!.digest)).toBe(2);
    expect(counts.get(a.layers[1]!.digest)).toBe(1);
    expect(await store.getRef('image-b')).toMatchObject({ digest: b.root.digest, manifestDigest: b.root.digest });

    expect((await store.gc()).deleted).toEqual([]);
    expect(await store.deleteRef('image-b')).toBe(true);
    expect(await store.deleteRef('image-b')).toBe(false);
    const result = await store.gc();
    const onlyB = [b.root.digest, b.config.digest, b.layers[1]!.digest];
    expect(result.deleted.sort()).toEqual(onlyB.sort());
    expect(result.freedBytes).toBe(b.root.bytes.length + b.config.bytes.length + b.layers[1]!.size);
    for (const d of [a.root.digest, a.config.digest, ...a.layers.map((l) => l.digest)]) expect(await store.has(d)).toBe(true);
    for (const d of onlyB) expect(await store.has(d)).toBe(false);
    // Pulling b again restores exactly what gc removed.
    await pullImage(`oci-layout:${layout}:b`, { store });
    for (const d of onlyB) expect(await store.has(d)).toBe(true);
  });

  test('a live lease protects blobs a running pull has fetched', async () => {
    const img = buildImage({ layers: [{ tar: await makeTar([{ name: 'x', content: 'leased' }]) }] });
    const layout = join(dir, 'lease-layout');
    await writeLayout(layout, [{ image: img, tag: 'x' }]);
    const store = await ContentStore.open(join(dir, 'lease-store'));
    const lease = await store.lease();
    await pullImage(`oci-layout:${layout}:x`, { store });
    expect((await store.gc()).deleted).toEqual([]);
    await lease.release();
    expect((await store.gc()).deleted).toHaveLength(3);
  });

  test('what gc cannot read stops it instead of freeing what it keeps', async () => {
    const img = buildImage({ layers: [{ tar: await makeTar([{ name: 'k', content: 'kept by a ref' }]) }] });
    const layout = join(dir, 'unreadable-layout');
    await writeLayout(layout, [{ image: img, tag: 'k' }]);
    const root = join(dir, 'unreadable-store');
    const store = await ContentStore.open(root);
    await pullImage(`oci-layout:${layout}:k`, { store, refName: 'image-k' });
    // A ref file that is not a ref: gc and every "who still uses this" question fail, naming the file.
    await fs.writeFile(join(root, 'refs', 'broken.json'), '{"name": "broken", "digest"');
    await expect(store.gc()).rejects.toThrow(/refs\/broken\.json is not a readable ref/);
    await expect(store.listRefs()).rejects.toThrow(/fix or remove it/);
    await fs.rm(join(root, 'refs', 'broken.json'));
    // A manifest a ref reaches that cannot be parsed: its layers would look unreferenced; nothing is collected.
    const manifest = join(root, 'blobs', 'sha256', img.root.digest.slice(7));
    const good = await fs.readFile(manifest);
    await fs.writeFile(manifest, 'not a manifest');
    const reopened = await ContentStore.open(root); // no cached copy of the document
    await expect(reopened.gc()).rejects.toThrow(/is referenced but cannot be read.*nothing was collected/);
    for (const l of img.layers) expect(await reopened.has(l.digest)).toBe(true);
    await fs.writeFile(manifest, good);
    expect((await (await ContentStore.open(root)).gc()).deleted).toEqual([]);
  });

  test('ref names are validated', async () => {
    const store = await ContentStore.open(join(dir, 'names'));
    await expect(store.getRef('../evil')).rejects.toThrow(/cannot name a store reference/);
  });
});
