// Which platforms an image offers, from its root document alone (an index lists them; a single manifest's config
// says its one platform). The preview uses it to refuse a `platform` the image does not have before anything is
// pulled. Documents are verified like a pull verifies them.
import { MAX_JSON_BYTES, parseImageDocument } from './manifest';
import { isAttestation, normalizePlatform, type Platform } from './platform';
import { openSource, type SourceOptions } from './pull';
import { readCapped } from './read-capped';
import { parseReference } from './reference';
import { SourceError } from './errors';
import { verifyBuffer } from './verify';
import { INDEX_TYPES } from './media-types';

/**
 * The platforms of `reference`, or undefined when the documents do not say (index entries without a platform,
 * nested indexes): the pull then decides from the config, as it always does.
 */
export async function imagePlatforms(reference: string, options: SourceOptions = {}): Promise<Platform[] | undefined> {
  const ref = parseReference(reference);
  const source = await openSource(ref, options);
  try {
    const root = await source.fetchRoot();
    const doc = parseImageDocument(root.bytes, `manifest ${source.name}`, root.contentType);
    if (doc.kind === 'index') {
      const entries = doc.index.manifests.filter((d) => !isAttestation(d));
      if (entries.some((d) => !d.platform || INDEX_TYPES.includes(d.mediaType))) return undefined;
      return entries.map((d) => normalizePlatform(d.platform!));
    }
    const desc = doc.manifest.config;
    if (desc.size > MAX_JSON_BYTES) return undefined;
    const { stream } = await source.openBlob(desc, 0);
    const bytes = await readCapped(stream, MAX_JSON_BYTES, () => new SourceError(source.name, `config ${desc.digest} is larger than ${MAX_JSON_BYTES} bytes`));
    verifyBuffer(bytes, { digest: desc.digest, size: desc.size, what: `config of ${source.name}` });
    const config = JSON.parse(bytes.toString('utf8')) as { os?: unknown; architecture?: unknown; variant?: unknown };
    if (typeof config.os !== 'string' || typeof config.architecture !== 'string') return undefined;
    return [normalizePlatform({ os: config.os, architecture: config.architecture, ...(typeof config.variant === 'string' ? { variant: config.variant } : {}) })];
  } finally {
    await source.close();
  }
}
