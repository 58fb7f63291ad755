// oci.md §7a cases 11–15: whiteouts and opaque directories, each with a crafted layer.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unpackImage, UnsafeLayerError } from '../../../provider/oci/unpack';
import { layerOf, packTar, type EntrySpec } from './layers';
import { cleanupTempDirs, tempDir } from './support';

afterAll(cleanupTempDirs);

async function unpack(layers: EntrySpec[][]): Promise<string> {
  const target = join(tempDir('wh'), 'rootfs');
  await unpackImage({ target, layers: await Promise.all(layers.map(async (l) => layerOf(await packTar(l)))) });
  return target;
}

const base: EntrySpec[] = [
  { name: 'etc/', type: 'directory' },
  { name: 'etc/keep', data: 'keep' },
  { name: 'etc/gone', data: 'gone' },
  { name: 'opt/', type: 'directory' },
  { name: 'opt/app/', type: 'directory' },
  { name: 'opt/app/lib/', type: 'directory' },
  { name: 'opt/app/lib/x.so', data: 'x' },
  { name: 'data/', type: 'directory' },
  { name: 'data/lower1', data: 'l1' },
  { name: 'data/lower2/', type: 'directory' },
  { name: 'data/lower2/deep', data: 'l2' },
];

test('11: a whiteout removes a lower file; a whiteout of a directory removes its subtree', async () => {
  const root = await unpack([base, [{ name: 'etc/.wh.gone' }, { name: 'opt/.wh.app' }]]);
  expect(existsSync(join(root, 'etc/gone'))).toBe(false);
  expect(readFileSync(join(root, 'etc/keep'), 'utf8')).toBe('keep');
  expect(existsSync(join(root, 'opt/app'))).toBe(false);
  expect(existsSync(join(root, 'opt'))).toBe(true);
  // the whiteout marker itself is never materialised
  expect(readdirSync(join(root, 'etc'))).toEqual(['keep']);
});

test.each([
  ['marker first', [{ name: 'data/', type: 'directory' }, { name: 'data/.wh..wh..opq' }, { name: 'data/new', data: 'n' }, { name: 'data/lower2/', type: 'directory' }, { name: 'data/lower2/up', data: 'u' }]],
  ['marker last', [{ name: 'data/', type: 'directory' }, { name: 'data/new', data: 'n' }, { name: 'data/lower2/', type: 'directory' }, { name: 'data/lower2/up', data: 'u' }, { name: 'data/.wh..wh..opq' }]],
] as [string, EntrySpec[]][])('12: opaque whiteout hides lower children, keeps same-layer ones (%s)', async (_label, layer2) => {
  const root = await unpack([base, layer2]);
  expect(readdirSync(join(root, 'data')).sort()).toEqual(['lower2', 'new']);
  // lower2 exists again only because this layer has it; its lower child is hidden
  expect(readdirSync(join(root, 'data/lower2'))).toEqual(['up']);
  expect(readFileSync(join(root, 'etc/keep'), 'utf8')).toBe('keep');
});

test('13: a whiteout in the same layer as the file does not delete it (either order)', async () => {
  const root = await unpack([base, [
    { name: 'etc/newfile', data: 'new' }, { name: 'etc/.wh.newfile' },
    { name: 'etc/.wh.gone' }, { name: 'etc/gone', data: 'recreated' },
  ]]);
  expect(readFileSync(join(root, 'etc/newfile'), 'utf8')).toBe('new');
  expect(readFileSync(join(root, 'etc/gone'), 'utf8')).toBe('recreated');
});

test.each([
  ['.wh.', 'etc/.wh.'],
  ['.wh.. (the directory itself)', 'etc/.wh..'],
  ['.wh... (parent)', 'etc/.wh...'],
  ['whiteout of the root', '.wh..'],
])('14: whiteout %s is refused with a clear error', async (_label, name) => {
  await expect(unpack([base, [{ name }]])).rejects.toThrow(UnsafeLayerError);
  await expect(unpack([base, [{ name }]])).rejects.toThrow(/whiteout .* names no removable entry/);
});

test('14: .wh..wh.plnk (AUFS metadata) is ignored, not materialised and removes nothing', async () => {
  const root = await unpack([base, [{ name: '.wh..wh.plnk/', type: 'directory' }, { name: '.wh..wh.plnk/123.456', data: 'x' }, { name: 'etc/.wh..wh.aufs' }]]);
  expect(existsSync(join(root, '.wh..wh.plnk'))).toBe(false);
  expect(readdirSync(join(root, 'etc')).sort()).toEqual(['gone', 'keep']);
});

test('15: 10 000 opaque markers in one layer complete in linear time', async () => {
  const lower: EntrySpec[] = [{ name: 'd/', type: 'directory' }];
  const upper: EntrySpec[] = [];
  for (let i = 0; i < 100; i++) {
    lower.push({ name: `d/${i}/`, type: 'directory' }, { name: `d/${i}/old`, data: 'o' });
    upper.push({ name: `d/${i}/`, type: 'directory' });
    for (let j = 0; j < 100; j++) upper.push({ name: `d/${i}/.wh..wh..opq` });
    upper.push({ name: `d/${i}/new`, data: 'n' });
  }
  const small = Date.now();
  await unpack([lower, upper.filter((e, k) => !e.name.endsWith('.opq') || k % 100 === 1)]);
  const oneEach = Date.now() - small;
  const started = Date.now();
  const root = await unpack([lower, upper]);
  const elapsed = Date.now() - started;
  expect(readdirSync(join(root, 'd/7'))).toEqual(['new']);
  // 10 000 markers over 100 directories cost about what 100 markers cost: each directory is walked once.
  expect(elapsed).toBeLessThan(Math.max(5000, oneEach * 6));
});
