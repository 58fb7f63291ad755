// Errors of the unpack side. Each names the layer (by digest) and, where there is one, the entry path, so a
// user can find the offending layer; paths are shown with JSON escaping because they may hold any byte.
import { InputError, ProxmoxPodsError } from '../../errors';

/** Shown form of a path kept as a byte string (latin1, one char per byte). */
export function showPath(bytePath: string): string {
  return JSON.stringify(Buffer.from(bytePath, 'latin1').toString('utf8'));
}

function where(layer: string | undefined, path: string | undefined): string {
  return `${layer ? `layer ${layer}` : 'layer'}${path !== undefined ? `, entry ${showPath(path)}` : ''}`;
}

/** The layer content breaks a safety rule (escape, bad whiteout, bad link...); the image is refused. */
export class UnsafeLayerError extends ProxmoxPodsError {
  constructor(readonly layer: string | undefined, readonly path: string | undefined, reason: string) {
    super(`${where(layer, path)}: ${reason}; the image is refused (rebuild it without this entry)`, 'E_OCI_UNSAFE_LAYER');
  }
}

/** The tar stream itself is malformed (truncated, bad header, unsupported entry type). */
export class MalformedLayerError extends ProxmoxPodsError {
  constructor(readonly layer: string | undefined, reason: string, options?: { cause?: unknown }) {
    super(`${where(layer, undefined)}: ${reason}; the blob is corrupt or not a tar archive`, 'E_OCI_MALFORMED_LAYER', options);
  }
}

/** A configured limit (bytes, entries, depth, header size) was exceeded: likely a decompression bomb. */
export class LayerLimitError extends ProxmoxPodsError {
  constructor(readonly layer: string | undefined, readonly limit: string, readonly value: number, detail: string) {
    super(`${where(layer, undefined)}: ${detail} exceeds the ${limit} limit (${value}); raise limits.${limit} if the image is legitimate`, 'E_OCI_LIMIT');
  }
}

/** The decompressed layer does not hash to the config's diff_id. */
export class DiffIdMismatchError extends ProxmoxPodsError {
  constructor(readonly layer: string | undefined, readonly expected: string, readonly actual: string) {
    super(`${where(layer, undefined)}: uncompressed content hashes to ${actual} but the image config lists diff_id ${expected}; the image is corrupt or was tampered with`, 'E_OCI_DIFFID');
  }
}

/** The compressed stream could not be decoded (corrupt gzip/zstd, window too large for the bomb guard). */
export class DecompressError extends ProxmoxPodsError {
  constructor(readonly layer: string | undefined, reason: string, options?: { cause?: unknown }) {
    super(`${where(layer, undefined)}: cannot decompress: ${reason}`, 'E_OCI_DECOMPRESS', options);
  }
}

/** An owner id outside the container's id map (unprivileged pods can only hold 0..size-1). */
export class IdMapError extends ProxmoxPodsError {
  constructor(readonly layer: string | undefined, readonly path: string, kind: 'uid' | 'gid', id: number, size: number) {
    super(`${where(layer, path)}: ${kind} ${id} is outside the container id map (0..${size - 1}); use a privileged pod or an image without such owners`, 'E_OCI_IDMAP');
  }
}

/** Bad unpack options (limits, id map, target). */
export class UnpackOptionsError extends InputError {}
