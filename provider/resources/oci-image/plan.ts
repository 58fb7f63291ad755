// Pure planning for an OciImage: what a change means (replace, or state only) and how things are named.
import { parseDigest } from '../../oci/digest';
import { formatReference, parseReference, type ImageReference } from '../../oci/reference';
import { parsePlatform } from '../../oci/platform';
import { containsUnknown } from '../common/unknowns';
import { differs } from '../common/definition';
import type { DiffResult } from '../types';
import type { OciImageInputs, OciImageOutputs, PodImageValue } from './schema';

/** Inputs that shape what is pulled or where the template lives: a change is a new image. */
const REPLACE = ['reference', 'platform', 'node', 'templateStorage', 'zfs'] as const;
/**
 * Inputs that only change how the provider reaches things: recorded in state, nothing to do. Credentials are not
 * among them: outputs never carry the secret (the engine keeps the inputs), so comparing them would always differ.
 */
const STATE_ONLY = ['insecureRegistries', 'store', 'timeouts'] as const;
/** A new owner (first run with owner records, a renamed stack) is an update: it moves the claims on the cluster. */
const CLAIMS = ['owner'] as const;

// The comparison and the unknown rule are the ones every kind uses (common/definition.ts); the digest resolved by
// check() and the reference's identity need more than a declaration, so this diff is written out.

/**
 * Two references name the same content when they pin the same digest in the same place: beside a digest a tag is
 * only a label (`repo:1.4@sha256:X` and `repo@sha256:X` pull the same bytes). Otherwise their canonical spellings
 * decide (`nginx` and `docker.io/library/nginx:latest` are one image).
 */
export function sameImage(a: string, b: string): boolean {
  let ra: ImageReference;
  let rb: ImageReference;
  try {
    ra = parseReference(a);
    rb = parseReference(b);
  } catch {
    return a === b; // not judged here: check() reports a malformed reference with its own message
  }
  if (ra.digest && rb.digest) return ra.digest === rb.digest && where(ra) === where(rb);
  return formatReference(ra) === formatReference(rb);
}

const where = (r: ImageReference) => (r.kind === 'registry' ? `${r.registry}/${r.repository}` : `${r.kind}:${r.path}`);

/**
 * A moved tag is a replacement: check() resolved the tag's current digest into `resolvedDigest` (a manifest
 * request, no layers), so the preview shows it without pulling anything.
 */
export function ociImageDiff(olds: OciImageOutputs, news: OciImageInputs): DiffResult {
  const replaces: string[] = [];
  for (const key of REPLACE) {
    const before = olds[key];
    const after = news[key];
    // node is chosen at create time when not pinned: unpinned is not a change.
    if (key === 'node' && after === undefined) continue;
    if (key === 'reference' && typeof before === 'string' && typeof after === 'string' && sameImage(before, after)) continue;
    if (differs(before, after)) replaces.push(key);
  }
  if (news.resolvedDigest !== undefined && (containsUnknown(news.resolvedDigest) || news.resolvedDigest !== olds.digest)) {
    replaces.push('resolvedDigest');
  }
  const changed = [...replaces];
  for (const key of [...STATE_ONLY, ...CLAIMS]) if (differs((olds as unknown as Record<string, unknown>)[key], news[key])) changed.push(key);
  return { changes: changed.length > 0, replaces, changed, deleteBeforeReplace: false };
}

/**
 * The template's file name on the storage: content-addressed by the platform manifest, so equal images share it. A
 * `.tar` OCI archive, which PVE 9.1 creates from through its OCI path (Create.pm archive_is_oci_format).
 */
export function templateFileName(manifestDigest: string): string {
  const { hex } = parseDigest(manifestDigest);
  return `oci-${hex.slice(0, 16)}.tar`;
}

/** The ZFS-clone path's scaffold (image config + /etc/passwd + /etc/group), named after the image too. */
export function scaffoldFileName(manifestDigest: string): string {
  const { hex } = parseDigest(manifestDigest);
  return `oci-${hex.slice(0, 16)}.scaffold.tar`;
}

export function templateVolid(storage: string, manifestDigest: string): string {
  return `${storage}:vztmpl/${templateFileName(manifestDigest)}`;
}

const ENV_NAME = /^\w+$/;
// PVE refuses control characters in env values (pve-api.md §5).
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 32);

/**
 * The image's `KEY=VALUE` list as a record. Entries PVE could not take (names outside \w, control characters) are
 * returned separately so the caller can say so instead of failing the pod later.
 */
export function envRecord(list: readonly string[]): { env: Record<string, string>; dropped: string[] } {
  const env: Record<string, string> = {};
  const dropped: string[] = [];
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (!ENV_NAME.test(name) || hasControl(value)) { dropped.push(name); continue; }
    env[name] = value; // later entries win, as in the runtime
  }
  return { env, dropped };
}

// OCI architecture (after normalizePlatform) → PVE's `arch`; platforms PVE has no name for get none.
const PVE_ARCH: Record<string, NonNullable<PodImageValue['arch']>> = { amd64: 'amd64', '386': 'i386', arm64: 'arm64', 'arm/v7': 'armhf', riscv64: 'riscv64' };

/** `linux/arm/v7` → `armhf`; undefined where PVE has no such arch (ppc64le, s390x, arm/v6 …). */
export function pveArch(platform: string): PodImageValue['arch'] {
  const { architecture, variant } = parsePlatform(platform);
  return PVE_ARCH[variant ? `${architecture}/${variant}` : architecture];
}

/** The object a Pod's `image` input takes; empty image settings are left out so the Pod's defaults apply. */
export function podImageOf(o: Pick<OciImageOutputs, 'templateVolid' | 'reference' | 'digest' | 'entrypoint' | 'cmd' | 'env' | 'workdir' | 'user' | 'zfsSnapshot' | 'platform' | 'scaffoldVolid' | 'stopSignal'>): PodImageValue {
  const arch = pveArch(o.platform);
  return {
    template: o.templateVolid,
    reference: o.reference,
    digest: o.digest,
    ...(o.entrypoint.length ? { entrypoint: o.entrypoint } : {}),
    ...(o.cmd.length ? { cmd: o.cmd } : {}),
    ...(Object.keys(o.env).length ? { env: o.env } : {}),
    ...(o.workdir ? { workdir: o.workdir } : {}),
    ...(o.user ? { user: o.user } : {}),
    ...(o.zfsSnapshot ? { zfsSnapshot: o.zfsSnapshot } : {}),
    ...(o.scaffoldVolid ? { scaffold: o.scaffoldVolid } : {}),
    ...(o.stopSignal ? { stopSignal: o.stopSignal } : {}),
    ...(arch ? { arch } : {}),
  };
}
