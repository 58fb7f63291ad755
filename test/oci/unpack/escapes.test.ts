// oci.md §7a cases 16–25: nothing is written outside the rootfs, links are resolved inside it.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyLayer, ApplyOptionsSchema, unpackImage, UnsafeLayerError } from '../../../provider/oci/unpack';
import { layerOf, packTar, rawTar, type EntrySpec } from './layers';
import { cleanupTempDirs, tempDir } from './support';

afterAll(cleanupTempDirs);

/** A sandbox: <box>/host stands for the host, <box>/out/rootfs is the target. */
function sandbox() {
  const box = tempDir('esc');
  const host = join(box, 'host');
  mkdirSync(join(host, 'etc'), { recursive: true });
  writeFileSync(join(host, 'etc/passwd'), 'host-passwd');
  chmodSync(join(host, 'etc/passwd'), 0o644);
  return { box, host, target: join(box, 'out', 'rootfs') };
}

async function unpackTars(target: string, tars: Buffer[]): Promise<void> {
  await unpackImage({ target, layers: tars.map((t) => layerOf(t)) });
}
const packs = (layers: EntrySpec[][]) => Promise.all(layers.map(packTar));

test.each([['../x'], ['a/../../x'], ['etc/../../../x']])('16: entry %s is refused and nothing lands outside', async (name) => {
  const s = sandbox();
  await expect(unpackTars(s.target, [rawTar([{ name, data: Buffer.from('evil') }])])).rejects.toThrow(/"\.\." component/);
  expect(existsSync(join(s.box, 'x'))).toBe(false);
  expect(existsSync(join(s.box, 'out', 'x'))).toBe(false);
  expect(existsSync(s.target)).toBe(false); // staging removed
});

test.each([['/etc/passwd'], ['////etc/passwd'], ['./././etc/passwd']])('16: absolute entry %s is rooted inside the rootfs', async (name) => {
  const s = sandbox();
  await unpackTars(s.target, [rawTar([{ name: 'etc/', flag: '5', mode: 0o755 }, { name, data: Buffer.from('image-passwd') }])]);
  expect(readFileSync(join(s.target, 'etc/passwd'), 'utf8')).toBe('image-passwd');
  expect(readFileSync(join(s.host, 'etc/passwd'), 'utf8')).toBe('host-passwd');
});

test.each([['symlink'], ['file'], ['link']])('17: a root entry of type %s is refused', async (kind) => {
  const s = sandbox();
  const entry: EntrySpec = kind === 'symlink' ? { name: '.', type: 'symlink', linkname: '/' } : kind === 'link' ? { name: './', type: 'link', linkname: 'etc' } : { name: '.', data: 'x' };
  const raw = rawTar([{ name: '.', flag: kind === 'symlink' ? '2' : kind === 'link' ? '1' : '0', linkname: kind === 'file' ? undefined : entry.linkname }]);
  await expect(unpackTars(s.target, [raw, await packTar([{ name: 'etc/shadow', data: 'x' }])])).rejects.toThrow(/root entry is a/);
});

test('17: a directory root entry is fine and sets the root mode', async () => {
  const s = sandbox();
  await unpackTars(s.target, [await packTar([{ name: './', type: 'directory', mode: 0o751 }, { name: 'a', data: 'a' }])]);
  expect(statSync(s.target).mode & 0o7777).toBe(0o751);
});

test.each([['absolute', '/'], ['relative', '../../../../../../../..']])('18: layer 1 %s symlink to /, layer 2 writes through it → lands in the rootfs', async (_l, linkname) => {
  const s = sandbox();
  await unpackTars(s.target, await packs([
    [{ name: 'evil', type: 'symlink', linkname }],
    [{ name: 'evil/etc/passwd', data: 'image' }],
  ]));
  expect(readFileSync(join(s.target, 'etc/passwd'), 'utf8')).toBe('image');
  expect(readFileSync(join(s.host, 'etc/passwd'), 'utf8')).toBe('host-passwd');
  expect(readlinkSync(join(s.target, 'evil'))).toBe(linkname); // kept verbatim
});

test('18: symlink pointing at the host path of the sandbox stays inside the root', async () => {
  const s = sandbox();
  await unpackTars(s.target, await packs([
    [{ name: 'hostlink', type: 'symlink', linkname: join(s.host, 'etc') }],
    [{ name: 'hostlink/passwd', data: 'image' }],
  ]));
  expect(readFileSync(join(s.host, 'etc/passwd'), 'utf8')).toBe('host-passwd');
  expect(readFileSync(join(s.target, s.host, 'etc/passwd'), 'utf8')).toBe('image');
});

test('19: dir d, then d replaced by a symlink to outside, then d/f → f lands inside the root', async () => {
  const s = sandbox();
  await unpackTars(s.target, await packs([[
    { name: 'd/', type: 'directory' },
    { name: 'd/first', data: '1' },
    { name: 'd', type: 'symlink', linkname: join(s.host, 'etc') },
    { name: 'd/passwd', data: 'image' },
  ]]));
  expect(readFileSync(join(s.host, 'etc/passwd'), 'utf8')).toBe('host-passwd');
  expect(lstatSync(join(s.target, 'd')).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(s.target, s.host, 'etc/passwd'), 'utf8')).toBe('image');
});

test('20: usr-merge: lib -> usr/lib then lib/x.so lands at usr/lib/x.so', async () => {
  const s = sandbox();
  await unpackTars(s.target, await packs([
    [{ name: 'usr/', type: 'directory' }, { name: 'usr/lib/', type: 'directory' }, { name: 'lib', type: 'symlink', linkname: 'usr/lib' }, { name: 'bin', type: 'symlink', linkname: '/usr/bin' }],
    [{ name: 'lib/x.so', data: 'so' }, { name: 'bin/sh', data: 'sh', mode: 0o755 }],
  ]));
  expect(readFileSync(join(s.target, 'usr/lib/x.so'), 'utf8')).toBe('so');
  expect(readFileSync(join(s.target, 'usr/bin/sh'), 'utf8')).toBe('sh');
  expect(lstatSync(join(s.target, 'lib')).isSymbolicLink()).toBe(true);
});

test('21: an existing symlink to a host file is replaced by the entry, the host file is unchanged', async () => {
  const s = sandbox();
  const root = join(s.box, 'manual');
  mkdirSync(root);
  symlinkSync(join(s.host, 'etc/passwd'), join(root, 'passwd'));
  const opts = ApplyOptionsSchema.parse({});
  await applyLayer(root, { ...layerOf(await packTar([{ name: 'passwd', data: 'image', mode: 0o4755 }])) }, opts);
  expect(readFileSync(join(s.host, 'etc/passwd'), 'utf8')).toBe('host-passwd');
  expect(statSync(join(s.host, 'etc/passwd')).mode & 0o7777).toBe(0o644);
  expect(lstatSync(join(root, 'passwd')).isFile()).toBe(true);
  expect(readFileSync(join(root, 'passwd'), 'utf8')).toBe('image');
});

test.each([['../../etc/passwd', /"\.\." component/], ['/etc/passwd', null]])('22: hardlink to %s never links a host inode', async (linkname, error) => {
  const s = sandbox();
  const tars = [rawTar([{ name: 'etc/', flag: '5', mode: 0o755 }, { name: 'etc/passwd', data: Buffer.from('image') }, { name: 'hl', flag: '1', linkname }])];
  if (error) {
    await expect(unpackTars(s.target, tars)).rejects.toThrow(error);
    return;
  }
  await unpackTars(s.target, tars);
  expect(statSync(join(s.target, 'hl')).ino).toBe(statSync(join(s.target, 'etc/passwd')).ino);
  expect(statSync(join(s.target, 'hl')).ino).not.toBe(statSync(join(s.host, 'etc/passwd')).ino);
});

test('22: hardlink to a path that exists only on the host fails', async () => {
  const s = sandbox();
  await expect(unpackTars(s.target, [rawTar([{ name: 'hl', flag: '1', linkname: join(s.host, 'etc/passwd') }])])).rejects.toThrow(/does not exist in the rootfs/);
});

test('23: hardlink whose target goes through a symlinked parent resolves inside the root', async () => {
  const s = sandbox();
  await unpackTars(s.target, await packs([[
    { name: 'real/', type: 'directory' },
    { name: 'real/passwd', data: 'image' },
    { name: 'via', type: 'symlink', linkname: join(s.host, 'etc') },
    { name: 'via2', type: 'symlink', linkname: '/real' },
    { name: 'hl2', type: 'link', linkname: 'via2/passwd' },
  ]]));
  expect(statSync(join(s.target, 'hl2')).ino).toBe(statSync(join(s.target, 'real/passwd')).ino);
  await expect(unpackTars(join(s.box, 'o2', 'rootfs'), await packs([[
    { name: 'via', type: 'symlink', linkname: join(s.host, 'etc') },
    { name: 'hl', type: 'link', linkname: 'via/passwd' },
  ]]))).rejects.toThrow(/does not exist in the rootfs/);
});

test('24: hardlink to a symlink: metadata of the hardlink never reaches the host target', async () => {
  const s = sandbox();
  await unpackTars(s.target, await packs([[
    { name: 'sl', type: 'symlink', linkname: join(s.host, 'etc/passwd') },
    { name: 'hl', type: 'link', linkname: 'sl', mode: 0o4777 },
  ]]));
  expect(lstatSync(join(s.target, 'hl')).isSymbolicLink()).toBe(true);
  expect(statSync(join(s.host, 'etc/passwd')).mode & 0o7777).toBe(0o644);
  expect(readFileSync(join(s.host, 'etc/passwd'), 'utf8')).toBe('host-passwd');
});

test.each([
  ['a directory', [{ name: 'dir/', type: 'directory' }, { name: 'hl', type: 'link', linkname: 'dir' }], /is a directory/],
  ['a missing target', [{ name: 'hl', type: 'link', linkname: 'nothing' }], /does not exist/],
] as [string, EntrySpec[], RegExp][])('25: hardlink to %s → error', async (_l, entries, error) => {
  const s = sandbox();
  const err = await unpackTars(s.target, await packs([entries])).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsafeLayerError);
  expect((err as Error).message).toMatch(error);
  expect((err as Error).message).toMatch(/layer sha256:[0-9a-f]{64}, entry "hl"/);
});
