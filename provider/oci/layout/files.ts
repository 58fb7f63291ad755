// File access to an OCI image layout, either a directory or a plain tar of one. Paths are relative to the
// layout root and built by us from validated digests or fixed names, never from archive content.
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { SourceError } from '../errors';
import { readCapped } from '../read-capped';

export interface LayoutFiles {
  readonly name: string;
  /** Whole small file, at most `cap` bytes; undefined when missing. */
  read(path: string, cap: number): Promise<Buffer | undefined>;
  /** Stream from `offset`; undefined when missing. */
  open(path: string, offset: number): Promise<Readable | undefined>;
}

function collect(stream: Readable, cap: number, what: string): Promise<Buffer> {
  return readCapped(stream, cap, () => new SourceError(what, `file is larger than the ${cap} byte limit`));
}

export class DirectoryFiles implements LayoutFiles {
  constructor(readonly name: string) {}

  async read(path: string, cap: number): Promise<Buffer | undefined> {
    const s = await this.open(path, 0);
    return s ? collect(s, cap, `${this.name}/${path}`) : undefined;
  }

  async open(path: string, offset: number): Promise<Readable | undefined> {
    const full = join(this.name, path);
    try {
      const stat = await fs.stat(full);
      if (!stat.isFile()) return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SourceError(this.name, `cannot read ${path}: ${(err as Error).message}`);
    }
    return createReadStream(full, { start: offset });
  }
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

/** An uncompressed tar of a layout. Each open scans the archive to the member (archives are read rarely). */
export class ArchiveFiles implements LayoutFiles {
  constructor(readonly name: string) {}

  async read(path: string, cap: number): Promise<Buffer | undefined> {
    const s = await this.open(path, 0);
    return s ? collect(s, cap, `${this.name}:${path}`) : undefined;
  }

  open(path: string, offset: number): Promise<Readable | undefined> {
    return new Promise((resolve, reject) => {
      const input = createReadStream(this.name);
      const ex = extract();
      let found = false;
      const fail = (err: Error) => { if (!found) reject(new SourceError(this.name, `cannot read archive: ${err.message}`)); };
      ex.on('entry', (header, stream, next) => {
        if (found || header.type !== 'file' || normalize(header.name) !== path) {
          stream.on('end', next);
          stream.resume();
          return;
        }
        found = true;
        const out = new PassThrough();
        let skip = offset;
        stream.on('data', (data) => {
          const chunk = data as Buffer;
          if (skip >= chunk.length) { skip -= chunk.length; return; }
          const part = skip > 0 ? chunk.subarray(skip) : chunk;
          skip = 0;
          if (!out.write(part)) { stream.pause(); out.once('drain', () => stream.resume()); }
        });
        stream.on('end', () => { out.end(); input.destroy(); });
        stream.on('error', (err) => out.destroy(err));
        out.on('close', () => input.destroy());
        resolve(out);
      });
      ex.on('finish', () => { if (!found) resolve(undefined); });
      ex.on('error', fail);
      input.on('error', fail);
      input.pipe(ex);
    });
  }
}
