// Public API of the OCI pull side.
export * from './errors';
export { parseDigest, isValidDigest, digestOf, type ParsedDigest } from './digest';
export { parseReference, formatReference, pinReference, type ImageReference, type RegistryReference, type LocalReference } from './reference';
export { MediaTypes, layerCompression, type LayerCompression } from './media-types';
export { parseImageDocument, parseConfig, assertRunnable, runtimeConfig, type Descriptor, type ImageManifest, type ImageIndex, type ImageConfigDocument, type ImageRuntimeConfig } from './manifest';
export { parsePlatform, formatPlatform, normalizePlatform, selectManifest, DEFAULT_PLATFORM, type Platform } from './platform';
export { VerifyingTransform, verifyBuffer } from './verify';
export { ContentStore, defaultStorePath, type GcResult } from './store/store';
export type { RefRecord } from './store/refs';
export { RegistryClient, type RegistryClientOptions } from './registry/client';
export { credentialsFromDockerConfig, type Credentials } from './registry/credentials';
export { pushImage, pushBlob, pushManifest } from './registry/push';
export { LayoutSource } from './layout/source';
export { makeTar, compressLayer, buildImage, buildIndex, writeLayout, writeArchive, type TarEntrySpec, type ImageSpec, type BuiltImage, type BuiltIndex, type BuiltLayer } from './layout/writer';
export { pullImage, resolveDigest, openSource, type PullOptions, type PulledImage, type PulledLayer, type PullProgress, type SourceOptions } from './pull';
export type { ImageSource, BlobRange, FetchedDocument } from './source';
