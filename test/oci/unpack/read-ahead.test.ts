// unpackImage decompresses and hashes layer n+1 while layer n is applied. Layers must still be applied in
// order, every layer's DiffID must still gate the unpack, the first failing layer (in image order) is the
// one reported, and a failure leaves neither the target nor the staging directory behind.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DecompressError, DiffIdMismatchError, unpackImage, UnsafeLayerError, type UnpackLayer } from '../../../provider/oci/unpack';
import { layerOf, packTar, sha256, TAR_GZ } from './layers';
import { cleanupTempDirs, tempDir } from './support';

afterAll(cleanupTempDirs);

function target(): string { return join(tempDir('ra'), 'out', 'rootfs'); }
const big = Buffer.alloc(3 * 1024 * 1024, 7); // several stage buffers, so decoding runs ahead in pieces

async function gz(entries: Parameters<typeof packTar>[0]): Promise<UnpackLayer> {
  return layerOf(await packTar(entries), true);
}

function expectNothingLeft(to: string): void {
  expect(existsSync(to)).toBe(false);
  expect(readdirSync(dirname(to))).toEqual([]);
}

test('layers apply in order while the next is read ahead: later layers win, whiteouts see lower content', async () => {
  const to = target();
  await unpackImage({
    target: to,
    layers: [
      await gz([{ name: 'etc/', type: 'directory' }, { name: 'etc/a', data: 'one' }, { name: 'etc/gone', data: 'x' }, { name: 'big1', data: big }]),
      await gz([{ name: 'etc/a', data: 'two' }, { name: 'etc/.wh.gone' }, { name: 'big2', data: big }]),
      await gz([{ name: 'etc/a', data: 'three' }, { name: 'big3', data: big }]),
    ],
  });
  expect(readFileSync(join(to, 'etc/a'), 'utf8')).toBe('three');
  expect(existsSync(join(to, 'etc/gone'))).toBe(false);
  expect(readFileSync(join(to, 'big3')).equals(big)).toBe(true);
});

test('a DiffID mismatch in a middle layer fails the unpack naming that layer; no tree is left', async () => {
  const to = target();
  const middle = await gz([{ name: 'm', data: big }]);
  const err = await unpackImage({
    target: to,
    layers: [await gz([{ name: 'a', data: big }]), { ...middle, diffId: sha256(Buffer.from('other')) }, await gz([{ name: 'z', data: 'z' }])],
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DiffIdMismatchError);
  expect((err as DiffIdMismatchError).layer).toBe(middle.digest);
  expectNothingLeft(to);
});

test('a DiffID mismatch in the last (read-ahead) layer fails the unpack; no tree is left', async () => {
  const to = target();
  const last = await gz([{ name: 'l', data: 'l' }]);
  const err = await unpackImage({
    target: to,
    layers: [await gz([{ name: 'a', data: big }]), { ...last, diffId: sha256(Buffer.from('other')) }],
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DiffIdMismatchError);
  expect((err as DiffIdMismatchError).layer).toBe(last.digest);
  expectNothingLeft(to);
});

test('the first failing layer is reported even when the read-ahead layer is corrupt as well', async () => {
  const to = target();
  const first = await gz([{ name: 'a', data: big }, { name: '../escape', data: 'x' }]);
  const corrupt = gzipSync(await packTar([{ name: 'b', data: big }])).subarray(0, 5000);
  const err = await unpackImage({
    target: to,
    layers: [first, { stream: Readable.from([corrupt]), mediaType: TAR_GZ, digest: sha256(corrupt), diffId: sha256(Buffer.from('b')) }],
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsafeLayerError);
  expect((err as UnsafeLayerError).layer).toBe(first.digest);
  expectNothingLeft(to);
  expect(existsSync(join(dirname(dirname(to)), 'escape'))).toBe(false);
});

test('a corrupt read-ahead layer fails with a decompression error naming it, after the good layer applied', async () => {
  const to = target();
  const corrupt = Buffer.concat([gzipSync(await packTar([{ name: 'b', data: big }])).subarray(0, 20000), Buffer.alloc(100, 0x55)]);
  const err = await unpackImage({
    target: to,
    layers: [await gz([{ name: 'a', data: big }]), { stream: Readable.from([corrupt]), mediaType: TAR_GZ, digest: sha256(corrupt) }],
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DecompressError);
  expect((err as DecompressError).layer).toBe(sha256(corrupt));
  expectNothingLeft(to);
});

test('a missing blob file of a later layer fails the unpack; no tree is left', async () => {
  const to = target();
  const err = await unpackImage({
    target: to,
    layers: [await gz([{ name: 'a', data: big }]), { path: join(dirname(to), '..', 'no-such-blob'), mediaType: TAR_GZ, digest: sha256(Buffer.from('n')), size: 10 }],
  }).catch((e: unknown) => e);
  expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
  expectNothingLeft(to);
});
