// Builders for crafted layers. Ordinary entries go through tar-stream's pack(); malformed or byte-exact
// cases (non-UTF-8 names, binary PAX values, forged sizes) are written as raw 512-byte headers.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export interface EntrySpec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
}

/** A layer tar built with tar-stream's pack(). */
export async function packTar(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array)); })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    const header = {
      name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? new Date(1_600_000_000_000),
      devmajor: e.devmajor, devminor: e.devminor, size: data?.length ?? 0,
    };
    // Always hand over a buffer: without one pack() returns a sink that must be written and ended.
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface RawEntry {
  name: Buffer | string;
  flag?: string;
  data?: Buffer;
  linkname?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Raw 12-byte size field (e.g. base-256 negative); default = octal data length. */
  sizeField?: Buffer;
  /** PAX records (values as bytes) emitted in an `x` header before the entry. */
  pax?: Record<string, Buffer | string>;
  /** Writes the name into the ustar header even when it is longer than 100 bytes (truncated). */
  longName?: 'gnu';
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

export function rawHeader(name: Buffer, flag: string, size: number | Buffer, opts: { linkname?: Buffer; mode?: number; uid?: number; gid?: number } = {}): Buffer {
  const h = Buffer.alloc(512);
  name.copy(h, 0, 0, Math.min(100, name.length));
  h.write(octal(opts.mode ?? 0o644, 8), 100, 'latin1');
  h.write(octal(opts.uid ?? 0, 8), 108, 'latin1');
  h.write(octal(opts.gid ?? 0, 8), 116, 'latin1');
  if (Buffer.isBuffer(size)) size.copy(h, 124, 0, 12);
  else h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(1_600_000_000, 12), 136, 'latin1');
  h.write(flag, 156, 'latin1');
  opts.linkname?.copy(h, 157, 0, Math.min(100, opts.linkname.length));
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

export function paxData(records: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, raw] of Object.entries(records)) {
    const value = Buffer.from(raw as Buffer);
    const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.concat([Buffer.from(String(len)), body]));
  }
  return Buffer.concat(parts);
}

/** A tar assembled from raw headers; `end` false leaves off the end-of-archive blocks. */
export function rawTar(entries: RawEntry[], end = true): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name as Buffer);
    const linkname = e.linkname === undefined ? undefined : Buffer.from(e.linkname as Buffer);
    if (e.pax) {
      const body = paxData(e.pax);
      out.push(rawHeader(Buffer.from('PaxHeader'), 'x', body.length), pad(body));
    }
    if (e.longName === 'gnu') {
      const body = Buffer.concat([name, Buffer.alloc(1)]);
      out.push(rawHeader(Buffer.from('././@LongLink'), 'L', body.length), pad(body));
    }
    const data = e.data ?? Buffer.alloc(0);
    out.push(rawHeader(name, e.flag ?? '0', e.sizeField ?? data.length, { linkname, mode: e.mode, uid: e.uid, gid: e.gid }));
    if (data.length) out.push(pad(data));
  }
  if (end) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export const TAR = 'application/vnd.oci.image.layer.v1.tar';
export const TAR_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const TAR_ZST = 'application/vnd.oci.image.layer.v1.tar+zstd';

/** An unpackImage layer from an uncompressed tar (digest = diffId) or gzip of it. */
export function layerOf(tarBytes: Buffer, gzip = false): { stream: Readable; mediaType: string; digest: string; diffId: string; size: number } {
  const blob = gzip ? gzipSync(tarBytes) : tarBytes;
  return { stream: Readable.from([blob]), mediaType: gzip ? TAR_GZ : TAR, digest: sha256(blob), diffId: sha256(tarBytes), size: blob.length };
}
