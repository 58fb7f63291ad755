// Platform selection from an index (containerd `platforms` semantics, oci.md §2).
import { InputError } from '../errors';
import { PlatformNotFoundError } from './errors';
import type { Descriptor, ImageIndex } from './manifest';

export interface Platform { os: string; architecture: string; variant?: string }

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', i686: '386', armhf: 'arm', armel: 'arm' };

/** Normalises architecture aliases and the default variants (arm64 ≡ arm64/v8, arm → v7). */
export function normalizePlatform(p: { os: string; architecture: string; variant?: string | undefined }): Platform {
  const os = p.os.toLowerCase();
  const architecture = ARCH_ALIASES[p.architecture.toLowerCase()] ?? p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm' && !variant) variant = 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** Parses "os/arch[/variant]". */
export function parsePlatform(text: string, field = 'platform'): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-zA-Z0-9_.-]+$/.test(p))) {
    throw new InputError(field, `${JSON.stringify(text)} is not a platform`, 'write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8');
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) });
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function variantNumber(v: string | undefined): number {
  const m = v?.match(/^v(\d+)$/);
  return m ? Number(m[1]) : 0;
}

/** 0 = no match; higher = better. Exact variants win; lower arm variants are compatible with higher ones. */
export function platformScore(wanted: Platform, candidate: Platform): number {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return 0;
  if (w.variant === c.variant) return 100;
  if (w.architecture === 'arm' && variantNumber(c.variant) > 0 && variantNumber(c.variant) < variantNumber(w.variant)) {
    return 50 + variantNumber(c.variant);
  }
  return 0;
}

export function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest'
    || (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown');
}

/**
 * Picks the index entry for `wanted`. Entries without a platform are a last resort (the caller cross-checks
 * the config); attestation manifests are never picked.
 */
export function selectManifest(index: ImageIndex, wanted: Platform, image: string): Descriptor {
  let best: { d: Descriptor; score: number } | undefined;
  const available: string[] = [];
  for (const d of index.manifests) {
    if (isAttestation(d)) continue;
    if (!d.platform) {
      if (!best) best = { d, score: 1 };
      continue;
    }
    available.push(formatPlatform(normalizePlatform(d.platform)));
    const score = platformScore(wanted, d.platform);
    if (score > (best?.score ?? 0)) best = { d, score };
  }
  if (!best) throw new PlatformNotFoundError(formatPlatform(normalizePlatform(wanted)), [...new Set(available)], image);
  return best.d;
}
