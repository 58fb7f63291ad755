// What a pull needs from wherever an image lives (registry, layout dir, archive). Implementations verify
// documents against the descriptors they are asked for; blobs are verified by the store while they stream.
import type { Readable } from 'node:stream';
import type { Descriptor } from './manifest';

export interface FetchedDocument {
  bytes: Buffer;
  /** Content-Type as served (registries), or the descriptor's media type (local sources). */
  contentType?: string;
  /** Digest computed over `bytes`. */
  digest: string;
}

export interface BlobRange {
  stream: Readable;
  /** Where the stream starts: the requested offset, or 0 when the source could not resume. */
  offset: number;
}

export interface ImageSource {
  /** For messages: registry/repository or the local path. */
  readonly name: string;
  /** The document the reference names (tag or digest); when the reference has a digest it is verified against it. */
  fetchRoot(): Promise<FetchedDocument>;
  /** Only the digest the reference resolves to now, without downloading layers. */
  resolveRoot(): Promise<string>;
  /** A manifest or index by descriptor, verified for size and digest. */
  fetchManifest(desc: Descriptor): Promise<FetchedDocument>;
  /** A blob stream from `offset`; the caller verifies it. */
  openBlob(desc: Descriptor, offset: number): Promise<BlobRange>;
  close(): Promise<void>;
}
