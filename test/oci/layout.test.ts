// Local sources and the writer: our archives/layouts are readable by skopeo, and we read what we write.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ContentStore } from '../../provider/oci/store/store';
import { buildImage, makeTar, writeArchive, writeLayout } from '../../provider/oci/layout/writer';
import { pullImage, resolveDigest } from '../../provider/oci/pull';
import { SourceError, DigestMismatchError } from '../../provider/oci/errors';
import { requireTools } from './helpers/tools';

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(join(tmpdir(), 'pp-oci-layout-')); });
afterAll(async () => { if (dir) await fs.rm(dir, { recursive: true, force: true }); });

const image = async (name: string, architecture = 'amd64', compression: 'gzip' | 'zstd' | 'none' = 'gzip') => buildImage({
  layers: [{ tar: await makeTar([{ name: `${name}.txt`, content: name }]), compression }],
  platform: { os: 'linux', architecture }, runtime: { Env: [`NAME=${name}`] },
});

test('oci-archive written by us pulls with every layer compression, and progress is reported', async () => {
  const imgs = await Promise.all([image('gz', 'amd64', 'gzip'), image('zst', 'amd64', 'zstd'), image('raw', 'amd64', 'none')]);
  const archive = join(dir, 'all.tar');
  await writeArchive(archive, imgs.map((img, i) => ({ image: img, tag: ['gz', 'zst', 'raw'][i]! })));
  const store = await ContentStore.open(join(dir, 'store-archive'));
  for (const [i, tag] of ['gz', 'zst', 'raw'].entries()) {
    const events: number[] = [];
    const pulled = await pullImage(`oci-archive:${archive}:${tag}`, { store, onProgress: (p) => { if (p.kind === 'layer' && p.done) events.push(p.total); } });
    expect(pulled.manifestDigest).toBe(imgs[i]!.root.digest);
    expect(pulled.config.env).toEqual([`NAME=${tag}`]);
    expect(events).toEqual([imgs[i]!.layers[0]!.size]);
  }
});

const tools = requireTools('oci layout suite', ['skopeo']);
(tools ? test : test.skip)('skopeo reads our archive and layout (independent consumer)', async () => {
  const img = await image('sk');
  const archive = join(dir, 'sk.tar');
  await writeArchive(archive, [{ image: img, tag: 'v1' }]);
  const { stdout } = await execa('skopeo', ['inspect', `oci-archive:${archive}:v1`]);
  expect(JSON.parse(stdout)).toMatchObject({ Digest: img.root.digest, Architecture: 'amd64', Os: 'linux', Env: ['NAME=sk'] });
  const copy = join(dir, 'sk-copy');
  await execa('skopeo', ['copy', `oci-archive:${archive}:v1`, `oci:${copy}:v1`]);
  const store = await ContentStore.open(join(dir, 'store-sk'));
  const pulled = await pullImage(`oci-layout:${copy}:v1`, { store });
  expect(pulled.layers[0]!.diffId).toBe(img.layers[0]!.diffId);
});

test('untagged multi-image layout selects by platform; digest references and resolveDigest work', async () => {
  const amd = await image('amd', 'amd64');
  const arm = await image('arm', 'arm64');
  const layout = join(dir, 'multi');
  await writeLayout(layout, [{ image: amd }, { image: arm }]);
  // writeLayout's entries have no platform: the config decides, so a mismatch is caught after the fact.
  const store = await ContentStore.open(join(dir, 'store-multi'));
  const byDigest = await pullImage(`oci-layout:${layout}@${arm.root.digest}`, { store, platform: 'linux/arm64' });
  expect(byDigest.config.env).toEqual(['NAME=arm']);
  await expect(pullImage(`oci-layout:${layout}@${arm.root.digest}`, { store })).rejects.toThrow(/is for linux\/arm64, not the requested linux\/amd64/);
  expect(await resolveDigest(`oci-layout:${layout}@${amd.root.digest}`)).toBe(amd.root.digest);
});

test('missing or corrupt blobs in a layout fail with the source named, nothing stored', async () => {
  const img = await image('broken');
  const layout = join(dir, 'broken');
  await writeLayout(layout, [{ image: img, tag: 'b' }]);
  const layerPath = join(layout, 'blobs', 'sha256', img.layers[0]!.digest.slice(7));
  const corrupt = Buffer.from(img.layers[0]!.bytes);
  corrupt[20] = corrupt[20]! ^ 0xff;
  await fs.writeFile(layerPath, corrupt);
  const store = await ContentStore.open(join(dir, 'store-broken'));
  await expect(pullImage(`oci-layout:${layout}:b`, { store, retries: 0 })).rejects.toThrow(DigestMismatchError);
  expect(await store.has(img.layers[0]!.digest)).toBe(false);
  await fs.rm(layerPath);
  await expect(pullImage(`oci-layout:${layout}:b`, { store, retries: 0 })).rejects.toThrow(SourceError);
  await expect(pullImage(`oci-layout:${join(dir, 'nowhere')}`, { store })).rejects.toThrow(/not an OCI image layout/);
});

test('the pinned reference a pull reports resolves back, for layouts and archives, after the tag moved', async () => {
  const v1 = await image('pin-v1');
  const v2 = await image('pin-v2');
  const layout = join(dir, 'pinned-layout');
  await writeLayout(layout, [{ image: v1, tag: 'v1' }]);
  const store = await ContentStore.open(join(dir, 'store-pinned'));
  const first = await pullImage(`oci-layout:${layout}:v1`, { store });
  expect(first.resolvedReference).toBe(`oci-layout:${layout}:v1@${v1.root.digest}`);
  expect(first.pinnedReference).toBe(`oci-layout:${layout}@${v1.root.digest}`);
  await writeLayout(layout, [{ image: v2, tag: 'v1' }]); // the tag moves; v1's blobs stay in the layout
  expect(await resolveDigest(`oci-layout:${layout}:v1`)).toBe(v2.root.digest);
  const fresh = await ContentStore.open(join(dir, 'store-pinned-fresh'));
  for (const ref of [first.resolvedReference, first.pinnedReference]) {
    expect(await resolveDigest(ref)).toBe(v1.root.digest);
    expect((await pullImage(ref, { store: fresh })).config.env).toEqual(['NAME=pin-v1']);
  }
  const archive = join(dir, 'pinned.tar');
  await writeArchive(archive, [{ image: v1, tag: 'v1' }]);
  const fromArchive = await pullImage(`oci-archive:${archive}:v1`, { store: fresh });
  expect((await pullImage(fromArchive.resolvedReference, { store: await ContentStore.open(join(dir, 'store-pinned-archive')) })).digest).toBe(v1.root.digest);
  expect(await resolveDigest(fromArchive.pinnedReference)).toBe(v1.root.digest);
});
