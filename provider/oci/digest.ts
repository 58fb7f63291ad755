// Digest grammar (image-spec descriptor.md). Validation happens before a digest is ever used in a path or
// URL (CVE-2024-3727): a digest that reaches the store or the network has already passed `parseDigest`.
import { createHash, type Hash } from 'node:crypto';
import { InvalidDigestError } from './errors';

const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof ALGORITHMS;

const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest { algorithm: DigestAlgorithm; hex: string; digest: string }

/** Parses and validates a digest we can verify (sha256/sha512, lowercase hex of the exact length). */
export function parseDigest(value: string, field = 'digest'): ParsedDigest {
  if (typeof value !== 'string' || !GRAMMAR.test(value)) throw new InvalidDigestError(String(value), 'it does not match algorithm:encoded', field);
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!(algorithm in ALGORITHMS)) throw new InvalidDigestError(value, `algorithm ${algorithm} cannot be verified here (only sha256 and sha512)`, field);
  const length = ALGORITHMS[algorithm as DigestAlgorithm];
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidDigestError(value, 'the encoded part must be lowercase hex', field);
  if (hex.length !== length) throw new InvalidDigestError(value, `${algorithm} needs ${length} hex characters, got ${hex.length}`, field);
  return { algorithm: algorithm as DigestAlgorithm, hex, digest: value };
}

export function isValidDigest(value: string): boolean {
  // A predicate over a pure parser: its only failure is "not a digest".
  try { parseDigest(value); return true; } catch { return false; }
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
