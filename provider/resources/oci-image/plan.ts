// Pure planning for an OciImage beyond its diff (definition.ts): how its template and scaffold are named, and what a
// Pod's `image` input gets from it.
import { parseDigest } from '../../oci/digest';
import { parsePlatform } from '../../oci/platform';
import type { OciImageOutputs, PodImageValue } from './schema';

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
