// oci.md §7a cases 26–36: devices, modes, id map, bombs, limits, malformed headers, names, xattrs,
// padding and truncation — each with a crafted layer.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  DecompressError, DiffIdMismatchError, IdMapError, LayerLimitError, MalformedLayerError, PVE_UNPRIVILEGED_IDMAP, unpackImage,
  type UnpackImageOptions,
} from '../../../provider/oci/unpack';
import { layerOf, packTar, rawHeader, rawTar, sha256, TAR_GZ, TAR_ZST } from './layers';
import { cleanupTempDirs, isRoot, tempDir, toolsPresent } from './support';

afterAll(cleanupTempDirs);
const haveTools = toolsPresent('oci unpack content', ['zstd', 'setfattr', 'getfattr']);
const t = haveTools ? test : test.skip;

function target(): string { return join(tempDir('ct'), 'out', 'rootfs'); }
async function unpack(tars: Buffer[], extra: Partial<UnpackImageOptions> = {}, to = target()): Promise<string> {
  await unpackImage({ target: to, layers: tars.map((x) => layerOf(x)), ...extra });
  return to;
}

t('26: device nodes are skipped and counted; FIFOs created or skipped as configured', async () => {
  const tarBytes = await packTar([
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
    { name: 'run/', type: 'directory' },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  ]);
  const to = target();
  const stats = await unpackImage({ target: to, layers: [layerOf(tarBytes)] });
  expect(stats.devicesSkipped).toBe(2);
  expect(readdirSync(join(to, 'dev'))).toEqual([]);
  expect(lstatSync(join(to, 'run/fifo')).isFIFO()).toBe(true);
  const skipped = await unpackImage({ target: target(), layers: [layerOf(tarBytes)], fifos: 'skip' });
  expect(skipped.layers[0]!.fifosSkipped).toBe(1);
  if (isRoot()) {
    const to2 = target();
    const allowed = await unpackImage({ target: to2, layers: [layerOf(tarBytes)], allowDevices: true });
    expect(allowed.layers[0]!.devicesCreated).toBe(2);
    expect(lstatSync(join(to2, 'dev/null')).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(to2, 'dev/null')).rdev).toBe(statSync('/dev/null').rdev);
  }
});

test('27: setuid/setgid/sticky bits survive; the staging parent is 0700 while unpacking', async () => {
  const to = target();
  let stagingMode = -1;
  const tarBytes = await packTar([
    { name: 'bin/', type: 'directory' }, { name: 'bin/su', data: 'su', mode: 0o4755 }, { name: 'bin/wall', data: 'w', mode: 0o2755 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  // A stream that looks at the staging dir while the unpacker is reading it.
  const probe = Readable.from((async function* () {
    const parent = dirname(to);
    const staging = readdirSync(parent).find((n) => n.includes('.staging-'));
    stagingMode = staging ? statSync(join(parent, staging)).mode & 0o777 : -2;
    yield tarBytes;
  })());
  await unpackImage({ target: to, layers: [{ stream: probe, mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(tarBytes), diffId: sha256(tarBytes) }] });
  expect(stagingMode).toBe(0o700);
  expect(statSync(join(to, 'bin/su')).mode & 0o7777).toBe(0o4755);
  expect(statSync(join(to, 'bin/wall')).mode & 0o7777).toBe(0o2755);
  expect(statSync(join(to, 'tmp')).mode & 0o7777).toBe(0o1777);
  expect(readdirSync(dirname(to))).toEqual(['rootfs']); // staging gone
});

(isRoot() || process.env.CI === 'true' || process.env.CI === '1' ? test : test.skip)('28: uid/gid map 0 → 100000, 65535 → 165535; uid 70000 → error naming the file', async () => {
  const tarBytes = await packTar([
    { name: 'root-owned', data: 'r', uid: 0, gid: 0 }, { name: 'nobody', data: 'n', uid: 65535, gid: 65535 },
    { name: 'dir/', type: 'directory', uid: 33, gid: 33 }, { name: 'ln', type: 'symlink', linkname: 'nobody', uid: 5, gid: 6 },
  ]);
  const to = await unpack([tarBytes], { idmap: PVE_UNPRIVILEGED_IDMAP });
  expect([statSync(join(to, 'root-owned')).uid, statSync(join(to, 'root-owned')).gid]).toEqual([100000, 100000]);
  expect([statSync(join(to, 'nobody')).uid, statSync(join(to, 'nobody')).gid]).toEqual([165535, 165535]);
  expect(statSync(join(to, 'dir')).uid).toBe(100033);
  expect([lstatSync(join(to, 'ln')).uid, lstatSync(join(to, 'ln')).gid]).toEqual([100005, 100006]);
  expect(statSync(to).uid).toBe(100000);
  const bad = await packTar([{ name: 'usr/', type: 'directory' }, { name: 'usr/bad', data: 'b', uid: 70000 }]);
  const badTarget = target();
  const err = await unpack([bad], { idmap: PVE_UNPRIVILEGED_IDMAP }, badTarget).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(IdMapError);
  expect((err as Error).message).toMatch(/entry "usr\/bad": uid 70000 is outside the container id map \(0\.\.65535\)/);
  expect(existsSync(badTarget)).toBe(false);
  expect(readdirSync(dirname(badTarget))).toEqual([]);
});

test('29: gzip bomb (~10 MiB of concatenated members → 10 GiB) stops at the limit with bounded disk use', async () => {
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024));
  const head = gzipSync(rawHeader(Buffer.from('bomb'), '0', 10 * 1024 ** 3));
  const members = 640;
  const bomb = Readable.from((function* () { yield head; for (let i = 0; i < members; i++) yield member; })());
  const to = target();
  const started = Date.now();
  const err = await unpackImage({ target: to, limits: { maxLayerBytes: 64 * 1024 * 1024 }, layers: [{ stream: bomb, mediaType: TAR_GZ, digest: sha256(head) }] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LayerLimitError);
  expect((err as Error).message).toMatch(/maxLayerBytes/);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(readdirSync(dirname(to))).toEqual([]);
  // ratio limit: a small blob that inflates far beyond maxRatio × its size
  const small = gzipSync(await packTar([{ name: 'zeros', data: Buffer.alloc(8 * 1024 * 1024) }]));
  const ratioErr = await unpackImage({ target: target(), limits: { maxRatio: 100, ratioFloorBytes: 0 }, layers: [{ stream: Readable.from([small]), mediaType: TAR_GZ, digest: sha256(small), size: small.length }] }).catch((e: unknown) => e);
  expect(ratioErr).toBeInstanceOf(LayerLimitError);
});

t('30: zstd bomb stopped at the limit; huge-window frame refused; corrupt zstd → error with the layer digest', async () => {
  const tarBytes = await packTar([{ name: 'zeros', data: Buffer.alloc(32 * 1024 * 1024) }]);
  const zst = execFileSync('zstd', ['-c', '-q', '-19'], { input: tarBytes, maxBuffer: 1 << 30 });
  const err = await unpackImage({ target: target(), limits: { maxLayerBytes: 4 * 1024 * 1024 }, layers: [{ stream: Readable.from([zst]), mediaType: TAR_ZST, digest: sha256(zst) }] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LayerLimitError);
  // a normal zstd layer works and its DiffID is the tar's
  const ok = await unpackImage({ target: target(), layers: [{ stream: Readable.from([zst]), mediaType: TAR_ZST, digest: sha256(zst), diffId: sha256(tarBytes) }] });
  expect(ok.layers[0]!.diffId).toBe(sha256(tarBytes));
  // --long=31 needs a 2 GiB window: the decoder's default memory limit refuses it
  const long = execFileSync('zstd', ['-c', '-q', '--long=31', '-1'], { input: tarBytes, maxBuffer: 1 << 30 });
  const longErr = await unpackImage({ target: target(), layers: [{ stream: Readable.from([long]), mediaType: TAR_ZST, digest: sha256(long) }] }).catch((e: unknown) => e);
  expect(longErr).toBeInstanceOf(DecompressError);
  const corrupt = Buffer.from(zst);
  corrupt.fill(0x55, 20, 60);
  const corruptErr = await unpackImage({ target: target(), layers: [{ stream: Readable.from([corrupt]), mediaType: TAR_ZST, digest: sha256(corrupt) }] }).catch((e: unknown) => e);
  expect(corruptErr).toBeInstanceOf(DecompressError);
  expect((corruptErr as Error).message).toContain(sha256(corrupt));
});

test('31: entry-count limit and depth limit', async () => {
  const many = await packTar(Array.from({ length: 3000 }, (_, i) => ({ name: `f${i}`, data: '' })));
  await expect(unpack([many], { limits: { maxEntries: 1000 } })).rejects.toThrow(/maxEntries/);
  const deep = rawTar([{ name: `${'a/'.repeat(5000)}f`, flag: '0', pax: { path: `${'a/'.repeat(5000)}f` } }]);
  await expect(unpack([deep], { limits: { maxPathBytes: 20_000 } })).rejects.toThrow(/maxDepth/);
  await expect(unpack([deep])).rejects.toThrow(/maxPathBytes/);
});

test('32: a 100 MiB PAX header is refused without being buffered; negative / NaN sizes refused', async () => {
  const header = rawHeader(Buffer.from('PaxHeader'), 'x', 100 * 1024 * 1024);
  let produced = 0;
  const stream = Readable.from((function* () { yield header; for (let i = 0; i < 100; i++) { produced++; yield Buffer.alloc(1024 * 1024, 0x41); } })());
  const err = await unpackImage({ target: target(), layers: [{ stream, mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(header) }] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LayerLimitError);
  expect((err as Error).message).toMatch(/maxHeaderBytes/);
  expect(produced).toBeLessThan(20);
  const negative = Buffer.alloc(12, 0xff);
  await expect(unpack([rawTar([{ name: 'neg', sizeField: negative }])])).rejects.toThrow(MalformedLayerError);
  await expect(unpack([rawTar([{ name: 'nan', sizeField: Buffer.from('zzzzzzzzzzz\0') }])])).rejects.toThrow(/not an octal number/);
  await expect(unpack([rawTar([{ name: 'paxnan', data: Buffer.from('x'), pax: { size: 'NaN' } }])])).rejects.toThrow(/PAX size/);
});

t('33: non-UTF-8 names survive byte-exact; names differing only in invalid bytes do not collide', async () => {
  const a = Buffer.from([0x66, 0xff, 0x2e, 0x74]);
  const b = Buffer.from([0x66, 0xfe, 0x2e, 0x74]);
  const long = Buffer.concat([Buffer.from('d/'), Buffer.alloc(150, 0xe9)]);
  const to = await unpack([rawTar([
    { name: a, data: Buffer.from('A') }, { name: b, data: Buffer.from('B') },
    { name: 'd/', flag: '5', mode: 0o755 }, { name: long, data: Buffer.from('L'), longName: 'gnu' },
    { name: 'p', data: Buffer.from('P'), pax: { path: Buffer.from([0x70, 0x80, 0x81]) } },
  ])]);
  const names = execFileSync('ls', ['-1', '-f', to]).toString('latin1').split('\n').filter((n) => n && n !== '.' && n !== '..').sort();
  expect(names).toEqual([a.toString('latin1'), b.toString('latin1'), 'd', Buffer.from([0x70, 0x80, 0x81]).toString('latin1')].sort());
  expect(readFileSync(Buffer.concat([Buffer.from(`${to}/`), a])).toString()).toBe('A');
  expect(readFileSync(Buffer.concat([Buffer.from(`${to}/`), b])).toString()).toBe('B');
  expect(readFileSync(Buffer.concat([Buffer.from(`${to}/`), long])).toString()).toBe('L');
});

t('34: binary security.capability xattr round-trips into the rootfs; overlay xattrs are dropped', async () => {
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep
  const to = await unpack([rawTar([
    { name: 'ping', data: Buffer.from('elf'), mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap, 'SCHILY.xattr.user.bin': Buffer.from([0, 1, 0xff, 0x0a]), 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
  ])]);
  const dump = execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', join(to, 'ping')]).toString();
  expect(dump).toContain(`security.capability=0x${cap.toString('hex')}`);
  expect(dump).toContain('user.bin=0x0001ff0a');
  expect(dump).not.toContain('overlay');
});

test('35: trailing NUL padding after the gzip stream and after the tar end marker → DiffID still matches', async () => {
  const tarBytes = Buffer.concat([await packTar([{ name: 'a', data: 'a' }]), Buffer.alloc(10240 - 1536)]);
  const blob = Buffer.concat([gzipSync(tarBytes), Buffer.alloc(4096)]);
  const stats = await unpackImage({ target: target(), layers: [{ stream: Readable.from([blob]), mediaType: TAR_GZ, digest: sha256(blob), diffId: sha256(tarBytes) }] });
  expect(stats.layers[0]!.diffId).toBe(sha256(tarBytes));
  expect(stats.layers[0]!.bytes).toBe(tarBytes.length);
  const wrong = await unpackImage({ target: target(), layers: [{ stream: Readable.from([blob]), mediaType: TAR_GZ, digest: sha256(blob), diffId: sha256(Buffer.from('x')) }] }).catch((e: unknown) => e);
  expect(wrong).toBeInstanceOf(DiffIdMismatchError);
});

test('36: a truncated tar (header promises more data) fails and the staging rootfs is removed', async () => {
  const full = rawTar([{ name: 'a', data: Buffer.alloc(5000, 1) }], false);
  const to = target();
  const err = await unpack([full.subarray(0, 512 + 1024)], {}, to).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MalformedLayerError);
  expect((err as Error).message).toMatch(/truncated/);
  expect(readdirSync(dirname(to))).toEqual([]);
});
