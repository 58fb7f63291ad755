// The unpacker caches the parent directories it has resolved or created in a layer (RootResolver), so a
// parent that is cached resolves without lstat. These cases replace or remove a cached directory and then
// write under its name: the write must go where the rules of oci.md §3.2 send it (re-rooted through the new
// symlink, i.e. inside the rootfs) or be refused; it must never follow a stale cache entry through a symlink
// to the host. Each case fails if the cache is not invalidated (checked by disabling invalidate()).
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpackImage, UnsafeLayerError } from '../../../provider/oci/unpack';
import { layerOf, packTar, type EntrySpec } from './layers';
import { cleanupTempDirs, tempDir } from './support';

afterAll(cleanupTempDirs);

/** <box>/host stands for the host (with etc/passwd), <box>/out/rootfs is the target. */
function sandbox() {
  const box = tempDir('cache');
  const host = join(box, 'host');
  mkdirSync(join(host, 'etc'), { recursive: true });
  writeFileSync(join(host, 'etc/passwd'), 'host-passwd');
  chmodSync(join(host, 'etc/passwd'), 0o644);
  return { box, host, hostEtc: join(host, 'etc'), target: join(box, 'out', 'rootfs') };
}

async function unpack(target: string, layers: EntrySpec[][]): Promise<void> {
  await unpackImage({ target, layers: await Promise.all(layers.map(async (l) => layerOf(await packTar(l)))) });
}

/** The host is untouched: no new file in host/etc, passwd unchanged. */
function expectHostUntouched(s: ReturnType<typeof sandbox>, name = 'x'): void {
  expect(existsSync(join(s.hostEtc, name))).toBe(false);
  expect(readFileSync(join(s.hostEtc, 'passwd'), 'utf8')).toBe('host-passwd');
}

test('same layer: a/ cached, a replaced by a symlink to /etc, then a/x → lands in the rootfs /etc', async () => {
  const s = sandbox();
  await unpack(s.target, [[
    { name: 'a/', type: 'directory' },
    { name: 'a/f', data: 'f' },
    { name: 'a', type: 'symlink', linkname: '/etc' },
    { name: 'a/x', data: 'image' },
  ]]);
  expect(lstatSync(join(s.target, 'a')).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(s.target, 'etc/x'), 'utf8')).toBe('image');
  expect(existsSync(join(s.target, 'etc/f'))).toBe(false);
});

test('same layer: a/b/c cached, a replaced by a symlink to the host path, then a/b/c/x → inside the root', async () => {
  const s = sandbox();
  await unpack(s.target, [[
    { name: 'a/b/c/f', data: 'f' }, // a, a/b, a/b/c created as parents and cached
    { name: 'a', type: 'symlink', linkname: s.hostEtc },
    { name: 'a/b/c/x', data: 'image' },
  ]]);
  expectHostUntouched(s);
  expect(existsSync(join(s.hostEtc, 'b'))).toBe(false);
  expect(readFileSync(join(s.target, s.hostEtc, 'b/c/x'), 'utf8')).toBe('image');
});

test('two layers: layer 1 has a/; layer 2 writes a/f (cached), swaps a for a symlink to the host, writes a/x', async () => {
  const s = sandbox();
  await unpack(s.target, [
    [{ name: 'a/', type: 'directory' }, { name: 'a/lower', data: 'l' }],
    [
      { name: 'a/f', data: 'f' },
      { name: 'a', type: 'symlink', linkname: s.hostEtc },
      { name: 'a/x', data: 'image' },
    ],
  ]);
  expectHostUntouched(s);
  expect(lstatSync(join(s.target, 'a')).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(s.target, s.hostEtc, 'x'), 'utf8')).toBe('image');
});

test('two layers: layer 1 makes a a symlink to the host; layer 2 replaces it with a directory, then a symlink again', async () => {
  const s = sandbox();
  await unpack(s.target, [
    [{ name: 'a', type: 'symlink', linkname: s.hostEtc }],
    [
      { name: 'a/', type: 'directory' },
      { name: 'a/in-dir', data: 'd' },
      { name: 'a', type: 'symlink', linkname: s.hostEtc },
      { name: 'a/x', data: 'image' },
    ],
  ]);
  expectHostUntouched(s);
  expect(existsSync(join(s.hostEtc, 'in-dir'))).toBe(false);
  expect(readFileSync(join(s.target, s.hostEtc, 'x'), 'utf8')).toBe('image');
});

test('whiteout: a lower directory cached by a lookup, whited out, replaced by a symlink, then a/x', async () => {
  const s = sandbox();
  await unpack(s.target, [
    [{ name: 'a/', type: 'directory' }, { name: 'a/lower', data: 'l' }],
    [
      { name: 'a/.wh.nothing' }, // resolves (and caches) a without making it part of this layer
      { name: '.wh.a' }, // removes the lower directory a
      { name: 'a', type: 'symlink', linkname: s.hostEtc },
      { name: 'a/x', data: 'image' },
    ],
  ]);
  expectHostUntouched(s);
  expect(existsSync(join(s.hostEtc, 'lower'))).toBe(false);
  expect(readFileSync(join(s.target, s.hostEtc, 'x'), 'utf8')).toBe('image');
});

test('opaque directory: a pruned lower subdirectory that was cached is replaced by a symlink, then d/sub/x', async () => {
  const s = sandbox();
  await unpack(s.target, [
    [{ name: 'd/', type: 'directory' }, { name: 'd/sub/', type: 'directory' }, { name: 'd/sub/lower', data: 'l' }],
    [
      { name: 'd/sub/.wh.nothing' }, // caches d and d/sub
      { name: 'd/.wh..wh..opq' }, // prunes the lower d/sub
      { name: 'd/sub', type: 'symlink', linkname: s.hostEtc },
      { name: 'd/sub/x', data: 'image' },
    ],
  ]);
  expectHostUntouched(s);
  expect(lstatSync(join(s.target, 'd/sub')).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(s.target, s.hostEtc, 'x'), 'utf8')).toBe('image');
});

test('a cached directory replaced by a file, the file by a symlink to the host, then a/x → inside the root', async () => {
  const s = sandbox();
  await unpack(s.target, [[
    { name: 'a/f', data: 'f' },
    { name: 'a', data: 'now a file' },
    { name: 'a', type: 'symlink', linkname: s.hostEtc },
    { name: 'a/x', data: 'image' },
  ]]);
  expectHostUntouched(s);
  expect(readFileSync(join(s.target, s.hostEtc, 'x'), 'utf8')).toBe('image');
});

test('a cached directory replaced by a file, then a/x → refused: its parent is not a directory', async () => {
  const s = sandbox();
  const err = await unpack(s.target, [[
    { name: 'a/f', data: 'f' },
    { name: 'a', data: 'now a file' },
    { name: 'a/x', data: 'image' },
  ]]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsafeLayerError);
  expect((err as Error).message).toMatch(/parent "a" is not a directory/);
  expect(existsSync(s.target)).toBe(false);
});

test('a cached directory replaced by a hard link to a file, then a/x → refused: its parent is not a directory', async () => {
  const s = sandbox();
  const err = await unpack(s.target, [[
    { name: 'file', data: 'content' },
    { name: 'a/f', data: 'f' },
    { name: 'a', type: 'link', linkname: 'file' },
    { name: 'a/x', data: 'image' },
  ]]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsafeLayerError);
  expect((err as Error).message).toMatch(/parent "a" is not a directory/);
});

test('a cached directory replaced by a FIFO, then a/x → refused: its parent is not a directory', async () => {
  const s = sandbox();
  const err = await unpack(s.target, [[
    { name: 'a/f', data: 'f' },
    { name: 'a', type: 'fifo' },
    { name: 'a/x', data: 'image' },
  ]]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsafeLayerError);
  expect((err as Error).message).toMatch(/parent "a" is not a directory/);
});

test('a directory merged with a later entry of the same name stays cached and keeps its content', async () => {
  const s = sandbox();
  await unpack(s.target, [[
    { name: 'a/', type: 'directory', mode: 0o700 },
    { name: 'a/f', data: 'f' },
    { name: 'a/', type: 'directory', mode: 0o751 },
    { name: 'a/g', data: 'g' },
  ]]);
  expect(readFileSync(join(s.target, 'a/f'), 'utf8')).toBe('f');
  expect(readFileSync(join(s.target, 'a/g'), 'utf8')).toBe('g');
  expect(lstatSync(join(s.target, 'a')).mode & 0o7777).toBe(0o751);
});
