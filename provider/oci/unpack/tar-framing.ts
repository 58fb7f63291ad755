// A Transform placed in front of tar-stream's extractor. It parses every 512-byte header itself because
// tar-stream buffers long headers without a cap, decodes PAX values as UTF-8 (mangling binary xattrs such
// as security.capability), can yield negative or NaN sizes and reads directory data as headers. Here each
// header is validated, metadata records are capped, and for every real entry a `TarRecord` with the raw
// bytes of its name, link target and xattrs is queued in archive order; the consumer pairs the n-th record
// with tar-stream's n-th entry. Bytes after the end-of-archive block are swallowed (they are still hashed
// upstream, which is what the DiffID covers).
import { Transform, type TransformCallback } from 'node:stream';
import { LayerLimitError, MalformedLayerError } from './errors';
import type { Limits } from './options';

export type EntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

/** One archive entry. `name` and `linkname` are byte strings (latin1: one char per byte, lossless). */
export interface TarRecord {
  index: number;
  type: EntryType;
  name: string;
  linkname: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, fractional when PAX gave sub-second precision. */
  mtime: number;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

const ENTRY_TYPES: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'character-device',
  '4': 'block-device', '5': 'directory', '6': 'fifo',
};
const META_TYPES = new Set(['x', 'g', 'L', 'K']);
const BLOCK = 512;

type FramingLimits = Pick<Limits, 'maxEntries' | 'maxHeaderBytes' | 'maxPathBytes'>;

/** Parses a numeric header field: octal text or GNU base-256; rejects negatives and unsafe integers. */
export function parseNumericField(field: Buffer, what: string, layer?: string, allowNegative = false): number {
  if (field[0]! & 0x80) {
    const negative = field[0] === 0xff;
    if (!negative && field[0] !== 0x80) throw new MalformedLayerError(layer, `${what} has an invalid base-256 marker`);
    let value = 0;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + (negative ? 0xff - field[i]! : field[i]!);
      if (!Number.isSafeInteger(value)) throw new MalformedLayerError(layer, `${what} does not fit a safe integer`);
    }
    if (negative) {
      if (!allowNegative) throw new MalformedLayerError(layer, `${what} is negative`);
      return -(value + 1);
    }
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new MalformedLayerError(layer, `${what} ${JSON.stringify(text)} is not an octal number`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw new MalformedLayerError(layer, `${what} does not fit a safe integer`);
  return value;
}

function cstring(buf: Buffer, start: number, length: number): Buffer {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/** Parses PAX extended-header records (`<len> <key>=<value>\n`), values kept as raw bytes. */
export function parsePaxRecords(data: Buffer, layer?: string): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, offset);
    if (space === -1 || space - offset > 20) throw new MalformedLayerError(layer, 'PAX record without a length');
    const lengthText = data.toString('latin1', offset, space);
    if (!/^[0-9]+$/.test(lengthText)) throw new MalformedLayerError(layer, `PAX record length ${JSON.stringify(lengthText)} is not a number`);
    const length = Number(lengthText);
    const end = offset + length;
    if (length <= space - offset + 1 || end > data.length || data[end - 1] !== 0x0a) throw new MalformedLayerError(layer, 'PAX record length does not match its content');
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new MalformedLayerError(layer, 'PAX record without key=value');
    records.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    offset = end;
  }
  return records;
}

function paxNumber(value: Buffer | undefined, key: string, layer: string | undefined, fractional = false): number | undefined {
  if (value === undefined) return undefined;
  const text = value.toString('latin1');
  const ok = fractional ? /^-?[0-9]+(\.[0-9]+)?$/.test(text) : /^[0-9]+$/.test(text);
  const n = Number(text);
  if (!ok || !Number.isFinite(n) || (!fractional && !Number.isSafeInteger(n))) throw new MalformedLayerError(layer, `PAX ${key}=${JSON.stringify(text)} is not a valid number`);
  return n;
}

export class TarFraming extends Transform {
  private readonly records: TarRecord[] = [];
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private state: 'header' | 'data' | 'meta' | 'end' = 'header';
  /** Bytes left in the current data or metadata section, padding included. */
  private remaining = 0;
  private meta: { type: string; size: number; data: Buffer; fill: number } | undefined;
  private localPax: Map<string, Buffer> | undefined;
  private globalPax = new Map<string, Buffer>();
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;
  /** Every header block seen, metadata headers included. */
  headers = 0;
  entries = 0;
  ended = false;

  constructor(private readonly limits: FramingLimits, private readonly layer?: string) { super(); }

  /** The record of the next entry tar-stream will emit. */
  shift(): TarRecord | undefined { return this.records.shift(); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let offset = 0;
      while (offset < chunk.length) {
        if (this.state === 'end') break;
        if (this.state === 'data' || this.state === 'meta') {
          const take = Math.min(this.remaining, chunk.length - offset);
          const piece = chunk.subarray(offset, offset + take);
          if (this.state === 'meta') this.collectMeta(piece);
          this.push(piece);
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            if (this.state === 'meta') this.finishMeta();
            this.state = 'header';
          }
          continue;
        }
        const take = Math.min(BLOCK - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.onHeader();
        }
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.state === 'data' || this.state === 'meta' || this.headerFill !== 0) {
      return cb(new MalformedLayerError(this.layer, `the tar stream is truncated (${this.state === 'header' ? 'inside a header' : `${this.remaining} bytes of entry data missing`})`));
    }
    cb();
  }

  private onHeader(): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      // End of archive. Whatever follows (the second zero block, record padding, junk) is not for tar-stream.
      this.state = 'end';
      this.ended = true;
      return;
    }
    let sum = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i]!;
    if (sum !== parseNumericField(h.subarray(148, 156), 'header checksum', this.layer)) throw new MalformedLayerError(this.layer, `header ${this.headers} has a bad checksum`);
    const magic = h.toString('latin1', 257, 263);
    const ustar = magic === 'ustar\0';
    if (!ustar && magic !== 'ustar ') throw new MalformedLayerError(this.layer, `header ${this.headers} is not a ustar/GNU/PAX tar header`);
    this.headers++;
    if (this.headers > this.limits.maxEntries) throw new LayerLimitError(this.layer, 'maxEntries', this.limits.maxEntries, 'the number of tar headers');
    const flag = String.fromCharCode(h[156]!);
    const size = parseNumericField(h.subarray(124, 136), 'entry size', this.layer);

    if (META_TYPES.has(flag)) {
      if (size > this.limits.maxHeaderBytes) throw new LayerLimitError(this.layer, 'maxHeaderBytes', this.limits.maxHeaderBytes, `a ${flag === 'L' || flag === 'K' ? 'GNU long-name' : 'PAX'} header of ${size} bytes`);
      this.push(Buffer.from(h));
      this.meta = { type: flag, size, data: Buffer.alloc(size), fill: 0 };
      this.remaining = Math.ceil(size / BLOCK) * BLOCK;
      this.state = this.remaining > 0 ? 'meta' : 'header';
      if (this.remaining === 0) this.finishMeta();
      return;
    }

    const type = ENTRY_TYPES[flag];
    if (!type) throw new MalformedLayerError(this.layer, `entry type ${JSON.stringify(flag)} is not supported (sparse, multi-volume and dump-dir entries cannot be unpacked safely)`);
    const pax = new Map([...this.globalPax, ...(this.localPax ?? [])]);
    const ustarName = cstring(h, 0, 100);
    const prefix = ustar ? cstring(h, 345, 155) : Buffer.alloc(0);
    const headerName = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), ustarName]) : ustarName;
    const name = pax.get('path') ?? this.longName ?? headerName;
    const linkname = pax.get('linkpath') ?? this.longLink ?? cstring(h, 157, 100);
    // tar-stream decides "directory" from the plain header name, so the same rule keeps both parsers in step.
    const isDir = type === 'directory' || (type === 'file' && ustarName.length > 0 && ustarName[ustarName.length - 1] === 0x2f && (flag === '0' || flag === '\0'));
    if (this.globalPax.has('size')) throw new MalformedLayerError(this.layer, 'a global PAX header sets size, which no valid archive does');
    const effectiveSize = paxNumber(pax.get('size'), 'size', this.layer) ?? size;
    if (isDir && effectiveSize !== 0) throw new MalformedLayerError(this.layer, `directory entry ${JSON.stringify(name.toString('latin1'))} carries ${effectiveSize} data bytes`);
    if (name.length > this.limits.maxPathBytes || linkname.length > this.limits.maxPathBytes) throw new LayerLimitError(this.layer, 'maxPathBytes', this.limits.maxPathBytes, 'an entry path or link target');
    const xattrs = new Map<string, Buffer>();
    for (const [key, value] of pax) if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
    this.records.push({
      index: this.entries++,
      type: isDir ? 'directory' : type,
      name: name.toString('latin1'),
      linkname: linkname.toString('latin1'),
      size: effectiveSize,
      mode: parseNumericField(h.subarray(100, 108), 'mode', this.layer) & 0o7777,
      uid: paxNumber(pax.get('uid'), 'uid', this.layer) ?? parseNumericField(h.subarray(108, 116), 'uid', this.layer),
      gid: paxNumber(pax.get('gid'), 'gid', this.layer) ?? parseNumericField(h.subarray(116, 124), 'gid', this.layer),
      mtime: paxNumber(pax.get('mtime'), 'mtime', this.layer, true) ?? parseNumericField(h.subarray(136, 148), 'mtime', this.layer, true),
      devmajor: parseNumericField(h.subarray(329, 337), 'devmajor', this.layer),
      devminor: parseNumericField(h.subarray(337, 345), 'devminor', this.layer),
      xattrs,
    });
    this.localPax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    this.push(Buffer.from(h));
    this.remaining = isDir ? 0 : Math.ceil(effectiveSize / BLOCK) * BLOCK;
    this.state = this.remaining > 0 ? 'data' : 'header';
  }

  private collectMeta(piece: Buffer): void {
    const meta = this.meta!;
    const room = meta.size - meta.fill;
    if (room > 0) {
      piece.copy(meta.data, meta.fill, 0, Math.min(room, piece.length));
      meta.fill += Math.min(room, piece.length);
    }
  }

  private finishMeta(): void {
    const meta = this.meta!;
    this.meta = undefined;
    switch (meta.type) {
      case 'x': this.localPax = parsePaxRecords(meta.data, this.layer); break;
      case 'g': for (const [k, v] of parsePaxRecords(meta.data, this.layer)) this.globalPax.set(k, v); break;
      case 'L': this.longName = cstring(meta.data, 0, meta.data.length); break;
      case 'K': this.longLink = cstring(meta.data, 0, meta.data.length); break;
    }
  }
}
