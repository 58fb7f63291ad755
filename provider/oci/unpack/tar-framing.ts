// The tar parser of the unpacker: a Writable that takes the decompressed (and already hashed) layer stream and
// hands each entry to a `TarSink` as it arrives: `entry(record)`, then its data in pieces, then `end()`. Every
// 512-byte header is validated here (checksum, magic, numeric fields, sizes), metadata records (PAX, GNU long
// names) are capped before they are buffered, PAX values stay raw bytes (binary xattrs such as
// security.capability survive) and names, link targets and xattrs reach the sink as byte strings. The sink may
// return a promise from entry()/end() (a helper process, say); parsing resumes when it settles. Bytes after
// the end-of-archive block are swallowed (they are still hashed upstream, which is what the DiffID covers).
import { Writable } from 'node:stream';
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
  // Fast path for the usual shape: spaces, octal digits, spaces, then NUL or the end of the field.
  let i = 0;
  while (i < field.length && field[i] === 0x20) i++;
  let fast = 0;
  while (i < field.length && field[i]! >= 0x30 && field[i]! <= 0x37) fast = fast * 8 + (field[i++]! - 0x30);
  while (i < field.length && field[i] === 0x20) i++;
  if ((i === field.length || field[i] === 0) && Number.isSafeInteger(fast)) return fast;
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

/** Receives the entries of one layer in archive order. */
export interface TarSink {
  /** A new entry; exactly `rec.size` bytes of data follow through data(), then end(). */
  entry(rec: TarRecord): void | PromiseLike<void>;
  /** Entry data (never padding); the buffer is only valid during the call. */
  data(piece: Buffer): void;
  end(): void | PromiseLike<void>;
}

const EMPTY_PAX: ReadonlyMap<string, Buffer> = new Map();
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

type State = 'header' | 'begin' | 'data' | 'finish' | 'pad' | 'meta' | 'end';

export class TarFraming extends Writable {
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private state: State = 'header';
  /** Entry data bytes left (state 'data'), then padding bytes after it (state 'pad'). */
  private dataLeft = 0;
  private padLeft = 0;
  /** Bytes left in the current metadata section, padding included. */
  private remaining = 0;
  private record: TarRecord | undefined;
  private meta: { type: string; size: number; data: Buffer; fill: number } | undefined;
  private localPax: Map<string, Buffer> | undefined;
  private globalPax = new Map<string, Buffer>();
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;
  /** Every header block seen, metadata headers included. */
  headers = 0;
  entries = 0;
  ended = false;

  constructor(private readonly limits: FramingLimits, private readonly sink: TarSink, private readonly layer?: string, highWaterMark = 4 * 1024 * 1024) {
    super({ highWaterMark });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.consume(chunk, 0, cb);
  }

  /** Parses `chunk` from `offset`; pauses (and resumes here) when the sink returns a promise. */
  private consume(chunk: Buffer, offset: number, cb: (err?: Error | null) => void): void {
    try {
      while (offset < chunk.length || this.state === 'begin' || this.state === 'finish') {
        switch (this.state) {
          case 'end':
            return cb();
          case 'header': {
            const take = Math.min(BLOCK - this.headerFill, chunk.length - offset);
            if (take === BLOCK) {
              offset += take;
              this.onHeader(chunk.subarray(offset - BLOCK, offset));
            } else {
              chunk.copy(this.header, this.headerFill, offset, offset + take);
              this.headerFill += take;
              offset += take;
              if (this.headerFill === BLOCK) {
                this.headerFill = 0;
                this.onHeader(this.header);
              }
            }
            break;
          }
          case 'begin': {
            this.state = this.dataLeft > 0 ? 'data' : 'finish';
            const pending = this.sink.entry(this.record!);
            if (pending) return void pending.then(() => this.consume(chunk, offset, cb), cb);
            break;
          }
          case 'data': {
            const take = Math.min(this.dataLeft, chunk.length - offset);
            this.sink.data(chunk.subarray(offset, offset + take));
            offset += take;
            this.dataLeft -= take;
            if (this.dataLeft === 0) this.state = 'finish';
            break;
          }
          case 'finish': {
            this.record = undefined;
            this.state = this.padLeft > 0 ? 'pad' : 'header';
            const pending = this.sink.end();
            if (pending) return void pending.then(() => this.consume(chunk, offset, cb), cb);
            break;
          }
          case 'pad': {
            const take = Math.min(this.padLeft, chunk.length - offset);
            offset += take;
            this.padLeft -= take;
            if (this.padLeft === 0) this.state = 'header';
            break;
          }
          case 'meta': {
            const take = Math.min(this.remaining, chunk.length - offset);
            this.collectMeta(chunk.subarray(offset, offset + take));
            offset += take;
            this.remaining -= take;
            if (this.remaining === 0) {
              this.state = 'header';
              this.finishMeta();
            }
            break;
          }
        }
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.state === 'data' || this.state === 'pad' || this.state === 'meta' || this.headerFill !== 0) {
      const missing = this.state === 'data' ? this.dataLeft + this.padLeft : this.state === 'pad' ? this.padLeft : this.remaining;
      return cb(new MalformedLayerError(this.layer, `the tar stream is truncated (${this.state === 'header' ? 'inside a header' : `${missing} bytes of entry data missing`})`));
    }
    cb();
  }

  private onHeader(h: Buffer): void {
    let sum = 8 * 0x20;
    let any = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = h[i]!;
      any |= b;
      if (i < 148 || i >= 156) sum += b;
    }
    if (any === 0) {
      // End of archive. Whatever follows (the second zero block, record padding, junk) is not parsed.
      this.state = 'end';
      this.ended = true;
      return;
    }
    if (sum !== parseNumericField(h.subarray(148, 156), 'header checksum', this.layer)) throw new MalformedLayerError(this.layer, `header ${this.headers} has a bad checksum`);
    // "ustar\0" (POSIX) or "ustar " (GNU)
    const magicOk = h[257] === 0x75 && h[258] === 0x73 && h[259] === 0x74 && h[260] === 0x61 && h[261] === 0x72;
    const ustar = magicOk && h[262] === 0;
    if (!ustar && !(magicOk && h[262] === 0x20)) throw new MalformedLayerError(this.layer, `header ${this.headers} is not a ustar/GNU/PAX tar header`);
    this.headers++;
    if (this.headers > this.limits.maxEntries) throw new LayerLimitError(this.layer, 'maxEntries', this.limits.maxEntries, 'the number of tar headers');
    const flag = String.fromCharCode(h[156]!);
    const size = parseNumericField(h.subarray(124, 136), 'entry size', this.layer);

    if (META_TYPES.has(flag)) {
      if (size > this.limits.maxHeaderBytes) throw new LayerLimitError(this.layer, 'maxHeaderBytes', this.limits.maxHeaderBytes, `a ${flag === 'L' || flag === 'K' ? 'GNU long-name' : 'PAX'} header of ${size} bytes`);
      this.meta = { type: flag, size, data: Buffer.alloc(size), fill: 0 };
      this.remaining = Math.ceil(size / BLOCK) * BLOCK;
      this.state = this.remaining > 0 ? 'meta' : 'header';
      if (this.remaining === 0) this.finishMeta();
      return;
    }

    const type = ENTRY_TYPES[flag];
    if (!type) throw new MalformedLayerError(this.layer, `entry type ${JSON.stringify(flag)} is not supported (sparse, multi-volume and dump-dir entries cannot be unpacked safely)`);
    const local = this.localPax;
    const pax: ReadonlyMap<string, Buffer> = this.globalPax.size === 0 ? (local ?? EMPTY_PAX) : local === undefined ? this.globalPax : new Map([...this.globalPax, ...local]);
    const ustarName = cstring(h, 0, 100);
    const prefix = ustar ? cstring(h, 345, 155) : undefined;
    const headerName = prefix !== undefined && prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), ustarName]) : ustarName;
    const name = pax.get('path') ?? this.longName ?? headerName;
    const linkname = pax.get('linkpath') ?? this.longLink ?? cstring(h, 157, 100);
    // Old-style (V7) directories: a regular-file entry whose plain header name ends in "/" (tar-stream's rule too).
    const isDir = type === 'directory' || (type === 'file' && ustarName.length > 0 && ustarName[ustarName.length - 1] === 0x2f && (flag === '0' || flag === '\0'));
    if (this.globalPax.has('size')) throw new MalformedLayerError(this.layer, 'a global PAX header sets size, which no valid archive does');
    const effectiveSize = paxNumber(pax.get('size'), 'size', this.layer) ?? size;
    if (isDir && effectiveSize !== 0) throw new MalformedLayerError(this.layer, `directory entry ${JSON.stringify(name.toString('latin1'))} carries ${effectiveSize} data bytes`);
    if (name.length > this.limits.maxPathBytes || linkname.length > this.limits.maxPathBytes) throw new LayerLimitError(this.layer, 'maxPathBytes', this.limits.maxPathBytes, 'an entry path or link target');
    let xattrs = NO_XATTRS as Map<string, Buffer>;
    if (pax.size > 0) {
      for (const [key, value] of pax) {
        if (!key.startsWith('SCHILY.xattr.')) continue;
        if (xattrs === NO_XATTRS) xattrs = new Map();
        xattrs.set(key.slice('SCHILY.xattr.'.length), value);
      }
    }
    this.record = {
      index: this.entries++,
      type: isDir ? 'directory' : type,
      name: name.toString('latin1'),
      linkname: linkname.length === 0 ? '' : linkname.toString('latin1'),
      size: isDir ? 0 : effectiveSize,
      mode: parseNumericField(h.subarray(100, 108), 'mode', this.layer) & 0o7777,
      uid: paxNumber(pax.get('uid'), 'uid', this.layer) ?? parseNumericField(h.subarray(108, 116), 'uid', this.layer),
      gid: paxNumber(pax.get('gid'), 'gid', this.layer) ?? parseNumericField(h.subarray(116, 124), 'gid', this.layer),
      mtime: paxNumber(pax.get('mtime'), 'mtime', this.layer, true) ?? parseNumericField(h.subarray(136, 148), 'mtime', this.layer, true),
      devmajor: parseNumericField(h.subarray(329, 337), 'devmajor', this.layer),
      devminor: parseNumericField(h.subarray(337, 345), 'devminor', this.layer),
      xattrs,
    };
    this.localPax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    this.dataLeft = isDir ? 0 : effectiveSize;
    this.padLeft = isDir ? 0 : Math.ceil(effectiveSize / BLOCK) * BLOCK - effectiveSize;
    this.state = 'begin';
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
