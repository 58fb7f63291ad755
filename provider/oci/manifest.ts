// Schemas and validation rules for manifests, indexes and image configs (image-spec, oci.md §1.2–1.5).
// Parsing is pure: callers hand in exact bytes plus the Content-Type they came with.
import { z } from 'zod';
import { isValidDigest } from './digest';
import { ManifestError } from './errors';
import { CONFIG_TYPES, INDEX_TYPES, MANIFEST_TYPES, MediaTypes, bareMediaType, layerCompression } from './media-types';

/** Cap for any JSON document we read (containerd CVE-2023-25153). */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;
export const MAX_LAYERS = 128;

const digestString = z.string().refine(isValidDigest, { message: 'must be sha256:<64 hex> or sha512:<128 hex>' });
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const annotations = z.record(z.string(), z.string()).optional();

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});
export type PlatformSpec = z.infer<typeof platformSchema>;

export const descriptorSchema = z.looseObject({
  mediaType: z.string().min(1),
  digest: z.string().min(1),
  size,
  urls: z.array(z.string()).optional(),
  annotations,
  data: z.string().optional(),
  artifactType: z.string().optional(),
  platform: platformSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const verifiableDescriptor = descriptorSchema.extend({ digest: digestString });

export const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations,
});
export type ImageIndex = z.infer<typeof indexSchema>;

export const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: verifiableDescriptor,
  layers: z.array(verifiableDescriptor).max(MAX_LAYERS, `an image may have at most ${MAX_LAYERS} layers`),
  subject: descriptorSchema.optional(),
  annotations,
});
export type ImageManifest = z.infer<typeof manifestSchema>;

const stringList = z.array(z.string()).nullish();
export const configSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  created: z.string().optional(),
  config: z.looseObject({
    User: z.string().nullish(),
    Env: stringList,
    Entrypoint: stringList,
    Cmd: stringList,
    WorkingDir: z.string().nullish(),
    ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
    Volumes: z.record(z.string(), z.unknown()).nullish(),
    StopSignal: z.string().nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
  }).nullish(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(z.string()) }),
  history: z.array(z.looseObject({ empty_layer: z.boolean().optional() })).optional(),
});
export type ImageConfigDocument = z.infer<typeof configSchema>;

export type ImageDocument =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.byteLength > MAX_JSON_BYTES) throw new ManifestError(what, `document is ${bytes.byteLength} bytes, more than the ${MAX_JSON_BYTES} byte limit`);
  let value: unknown;
  try { value = JSON.parse(Buffer.from(bytes).toString('utf8')); } catch (err) {
    throw new ManifestError(what, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestError(what, 'not a JSON object');
  return value as Record<string, unknown>;
}

function zodReason(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ');
}

/**
 * Parses a manifest or index, enforcing the ambiguity rules (CVE-2021-41190): the document's `mediaType` must
 * agree with the Content-Type it was served with, and a document may not be both an index and a manifest.
 */
export function parseImageDocument(bytes: Uint8Array, what: string, contentType?: string): ImageDocument {
  const doc = parseJson(bytes, what);
  const hasManifests = 'manifests' in doc;
  const hasManifestFields = 'layers' in doc || 'config' in doc;
  if (hasManifests && hasManifestFields) throw new ManifestError(what, 'document has both "manifests" and "layers"/"config"; ambiguous documents are refused');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const served = bareMediaType(contentType);
  if (declared && served && served !== 'application/json' && served !== 'application/octet-stream' && declared !== served) {
    throw new ManifestError(what, `mediaType ${declared} disagrees with Content-Type ${served}`);
  }
  if (doc.schemaVersion === 1 || declared === MediaTypes.dockerSchema1 || declared === MediaTypes.dockerSchema1Signed) {
    throw new ManifestError(what, 'Docker schema 1 manifests are not supported; push the image again with a current client');
  }
  const mediaType = declared ?? (served && served !== 'application/json' && served !== 'application/octet-stream' ? served : undefined)
    ?? (hasManifests ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  if (INDEX_TYPES.includes(mediaType)) {
    if (hasManifestFields) throw new ManifestError(what, `an index (${mediaType}) must not carry layers or config`);
    const parsed = indexSchema.safeParse(doc);
    if (!parsed.success) throw new ManifestError(what, `invalid image index: ${zodReason(parsed.error)}`);
    return { kind: 'index', mediaType, index: parsed.data };
  }
  if (MANIFEST_TYPES.includes(mediaType)) {
    if (hasManifests) throw new ManifestError(what, `a manifest (${mediaType}) must not carry "manifests"`);
    const parsed = manifestSchema.safeParse(doc);
    if (!parsed.success) throw new ManifestError(what, `invalid image manifest: ${zodReason(parsed.error)}`);
    return { kind: 'manifest', mediaType, manifest: parsed.data };
  }
  throw new ManifestError(what, `unsupported media type ${mediaType}`);
}

/** Refuses manifests we cannot run: artifacts, unknown config types, unknown layer types. */
export function assertRunnable(manifest: ImageManifest, what: string): void {
  if (manifest.artifactType || manifest.config.mediaType === MediaTypes.ociEmpty) {
    throw new ManifestError(what, `is an artifact (${manifest.artifactType ?? manifest.config.mediaType}), not a runnable image`);
  }
  if (manifest.config.size > MAX_JSON_BYTES) {
    throw new ManifestError(what, `config claims ${manifest.config.size} bytes, more than the ${MAX_JSON_BYTES} byte limit`);
  }
  if (!CONFIG_TYPES.includes(manifest.config.mediaType)) {
    throw new ManifestError(what, `config media type ${manifest.config.mediaType} is not an image config`);
  }
  manifest.layers.forEach((layer, i) => {
    if (!layerCompression(layer.mediaType)) throw new ManifestError(what, `layer ${i} (${layer.digest}) has unsupported media type ${layer.mediaType}`);
  });
}

/** Parses an image config and checks it against the manifest it belongs to. */
export function parseConfig(bytes: Uint8Array, manifest: ImageManifest, what: string): ImageConfigDocument {
  const doc = parseJson(bytes, what);
  const parsed = configSchema.safeParse(doc);
  if (!parsed.success) throw new ManifestError(what, `invalid image config: ${zodReason(parsed.error)}`);
  const config = parsed.data;
  if (config.rootfs.type !== 'layers') throw new ManifestError(what, `rootfs.type must be "layers", got ${JSON.stringify(config.rootfs.type)}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new ManifestError(what, `rootfs.diff_ids lists ${config.rootfs.diff_ids.length} layers but the manifest has ${manifest.layers.length}`);
  }
  config.rootfs.diff_ids.forEach((id, i) => {
    if (!isValidDigest(id)) throw new ManifestError(what, `rootfs.diff_ids[${i}] ${JSON.stringify(id)} is not a valid digest`);
  });
  return config;
}

/** The runtime settings a pod inherits from its image. */
export interface ImageRuntimeConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workdir: string;
  user: string;
  exposedPorts: string[];
  volumes: string[];
  labels: Record<string, string>;
  stopSignal?: string;
}

export function runtimeConfig(config: ImageConfigDocument): ImageRuntimeConfig {
  const c = config.config ?? {};
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    env: c.Env ?? [],
    workdir: c.WorkingDir ?? '',
    user: c.User ?? '',
    exposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(),
    volumes: Object.keys(c.Volumes ?? {}).sort(),
    labels: c.Labels ?? {},
    ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
  };
}
