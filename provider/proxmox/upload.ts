// Multipart upload to /nodes/{node}/storage/{storage}/upload. proxmox-api can only send urlencoded
// bodies, so this goes through undici directly, with the same dispatcher (TLS policy) and auth headers.
// PVE's upload handler needs a Content-Length (it does not take chunked bodies), so the body is a
// stream whose length we compute up front: a file is stat()ed, a stream without a known size is first
// spooled to a temp file.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fetch } from 'undici';
import { InputError } from '../errors';
import { PveConnectionError, TlsFingerprintError } from './errors';
import type { Deadline } from './retry';
import type { PveTransport } from './transport';

export type ChecksumAlgorithm = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface UploadRequest {
  content: 'vztmpl' | 'iso' | 'import';
  filename: string;
  /** A local file path, or a stream (give `size` to avoid spooling it to disk first). */
  data: string | Readable;
  size?: number;
  checksum?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
}

const FILENAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const VZTMPL_RE = /\.tar(\.(gz|xz|zst|bz2))?$/;

/** Checks PVE would make, done before sending gigabytes. */
export function validateUpload(req: UploadRequest): void {
  if (!FILENAME_RE.test(req.filename) || req.filename.length > 255) {
    throw new InputError('filename', `'${req.filename}' is not a plain file name`, 'use letters, digits, _ . + - and no directories');
  }
  if (req.content === 'vztmpl' && !VZTMPL_RE.test(req.filename)) {
    throw new InputError('filename', 'wrong file extension for a container template', 'use .tar, .tar.gz, .tar.xz, .tar.zst or .tar.bz2');
  }
  if ((req.checksum === undefined) !== (req.checksumAlgorithm === undefined)) {
    throw new InputError('checksum', 'checksum and checksumAlgorithm go together', 'give both or neither');
  }
}

function field(boundary: string, name: string, value: string): Buffer {
  return Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
}

/** Upload; returns the task's UPID (PVE answers with an `imgcopy` task). */
export async function uploadToStorage(
  transport: PveTransport,
  node: string,
  storage: string,
  req: UploadRequest,
  deadline: Deadline,
): Promise<string> {
  validateUpload(req);
  let spoolDir: string | undefined;
  try {
    let path: string | undefined = typeof req.data === 'string' ? req.data : undefined;
    let size = req.size;
    if (typeof req.data !== 'string' && size === undefined) {
      spoolDir = await mkdtemp(join(tmpdir(), 'proxmox-pods-upload-'));
      path = join(spoolDir, basename(req.filename));
      await pipeline(req.data, createWriteStream(path));
    }
    if (path !== undefined) size = (await stat(path)).size;
    const source = (): Readable => (path !== undefined ? createReadStream(path) : (req.data as Readable));

    const boundary = `----proxmox-pods-${randomBytes(12).toString('hex')}`;
    const head = Buffer.concat([
      field(boundary, 'content', req.content),
      ...(req.checksum ? [field(boundary, 'checksum', req.checksum), field(boundary, 'checksum-algorithm', req.checksumAlgorithm!)] : []),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${req.filename}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
    ]);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    async function* body() {
      yield head;
      for await (const chunk of source()) yield chunk as Buffer;
      yield tail;
    }
    const apiPath = `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/upload`;
    transport.guardMutation('POST', apiPath);
    let res;
    try {
      res = await fetch(`${transport.baseUrl}/api2/json${apiPath}`, {
        method: 'POST',
        headers: {
          ...(await transport.authHeaders('POST')),
          Accept: 'application/json',
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': String(head.length + size! + tail.length),
        },
        body: body(),
        duplex: 'half',
        dispatcher: transport.dispatcher,
        signal: AbortSignal.timeout(Math.max(1, deadline.remaining())),
      });
    } catch (err) {
      const e = ((err as { cause?: unknown }).cause ?? err) as Error & { code?: string };
      if (e instanceof TlsFingerprintError) throw e;
      throw new PveConnectionError('POST', apiPath, e?.message ?? String(err), { cause: err, code: e?.code });
    }
    return await transport.parseResponse<string>('POST', apiPath, res);
  } finally {
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
}
