// Image reference grammar. Pure: parsing validates everything (including the digest) before any I/O.
//
// Accepted forms:
//   [registry[:port]/]path[:tag][@digest]   registry image; Docker Hub defaults apply when no registry is given
//   oci-layout:<dir>[:tag | @digest]         a local OCI image layout directory
//   oci-archive:<file.tar>[:tag | @digest]   a plain (uncompressed) tar of an OCI image layout
// For the local forms the tag is the text after the last ':' that follows the last '/', so a directory whose
// final component contains ':' must be written with a trailing '/'. Without a tag or digest, a local source
// must hold exactly one image (or one tagged "latest"). With both a tag and a digest, the digest decides.
import { parseDigest } from './digest';
import { InvalidReferenceError } from './errors';

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
export const DEFAULT_TAG = 'latest';

export interface RegistryReference {
  kind: 'registry';
  /** The registry as users write it (docker.io for Docker Hub), with port. */
  registry: string;
  /** host[:port] to connect to (registry-1.docker.io for Docker Hub). */
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface LocalReference {
  kind: 'oci-layout' | 'oci-archive';
  path: string;
  tag?: string;
  digest?: string;
}

export type ImageReference = RegistryReference | LocalReference;

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DOMAIN = /^(?:localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

export function parseReference(input: string, field = 'reference'): ImageReference {
  if (typeof input !== 'string' || input.length === 0) throw new InvalidReferenceError(String(input), 'it is empty', field);
  if (input.length > 4096 || /[\s\0]/.test(input)) throw new InvalidReferenceError(input, 'it contains whitespace or control characters or is too long', field);
  for (const kind of ['oci-layout', 'oci-archive'] as const) {
    if (input.startsWith(`${kind}:`)) return parseLocal(kind, input.slice(kind.length + 1), input, field);
  }
  return parseRegistry(input, field);
}

function splitDigest(rest: string, input: string, field: string): [string, string | undefined] {
  const at = rest.lastIndexOf('@');
  if (at < 0) return [rest, undefined];
  const digest = rest.slice(at + 1);
  parseDigest(digest, field);
  return [rest.slice(0, at), digest];
}

function parseLocal(kind: LocalReference['kind'], rest: string, input: string, field: string): LocalReference {
  let path = rest;
  let digest: string | undefined;
  if (/@[a-z0-9+._-]+:[^/]*$/.test(path)) [path, digest] = splitDigest(path, input, field);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  // `<path>:<tag>@<digest>` is what a pull reports as its resolved reference: the tag stays informational and the
  // digest decides, as for registry references (before, the tag was read as part of the path and the pinned
  // reference a promotion hands on could not be resolved back).
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(input, `tag ${JSON.stringify(tag)} must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, field);
  }
  if (!path) throw new InvalidReferenceError(input, `${kind} needs a path`, field);
  return { kind, path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

function parseRegistry(input: string, field: string): RegistryReference {
  const [nameAndTag, digest] = splitDigest(input, input, field);
  let name = nameAndTag;
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(input, `tag ${JSON.stringify(tag)} must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, field);
  }
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  let registry = DOCKER_HUB;
  let path = name;
  // Docker's rule: the first component is a registry only if it looks like a host (dot, port, or localhost).
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    path = name.slice(slash + 1);
    if (!DOMAIN.test(registry)) throw new InvalidReferenceError(input, `registry ${JSON.stringify(registry)} is not a valid host[:port]`, field);
    const port = registry.match(/:([0-9]+)$/)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new InvalidReferenceError(input, `port ${port} is out of range`, field);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (!path) throw new InvalidReferenceError(input, 'the repository path is empty', field);
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      throw new InvalidReferenceError(input, `path component ${JSON.stringify(component)} must be lowercase letters, digits and single separators (. _ __ -)`, field);
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path.length > MAX_NAME) throw new InvalidReferenceError(input, `the repository name is longer than ${MAX_NAME} characters`, field);
  if (!tag && !digest) tag = DEFAULT_TAG;
  return {
    kind: 'registry', registry, host: registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry, repository: path,
    ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}),
  };
}

/** Canonical text of a reference (always with registry; Docker Hub's library/ kept explicit). */
export function formatReference(ref: ImageReference): string {
  const suffix = `${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
  if (ref.kind === 'registry') return `${ref.registry}/${ref.repository}${suffix}`;
  return `${ref.kind}:${ref.path}${suffix}`;
}

/** The reference pinned to a digest: what a later pull of exactly this content uses. */
export function pinReference(ref: ImageReference, digest: string): ImageReference {
  parseDigest(digest);
  return { ...ref, digest };
}

/**
 * The reference that names exactly this content and nothing else: the digest without the tag
 * (`registry/repo@sha256:…`, `oci-layout:<dir>@sha256:…`, `oci-archive:<file>@sha256:…`). Every source kind
 * accepts it back; a later stack that takes it (promotion) never resolves a tag.
 */
export function pinnedReference(reference: string | ImageReference, digest: string): string {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const { tag: _tag, ...rest } = pinReference(ref, digest);
  return formatReference(rest);
}
