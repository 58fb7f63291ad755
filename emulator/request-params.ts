// Request parameters as pveproxy reads them (pve-http-server src/PVE/APIServer/AnyEvent.pm `decode_urlencoded`,
// `extract_params`) and as PVE::RESTHandler `handle` prepares them before validation
// (`$normalize_legacy_param_formats`). Pure functions: the server feeds them the body and the query string.
import type { ParamSchema } from './params';
import { propFor } from './params';

/** A raw parameter value before validation: a form gives strings and arrays of strings, JSON anything. */
export type RawValue = string | number | boolean | null | RawValue[] | { [k: string]: RawValue };
export type RawParams = Record<string, RawValue | undefined>;

function percentDecode(text: string): Buffer {
  // `s/\+/ /g; s/%([0-9a-fA-F][0-9a-fA-F])/chr(hex($1))/eg`: bytes, anything else kept as is.
  const bytes: number[] = [];
  const src = Buffer.from(text.replace(/\+/g, ' '), 'utf8');
  const hex = (b: number | undefined) => b !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(b));
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && hex(src[i + 1]) && hex(src[i + 2])) {
      bytes.push(parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes);
}

/**
 * `decode_urlencoded`: pairs split on `&` or `;`; `my ($k, $v) = split(/=/, $kv)` keeps only the text between the
 * first and the second `=` (Perl's implied limit of 3 keeps an empty value: `a=` is ''); a key without `=` has no
 * value; a repeated key becomes an array of its values in order; values are UTF-8 decoded, keys are not.
 */
export function decodeUrlencoded(data: string): RawParams {
  const res: RawParams = {};
  if (!data) return res;
  for (const kv of data.split(/[&;]/)) {
    const fields = kv.split('=');
    const k = percentDecode(fields[0] ?? '').toString('latin1');
    if (fields.length < 2) {
      // `$res->{$k} = undef`: the key is there without a value (and replaces an earlier value).
      res[k] = undefined;
      continue;
    }
    let v: RawValue = percentDecode(fields[1]!).toString('utf8');
    const old = res[k];
    if (old !== undefined) v = Array.isArray(old) ? [...old, v] : [old, v];
    res[k] = v;
  }
  return res;
}

export class JsonBodyError extends Error {}

/**
 * `extract_params`: PUT/POST bodies are JSON when the Content-Type (before any `;`/`,` parameter, compared as
 * sent) is exactly `application/json`, else form-encoded; every query-string key then replaces the body's.
 */
export function extractParams(method: string, contentType: string | undefined, body: string, query: string): RawParams {
  let params: RawParams = {};
  if (method === 'PUT' || method === 'POST') {
    const ct = contentType === undefined ? undefined : contentType.split(/\s*[;,]\s*/)[0];
    if (ct === 'application/json') {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch (e) {
        // decode_json dies; the server answers 500 with that message (AnyEvent.pm handle_api2_request).
        throw new JsonBodyError(`malformed JSON string: ${(e as Error).message}`);
      }
      // A JSON array or scalar is not a hash: `delete $params->{_dc}` dies on it.
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new JsonBodyError('Not a HASH reference');
      params = json as RawParams;
    } else params = decodeUrlencoded(body);
  }
  const q = decodeUrlencoded(query);
  for (const k of Object.keys(q)) params[k] = q[k];
  delete params['_dc']; // "disable cache" parameter, dropped by handle_api2_request
  return params;
}

/**
 * RESTHandler's `$normalize_legacy_param_formats`: an array given for a string property whose format ends in
 * `-list` (delete, revert, nameserver…) becomes its values joined with `,`; any other array stays an array and
 * fails the type check (`type check ('string') failed - got ARRAY`). Only truthy values are looked at, as in PVE.
 */
export function normalizeListParams(params: RawParams, schema: ParamSchema): RawParams {
  const out: RawParams = { ...params };
  for (const [key, value] of Object.entries(out)) {
    const prop = propFor(schema, key);
    if (!prop || !Array.isArray(value)) continue;
    if (prop.type === 'string' && prop.list) out[key] = value.map((v) => String(v)).join(',');
  }
  return out;
}
