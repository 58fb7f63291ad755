// What PVE 9.1 consumes as an OCI `ostemplate`: a plain tar of a single-image OCI layout (pve-container
// src/PVE/LXC/Create.pm `archive_is_oci_format`: a `.tar` with `oci-layout`, `index.json` and `blobs/`). Built only
// from blobs the content store verified (manifest, config and layers byte for byte, so their digests still hold);
// index.json, the one file we write, names that manifest. Also the small scaffold the ZFS-clone path creates from:
// the image's config with one layer that carries only /etc/passwd and /etc/group, so PVE resolves User the same way.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { extract, pack } from 'tar-stream';
import { digestOf, parseDigest } from '../digest';
import { MediaTypes } from '../media-types';
import type { ContentStore } from '../store/store';
import { compressionOf, decompressor } from '../unpack';
import { compressLayer, makeTar, type TarEntrySpec } from '../layout/writer';

export interface ArchiveFile { path: string; size: number; sha256: string }

const LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });
const MTIME = new Date(0);

function indexJson(manifest: { mediaType: string; digest: string; size: number }): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [manifest] });
}

/** Writes `<file>` from the store: the platform manifest, its config and layers, streamed (layers can be large). */
export async function writeStoreArchive(store: ContentStore, manifestDigest: string, file: string): Promise<ArchiveFile> {
  const manifestBytes = await store.readDocument(manifestDigest);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { mediaType?: string; config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
  const mediaType = manifest.mediaType ?? MediaTypes.ociManifest;
  const blobs = [{ digest: manifestDigest, size: manifestBytes.length }, manifest.config, ...manifest.layers];
  const p = pack();
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const done = pipeline(p, counter, createWriteStream(file, { mode: 0o600 }));
  const entry = (name: string, content: string) => new Promise<void>((resolve, reject) => p.entry({ name, mtime: MTIME, mode: 0o644 }, content, (err) => (err ? reject(err) : resolve())));
  const dir = (name: string) => new Promise<void>((resolve, reject) => p.entry({ name, type: 'directory', mtime: MTIME, mode: 0o755 }, (err) => (err ? reject(err) : resolve())));
  try {
    await entry('oci-layout', LAYOUT);
    await dir('blobs/');
    await dir('blobs/sha256/');
    const seen = new Set<string>();
    for (const b of blobs) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      const stat = await fs.stat(store.blobPath(b.digest));
      // The store verified each blob on ingest; its size must still be the manifest's.
      if (stat.size !== b.size) throw new Error(`stored blob ${b.digest} is ${stat.size} bytes, the manifest says ${b.size}`);
      await new Promise<void>((resolve, reject) => {
        const sink = p.entry({ name: `blobs/sha256/${parseDigest(b.digest).hex}`, size: stat.size, mtime: MTIME, mode: 0o644 }, (err) => (err ? reject(err) : resolve()));
        createReadStream(store.blobPath(b.digest)).on('error', reject).pipe(sink);
      });
    }
    await entry('index.json', indexJson({ mediaType, digest: manifestDigest, size: manifestBytes.length }));
    p.finalize();
    await done;
  } catch (err) {
    p.destroy(err as Error);
    await done.catch(() => undefined); // the write error, if any, is the same failure
    await fs.rm(file, { force: true });
    throw err;
  }
  return { path: file, size, sha256: hash.digest('hex') };
}

/**
 * /etc/passwd and /etc/group as the layers leave them. Later layers win; a whiteout (or an opaque /etc) removes
 * them. Symlinked files are not followed: PVE resolves them inside the rootfs, which a layer scan cannot.
 */
export async function etcFilesOfLayers(layers: ReadonlyArray<{ mediaType: string; digest: string; open: () => NodeJS.ReadableStream }>): Promise<{ passwd?: string; group?: string }> {
  const out: { passwd?: string; group?: string } = {};
  for (const layer of layers) {
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
      const key = name === 'etc/passwd' ? 'passwd' : name === 'etc/group' ? 'group' : undefined;
      if (name === 'etc/.wh.passwd') delete out.passwd;
      if (name === 'etc/.wh.group') delete out.group;
      if (name === 'etc/.wh..wh..opq') {
        delete out.passwd;
        delete out.group;
      }
      if (!key || header.type !== 'file') {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => {
        out[key] = Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    await pipeline(layer.open(), decompressor(compressionOf(layer.mediaType, layer.digest)), ex);
  }
  return out;
}

/** The scaffold: the image's config (runtime part unchanged) over one layer holding /etc/passwd and /etc/group. */
export async function scaffoldArchive(imageConfig: Record<string, unknown>, etc: { passwd?: string; group?: string }): Promise<{ bytes: Buffer; sha256: string }> {
  const files: TarEntrySpec[] = [{ name: 'etc/', type: 'directory', mtime: MTIME }];
  if (etc.passwd !== undefined) files.push({ name: 'etc/passwd', content: etc.passwd, mtime: MTIME });
  if (etc.group !== undefined) files.push({ name: 'etc/group', content: etc.group, mtime: MTIME });
  const tar = await makeTar(files);
  const layer = compressLayer(tar, 'gzip');
  const config = Buffer.from(JSON.stringify({
    ...imageConfig,
    rootfs: { type: 'layers', diff_ids: [digestOf(tar)] },
    history: [{ created_by: 'proxmox-pods scaffold: the image config with its /etc/passwd and /etc/group' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length },
    layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: digestOf(layer), size: layer.length }],
  }));
  const blob = (b: Buffer): TarEntrySpec => ({ name: `blobs/sha256/${parseDigest(digestOf(b)).hex}`, content: b, mtime: MTIME });
  const bytes = await makeTar([
    { name: 'oci-layout', content: LAYOUT, mtime: MTIME },
    { name: 'blobs/', type: 'directory', mtime: MTIME },
    { name: 'blobs/sha256/', type: 'directory', mtime: MTIME },
    blob(manifest), blob(config), blob(layer),
    { name: 'index.json', content: indexJson({ mediaType: MediaTypes.ociManifest, digest: digestOf(manifest), size: manifest.length }), mtime: MTIME },
  ]);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}
