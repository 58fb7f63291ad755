// Errors of the OCI pull side. Each names the image, digest or host at fault so a user can act on it.
import { InputError, ProxmoxPodsError } from '../errors';

/** A reference or digest string that does not follow the grammar; raised before any I/O. */
export class InvalidReferenceError extends InputError {
  constructor(value: string, reason: string, field = 'reference') {
    super(field, `${JSON.stringify(value)} is not a valid image reference: ${reason}`,
      'use [registry[:port]/]name[:tag][@sha256:<64 hex>], oci-layout:<dir>[:tag|@digest] or oci-archive:<file.tar>[:tag]');
  }
}

export class InvalidDigestError extends InputError {
  constructor(value: string, reason: string, field = 'digest') {
    super(field, `${JSON.stringify(value)} is not a usable digest: ${reason}`, 'use sha256:<64 lowercase hex> or sha512:<128 lowercase hex>');
  }
}

/** Content whose bytes do not hash to the digest that names it. Nothing of it is kept in the store. */
export class DigestMismatchError extends ProxmoxPodsError {
  constructor(readonly what: string, readonly expected: string, readonly actual: string) {
    super(`${what}: content does not match its digest (expected ${expected}, got ${actual}); the source is corrupt or was tampered with`, 'E_OCI_DIGEST');
  }
}

/** Content longer or shorter than its descriptor says. */
export class SizeMismatchError extends ProxmoxPodsError {
  constructor(readonly what: string, readonly expected: number, readonly actual: number, readonly short: boolean) {
    super(short
      ? `${what}: stream ended after ${actual} of ${expected} bytes; the download can be resumed by pulling again`
      : `${what}: content is larger than its descriptor size ${expected} (got at least ${actual} bytes); refusing it`, 'E_OCI_SIZE');
  }
}

/** A manifest, index or config that breaks the OCI/Docker rules. */
export class ManifestError extends ProxmoxPodsError {
  constructor(readonly what: string, reason: string) {
    super(`${what}: ${reason}`, 'E_OCI_MANIFEST');
  }
}

export class PlatformNotFoundError extends ProxmoxPodsError {
  constructor(readonly wanted: string, readonly available: string[], image: string) {
    super(`${image}: no image for platform ${wanted}; available: ${available.length ? available.join(', ') : '(none)'} (set platform to one of them)`, 'E_OCI_PLATFORM');
  }
}

/** The registry answered with an error (after retries where retrying made sense). */
export class RegistryError extends ProxmoxPodsError {
  constructor(readonly url: string, readonly status: number, detail: string) {
    super(`registry request ${url} failed: ${status ? `HTTP ${status} ` : ''}${detail}`, 'E_OCI_REGISTRY');
  }
}

/** Authentication failed or the credentials lack access. Never carries the secret itself. */
export class RegistryAuthError extends ProxmoxPodsError {
  constructor(readonly host: string, reason: string) {
    super(`registry ${host}: ${reason}`, 'E_OCI_AUTH');
  }
}

/** A local layout/archive source that is unreadable or incomplete. */
export class SourceError extends ProxmoxPodsError {
  constructor(readonly source: string, reason: string) {
    super(`${source}: ${reason}`, 'E_OCI_SOURCE');
  }
}

export class StoreError extends ProxmoxPodsError {
  constructor(reason: string) {
    super(`content store: ${reason}`, 'E_OCI_STORE');
  }
}
