// Builds OCI images in memory from layer tars, and writes them as an OCI layout directory or archive.
// Tests use it to make fixtures (including deliberately broken ones via the mutate hooks); push them with
// registry/push.ts.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { pack, type Header as Headers } from 'tar-stream';
import { digestOf } from '../digest';
import type { Descriptor, ImageConfigDocument, ImageManifest } from '../manifest';
import { MediaTypes, type LayerCompression } from '../media-types';
import type { Platform } from '../platform';
import { REF_NAME } from './source';

export interface TarEntrySpec {
  name: string;
  type?: Headers['type'];
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
  pax?: Record<string, string>;
}

/** A tar archive from entry specs (files default to mode 0644, directories 0755, mtime 2020-01-01). */
export function makeTar(entries: TarEntrySpec[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = pack();
    const chunks: Buffer[] = [];
    p.on('data', (c) => { chunks.push(c as Buffer); });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
    for (const e of entries) {
      const type = e.type ?? 'file';
      const content = e.content === undefined ? undefined : Buffer.from(e.content);
      const header: Partial<Headers> & { name: string } = {
        name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date('2020-01-01T00:00:00Z'),
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}), ...(e.pax ? { pax: e.pax } : {}),
        ...(type === 'file' ? { size: content?.length ?? 0 } : {}),
      };
      if (type === 'file') p.entry(header, content ?? Buffer.alloc(0));
      else p.entry(header);
    }
    p.finalize();
  });
}

export function compressLayer(tar: Buffer, compression: LayerCompression): Buffer {
  if (compression === 'gzip') return gzipSync(tar);
  if (compression === 'zstd') return zstdCompressSync(tar);
  return tar;
}

export interface LayerInput {
  tar: Buffer;
  compression?: LayerCompression;
  /** Override the media type (e.g. to test unsupported types). */
  mediaType?: string;
}

export interface ImageSpec {
  layers: LayerInput[];
  platform?: Platform;
  format?: 'oci' | 'docker';
  /** Fields of the config's `config` object (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, Labels...). */
  runtime?: Record<string, unknown>;
  /** Rewrites the config before it is hashed; tests use it to build documents that break the spec. */
  mutateConfig?: (config: ImageConfigDocument) => Record<string, unknown>;
  mutateManifest?: (manifest: ImageManifest) => Record<string, unknown>;
  annotations?: Record<string, string>;
}

export interface BuiltLayer { digest: string; size: number; mediaType: string; diffId: string; bytes: Buffer }

interface Doc { digest: string; bytes: Buffer; mediaType: string }

export interface BuiltImage {
  kind: 'manifest';
  root: Doc;
  /** Manifests pushed by digest before the root (none for a single image). */
  manifests: Doc[];
  /** Config and layers, by digest. */
  blobs: Map<string, Buffer>;
  config: Doc;
  layers: BuiltLayer[];
  platform: Platform;
}

export interface BuiltIndex {
  kind: 'index';
  root: Doc;
  manifests: Doc[];
  blobs: Map<string, Buffer>;
  images: BuiltImage[];
}

function layerMediaType(format: 'oci' | 'docker', c: LayerCompression): string {
  if (format === 'docker') {
    if (c !== 'gzip') throw new Error('Docker schema 2 layers are gzip only');
    return MediaTypes.dockerLayerGzip;
  }
  return c === 'gzip' ? MediaTypes.ociLayerGzip : c === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer;
}

function doc(value: unknown, mediaType: string): Doc {
  const bytes = Buffer.from(JSON.stringify(value));
  return { digest: digestOf(bytes), bytes, mediaType };
}

export function buildImage(spec: ImageSpec): BuiltImage {
  const format = spec.format ?? 'oci';
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: BuiltLayer[] = spec.layers.map((l) => {
    const compression = l.compression ?? 'gzip';
    const bytes = compressLayer(l.tar, compression);
    return { digest: digestOf(bytes), size: bytes.length, mediaType: l.mediaType ?? layerMediaType(format, compression), diffId: digestOf(l.tar), bytes };
  });
  const configValue: ImageConfigDocument = {
    created: '2020-01-01T00:00:00Z', architecture: platform.architecture, os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: spec.runtime ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created_by: 'proxmox-pods writer' })),
  };
  const config = doc(spec.mutateConfig ? spec.mutateConfig(configValue) : configValue, format === 'docker' ? MediaTypes.dockerConfig : MediaTypes.ociConfig);
  const manifestType = format === 'docker' ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const manifestValue: ImageManifest = {
    schemaVersion: 2, mediaType: manifestType,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const root = doc(spec.mutateManifest ? spec.mutateManifest(manifestValue) : manifestValue, manifestType);
  const blobs = new Map<string, Buffer>([[config.digest, config.bytes]]);
  for (const l of layers) blobs.set(l.digest, l.bytes);
  return { kind: 'manifest', root, manifests: [], blobs, config, layers, platform };
}

export interface IndexOptions {
  format?: 'oci' | 'docker';
  /** Add a BuildKit-style attestation entry (platform unknown/unknown) per image. */
  attestations?: boolean;
}

export function buildIndex(images: BuiltImage[], options: IndexOptions = {}): BuiltIndex {
  const format = options.format ?? 'oci';
  const blobs = new Map<string, Buffer>();
  const manifests: Doc[] = [];
  const entries: Record<string, unknown>[] = [];
  for (const img of images) {
    for (const [d, b] of img.blobs) blobs.set(d, b);
    manifests.push(img.root);
    entries.push({ mediaType: img.root.mediaType, digest: img.root.digest, size: img.root.bytes.length, platform: { ...img.platform } });
    if (options.attestations) {
      const statement = doc({ _type: 'https://in-toto.io/Statement/v0.1' }, 'application/vnd.in-toto+json');
      const cfg = doc({}, MediaTypes.ociEmpty);
      blobs.set(statement.digest, statement.bytes);
      blobs.set(cfg.digest, cfg.bytes);
      const att = doc({
        schemaVersion: 2, mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociEmpty, digest: cfg.digest, size: cfg.bytes.length },
        layers: [{ mediaType: 'application/vnd.in-toto+json', digest: statement.digest, size: statement.bytes.length }],
      }, MediaTypes.ociManifest);
      manifests.push(att);
      entries.push({
        mediaType: att.mediaType, digest: att.digest, size: att.bytes.length, platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': img.root.digest },
      });
    }
  }
  const mediaType = format === 'docker' ? MediaTypes.dockerList : MediaTypes.ociIndex;
  const root = doc({ schemaVersion: 2, mediaType, manifests: entries }, mediaType);
  return { kind: 'index', root, manifests, blobs, images };
}

export interface LayoutEntry { image: BuiltImage | BuiltIndex; tag?: string }

/** Writes (or extends) an OCI image layout directory. */
export async function writeLayout(dir: string, entries: LayoutEntry[]): Promise<void> {
  await fs.mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await fs.writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  let index: { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
  try { index = JSON.parse(await fs.readFile(join(dir, 'index.json'), 'utf8')); } catch (err) {
    // A new layout starts empty; an index that exists but cannot be read must not be overwritten (its tags would go).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const { image, tag } of entries) {
    const docs = [...image.blobs.entries(), ...image.manifests.map((m) => [m.digest, m.bytes] as const), [image.root.digest, image.root.bytes] as const];
    for (const [digest, bytes] of docs) await fs.writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
    if (tag !== undefined) index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
    index.manifests.push({
      mediaType: image.root.mediaType, digest: image.root.digest, size: image.root.bytes.length,
      ...(tag !== undefined ? { annotations: { [REF_NAME]: tag } } : {}),
    });
  }
  await fs.writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

/** Writes an OCI archive: a plain tar of a layout (what `skopeo copy ... oci-archive:` produces). */
export async function writeArchive(file: string, entries: LayoutEntry[]): Promise<void> {
  const files: TarEntrySpec[] = [{ name: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) }, { name: 'blobs/', type: 'directory' }, { name: 'blobs/sha256/', type: 'directory' }];
  const manifests: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const { image, tag } of entries) {
    const docs = [...image.blobs.entries(), ...image.manifests.map((m) => [m.digest, m.bytes] as const), [image.root.digest, image.root.bytes] as const];
    for (const [digest, bytes] of docs) {
      if (seen.has(digest)) continue;
      seen.add(digest);
      files.push({ name: `blobs/sha256/${digest.slice('sha256:'.length)}`, content: bytes });
    }
    manifests.push({ mediaType: image.root.mediaType, digest: image.root.digest, size: image.root.bytes.length, ...(tag !== undefined ? { annotations: { [REF_NAME]: tag } } : {}) });
  }
  files.push({ name: 'index.json', content: JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }) });
  await fs.writeFile(file, await makeTar(files));
}
