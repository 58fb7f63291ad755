// ImageSource over an OCI image layout (directory or archive). Without a tag or digest the layout must hold
// one image, one tagged "latest", or else its index.json is used as the index to select a platform from.
import { digestOf, parseDigest } from '../digest';
import { SourceError } from '../errors';
import { MAX_JSON_BYTES, indexSchema, type Descriptor } from '../manifest';
import { MediaTypes } from '../media-types';
import type { LocalReference } from '../reference';
import type { BlobRange, FetchedDocument, ImageSource } from '../source';
import { verifyBuffer } from '../verify';
import { ArchiveFiles, DirectoryFiles, type LayoutFiles } from './files';

export const REF_NAME = 'org.opencontainers.image.ref.name';

function blobPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

export class LayoutSource implements ImageSource {
  readonly name: string;
  private readonly files: LayoutFiles;

  constructor(private readonly ref: LocalReference) {
    this.files = ref.kind === 'oci-archive' ? new ArchiveFiles(ref.path) : new DirectoryFiles(ref.path);
    this.name = `${ref.kind}:${ref.path}`;
  }

  private async indexJson(): Promise<{ bytes: Buffer; manifests: Descriptor[] }> {
    const layout = await this.files.read('oci-layout', 64 * 1024);
    if (!layout) throw new SourceError(this.name, 'is not an OCI image layout (no oci-layout file)');
    try {
      const v = JSON.parse(layout.toString('utf8')) as { imageLayoutVersion?: unknown };
      if (typeof v.imageLayoutVersion !== 'string') throw new Error('imageLayoutVersion missing');
    } catch (err) { throw new SourceError(this.name, `oci-layout is invalid (${(err as Error).message})`); }
    const bytes = await this.files.read('index.json', MAX_JSON_BYTES);
    if (!bytes) throw new SourceError(this.name, 'has no index.json');
    let parsed;
    try { parsed = indexSchema.parse(JSON.parse(bytes.toString('utf8'))); } catch (err) {
      throw new SourceError(this.name, `index.json is not a valid image index (${(err as Error).message.slice(0, 200)})`);
    }
    return { bytes, manifests: parsed.manifests };
  }

  /** The descriptor the reference names, or undefined for "index.json itself". */
  private async rootDescriptor(): Promise<{ desc?: Descriptor; indexBytes: Buffer }> {
    const { bytes, manifests } = await this.indexJson();
    if (this.ref.digest) {
      const listed = manifests.find((m) => m.digest === this.ref.digest);
      if (listed) return { desc: listed, indexBytes: bytes };
      // index.json itself is the root of a layout whose images are selected by platform: a pull pins it that way.
      if (digestOf(bytes) === this.ref.digest) return { indexBytes: bytes };
      // Any manifest blob in the layout may be named by digest.
      const blob = await this.files.read(blobPath(this.ref.digest), MAX_JSON_BYTES);
      if (!blob) throw new SourceError(this.name, `has no manifest ${this.ref.digest}`);
      const mediaType = (JSON.parse(blob.toString('utf8')) as { mediaType?: string }).mediaType ?? MediaTypes.ociManifest;
      return { desc: { mediaType, digest: this.ref.digest, size: blob.length }, indexBytes: bytes };
    }
    const tags = (tag: string) => manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
    if (this.ref.tag !== undefined) {
      const hit = tags(this.ref.tag);
      if (hit.length === 0) {
        const known = [...new Set(manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean))];
        throw new SourceError(this.name, `has no image tagged ${JSON.stringify(this.ref.tag)} (tags: ${known.join(', ') || 'none'})`);
      }
      if (hit.length > 1) return { indexBytes: bytes };
      return { desc: hit[0]!, indexBytes: bytes };
    }
    if (manifests.length === 1) return { desc: manifests[0]!, indexBytes: bytes };
    const latest = tags('latest');
    if (latest.length === 1) return { desc: latest[0]!, indexBytes: bytes };
    return { indexBytes: bytes };
  }

  async fetchRoot(): Promise<FetchedDocument> {
    const { desc, indexBytes } = await this.rootDescriptor();
    if (!desc) return { bytes: indexBytes, digest: digestOf(indexBytes), contentType: MediaTypes.ociIndex };
    return this.fetchManifest(desc);
  }

  async resolveRoot(): Promise<string> {
    const { desc, indexBytes } = await this.rootDescriptor();
    return desc ? desc.digest : digestOf(indexBytes);
  }

  async fetchManifest(desc: Descriptor): Promise<FetchedDocument> {
    const what = `manifest ${desc.digest} in ${this.name}`;
    if (desc.size > MAX_JSON_BYTES) throw new SourceError(this.name, `${what} claims ${desc.size} bytes, more than the ${MAX_JSON_BYTES} byte limit`);
    const bytes = await this.files.read(blobPath(desc.digest), MAX_JSON_BYTES);
    if (!bytes) throw new SourceError(this.name, `${what} is missing from blobs/`);
    verifyBuffer(bytes, { digest: desc.digest, size: desc.size, what });
    return { bytes, digest: desc.digest, contentType: desc.mediaType };
  }

  async openBlob(desc: Descriptor, offset: number): Promise<BlobRange> {
    const stream = await this.files.open(blobPath(desc.digest), offset);
    if (!stream) throw new SourceError(this.name, `blob ${desc.digest} is missing from blobs/`);
    return { stream, offset };
  }

  async close(): Promise<void> { /* nothing held open */ }
}
