// Minimal multipart/form-data reader for the upload endpoint: text fields plus one file part.
import { ParamError } from './errors';

export interface MultipartResult {
  fields: Record<string, string>;
  file?: { field: string; filename: string; data: Buffer };
}

export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

export function parseMultipart(body: Buffer, boundary: string): MultipartResult {
  const delim = Buffer.from(`--${boundary}`);
  const fields: Record<string, string> = {};
  let file: MultipartResult['file'];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new ParamError({ filename: 'unable to parse multipart/form-data body' });
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    pos += 2; // CRLF after the delimiter
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) break;
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headerEnd + 4);
    if (next < 0) break;
    const content = body.subarray(headerEnd + 4, next);
    const disp = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disp)?.[1];
    if (name !== undefined) {
      if (filename !== undefined) file = { field: name, filename, data: Buffer.from(content) };
      else fields[name] = content.toString('utf8');
    }
    pos = next + 2;
  }
  return { fields, ...(file ? { file } : {}) };
}
