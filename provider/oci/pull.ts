// Pull: resolve the reference, select the platform, verify and store manifest, config and layers. Layer
// decompression and diff_id checks belong to the unpacker (provider/oci/unpack/), not here.
import { DigestMismatchError, ManifestError } from './errors';
import { assertRunnable, parseConfig, parseImageDocument, runtimeConfig, type Descriptor, type ImageManifest, type ImageRuntimeConfig } from './manifest';
import { DEFAULT_PLATFORM, formatPlatform, normalizePlatform, parsePlatform, platformScore, selectManifest, type Platform } from './platform';
import { formatReference, parseReference, pinReference, pinnedReference, type ImageReference } from './reference';
import { credentialsFromDockerConfig, type Credentials } from './registry/credentials';
import { RegistrySource } from './registry/source';
import { LayoutSource } from './layout/source';
import type { FetchedDocument, ImageSource } from './source';
import type { ContentStore } from './store/store';

export interface PullProgress { digest: string; kind: 'manifest' | 'config' | 'layer'; bytes: number; total: number; done: boolean }

export interface SourceOptions {
  credentials?: Credentials;
  /** Docker config file to read credentials from when none are given; false to never read one. */
  dockerConfig?: string | false;
  insecureRegistries?: readonly string[];
  /** Extra CA certificates (PEM) for this pull's registry connections. */
  ca?: string | string[];
  retries?: number;
  backoffMs?: number;
  bodyTimeoutMs?: number;
}

export interface PullOptions extends SourceOptions {
  store: ContentStore;
  platform?: Platform | string;
  /** Parallel layer downloads (default 3). */
  concurrency?: number;
  onProgress?: (p: PullProgress) => void;
  /** Record a store reference under this name (keeps the blobs alive across gc()). */
  refName?: string;
}

export interface PulledLayer { digest: string; size: number; mediaType: string; diffId: string }

export interface PulledImage {
  reference: string;
  /** The reference pinned to `digest`. */
  resolvedReference: string;
  /** The digest alone, without the tag (`reference.ts` pinnedReference): what a later stack pulls exactly this by. */
  pinnedReference: string;
  /** What the reference resolved to (an index or a manifest): the value that changes when a tag moves. */
  digest: string;
  /** The platform manifest pulled. */
  manifestDigest: string;
  configDigest: string;
  platform: Platform;
  config: ImageRuntimeConfig;
  layers: PulledLayer[];
  /** Compressed bytes of config + layers. */
  totalSize: number;
}

const MAX_INDEX_DEPTH = 4;

export async function openSource(ref: ImageReference, options: SourceOptions = {}): Promise<ImageSource> {
  if (ref.kind !== 'registry') return new LayoutSource(ref);
  let credentials = options.credentials;
  if (!credentials && options.dockerConfig !== false) {
    credentials = await credentialsFromDockerConfig(ref.registry, options.dockerConfig || undefined);
  }
  return new RegistrySource(ref, {
    ...(credentials ? { credentials } : {}), ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.ca ? { ca: options.ca } : {}), ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}), ...(options.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: options.bodyTimeoutMs } : {}),
  });
}

/** The digest a reference points to now, fetching only the manifest (HEAD where possible), never layers. */
export async function resolveDigest(reference: string | ImageReference, options: SourceOptions = {}): Promise<string> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const source = await openSource(ref, options);
  try { return await source.resolveRoot(); } finally { await source.close(); }
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try { await fn(item); } catch (err) { failed ??= err; }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

export async function pullImage(reference: string | ImageReference, options: PullOptions): Promise<PulledImage> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const wanted = typeof options.platform === 'string' ? parsePlatform(options.platform) : normalizePlatform(options.platform ?? DEFAULT_PLATFORM);
  const { store } = options;
  const name = formatReference(ref);
  const lease = await store.lease();
  const source = await openSource(ref, options);
  try {
    // A digest-pinned reference whose document is already stored needs no network for the root.
    let root: FetchedDocument;
    if (ref.digest && await store.has(ref.digest)) {
      const bytes = await store.readDocument(ref.digest);
      await store.touch(ref.digest);
      root = { bytes, digest: ref.digest };
    } else {
      root = await source.fetchRoot();
      await store.putBytes({ digest: root.digest, size: root.bytes.length, what: `manifest ${name}` }, root.bytes);
    }
    let doc = parseImageDocument(root.bytes, `manifest ${name}`, root.contentType);
    let manifestDigest = root.digest;
    for (let depth = 0; doc.kind === 'index'; depth++) {
      if (depth >= MAX_INDEX_DEPTH) throw new ManifestError(name, `indexes nest deeper than ${MAX_INDEX_DEPTH} levels`);
      const desc = selectManifest(doc.index, wanted, name);
      const fetched = await fetchDocument(store, source, desc, name);
      doc = parseImageDocument(fetched.bytes, `manifest ${name}@${desc.digest}`, fetched.contentType);
      manifestDigest = desc.digest;
    }
    const manifest: ImageManifest = doc.manifest;
    const what = `image ${name}@${manifestDigest}`;
    assertRunnable(manifest, what);
    const configBytes = await fetchBlobDocument(store, source, manifest.config, `config of ${what}`, options.onProgress, options);
    const config = parseConfig(configBytes, manifest, `config of ${what}`);
    const actual = normalizePlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) });
    if (platformScore(wanted, actual) === 0) {
      throw new ManifestError(what, `is for ${formatPlatform(actual)}, not the requested ${formatPlatform(wanted)}`);
    }
    await pool(manifest.layers, options.concurrency ?? 3, async (layer) => {
      await ingestDescriptor(store, source, layer, `layer ${layer.digest} of ${name}`, 'layer', options.onProgress, options);
    });
    if (options.refName) await store.setRef({ name: options.refName, reference: name, digest: root.digest, manifestDigest });
    return {
      reference: name,
      resolvedReference: formatReference(pinReference(ref, root.digest)),
      pinnedReference: pinnedReference(ref, root.digest),
      digest: root.digest,
      manifestDigest,
      configDigest: manifest.config.digest,
      platform: actual,
      config: runtimeConfig(config),
      layers: manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: config.rootfs.diff_ids[i]! })),
      totalSize: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    };
  } finally {
    await source.close();
    await lease.release();
  }
}

async function fetchDocument(store: ContentStore, source: ImageSource, desc: Descriptor, name: string): Promise<FetchedDocument> {
  if (await store.has(desc.digest)) {
    await store.touch(desc.digest);
    return { bytes: await store.readDocument(desc.digest), digest: desc.digest, contentType: desc.mediaType };
  }
  const fetched = await source.fetchManifest(desc);
  if (fetched.digest !== desc.digest) throw new DigestMismatchError(`manifest ${name}`, desc.digest, fetched.digest);
  await store.putBytes({ digest: desc.digest, size: desc.size, what: `manifest ${name}@${desc.digest}` }, fetched.bytes);
  return fetched;
}

async function ingestDescriptor(store: ContentStore, source: ImageSource, desc: Descriptor, what: string, kind: PullProgress['kind'], onProgress: PullOptions['onProgress'], retry: { retries?: number; backoffMs?: number }): Promise<void> {
  if (await store.has(desc.digest)) {
    await store.touch(desc.digest);
    onProgress?.({ digest: desc.digest, kind, bytes: desc.size, total: desc.size, done: true });
    return;
  }
  await store.ingest({ digest: desc.digest, size: desc.size, what }, (offset) => source.openBlob(desc, offset), {
    ...(retry.retries !== undefined ? { retries: retry.retries } : {}), ...(retry.backoffMs !== undefined ? { backoffMs: retry.backoffMs } : {}),
    ...(onProgress ? { onBytes: (bytes: number, total: number) => onProgress({ digest: desc.digest, kind, bytes, total, done: false }) } : {}),
  });
  onProgress?.({ digest: desc.digest, kind, bytes: desc.size, total: desc.size, done: true });
}

async function fetchBlobDocument(store: ContentStore, source: ImageSource, desc: Descriptor, what: string, onProgress: PullOptions['onProgress'], retry: { retries?: number; backoffMs?: number }): Promise<Buffer> {
  await ingestDescriptor(store, source, desc, what, 'config', onProgress, retry);
  return store.readDocument(desc.digest);
}
