// Pure rules: reference grammar, digest validation (§7a case 7), manifest rules (cases 6, 9), platforms (case 10).
import { parseReference, formatReference, pinReference, pinnedReference } from '../../provider/oci/reference';
import { parseDigest, digestOf } from '../../provider/oci/digest';
import { parseImageDocument, parseConfig, assertRunnable, type Descriptor, type ImageIndex } from '../../provider/oci/manifest';
import { selectManifest, parsePlatform } from '../../provider/oci/platform';
import { MediaTypes } from '../../provider/oci/media-types';
import { InvalidDigestError, InvalidReferenceError, ManifestError, PlatformNotFoundError } from '../../provider/oci/errors';

const HEX = 'a'.repeat(64);

describe('parseReference', () => {
  test('Docker Hub defaults: registry host, library/ prefix, latest tag', () => {
    expect(parseReference('alpine')).toEqual({ kind: 'registry', registry: 'docker.io', host: 'registry-1.docker.io', repository: 'library/alpine', tag: 'latest' });
    expect(parseReference('docker.io/bitnami/redis:7')).toMatchObject({ host: 'registry-1.docker.io', repository: 'bitnami/redis', tag: '7' });
    expect(parseReference('index.docker.io/nginx')).toMatchObject({ registry: 'docker.io', repository: 'library/nginx' });
  });

  test('registry with port, nested path, tag and digest', () => {
    const ref = parseReference(`127.0.0.1:5001/a/b-c/d__e:v1.2@sha256:${HEX}`);
    expect(ref).toEqual({ kind: 'registry', registry: '127.0.0.1:5001', host: '127.0.0.1:5001', repository: 'a/b-c/d__e', tag: 'v1.2', digest: `sha256:${HEX}` });
    expect(formatReference(ref)).toBe(`127.0.0.1:5001/a/b-c/d__e:v1.2@sha256:${HEX}`);
    expect(parseReference(`localhost/x@sha256:${HEX}`)).toEqual({ kind: 'registry', registry: 'localhost', host: 'localhost', repository: 'x', digest: `sha256:${HEX}` });
    expect(parseReference('ghcr.io/org/img')).toMatchObject({ registry: 'ghcr.io', repository: 'org/img', tag: 'latest' });
    // A first component without dot/port/localhost is a path, not a host.
    expect(parseReference('myorg/img:1')).toMatchObject({ registry: 'docker.io', repository: 'myorg/img' });
  });

  test.each([
    ['Upper/case', /path component/],
    ['a//b', /path component/],
    ['a:bad tag', /whitespace/],
    ['a:-x', /tag/],
    ['host:99999/a', /port/],
    ['a_', /path component/],
    ['', /empty/],
  ])('rejects %j', (input, reason) => {
    expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    expect(() => parseReference(input)).toThrow(reason);
  });

  test('local sources: oci-layout and oci-archive with tag or digest', () => {
    expect(parseReference('oci-layout:/tmp/l:v1')).toEqual({ kind: 'oci-layout', path: '/tmp/l', tag: 'v1' });
    expect(parseReference(`oci-layout:/tmp/l@sha256:${HEX}`)).toEqual({ kind: 'oci-layout', path: '/tmp/l', digest: `sha256:${HEX}` });
    expect(parseReference('oci-archive:/x/img.tar')).toEqual({ kind: 'oci-archive', path: '/x/img.tar' });
    expect(parseReference('oci-layout:/a:b/c/')).toEqual({ kind: 'oci-layout', path: '/a:b/c/' });
    expect(() => parseReference('oci-layout:')).toThrow(/needs a path/);
  });

  test('a local reference with a tag and a digest (what a pull reports) parses back; the digest decides', () => {
    expect(parseReference(`oci-layout:/tmp/l:v1@sha256:${HEX}`)).toEqual({ kind: 'oci-layout', path: '/tmp/l', tag: 'v1', digest: `sha256:${HEX}` });
    expect(parseReference(`oci-archive:/x/img.tar:v1@sha256:${HEX}`)).toEqual({ kind: 'oci-archive', path: '/x/img.tar', tag: 'v1', digest: `sha256:${HEX}` });
    expect(parseReference(`oci-layout:/a:b/c/@sha256:${HEX}`)).toEqual({ kind: 'oci-layout', path: '/a:b/c/', digest: `sha256:${HEX}` });
    expect(() => parseReference(`oci-layout:/tmp/l:v!1@sha256:${HEX}`)).toThrow(/tag/);
    for (const r of [`oci-layout:/tmp/l:v1@sha256:${HEX}`, `oci-archive:/x/img.tar:v1@sha256:${HEX}`, `registry.lan:5000/a/b:v1@sha256:${HEX}`]) {
      expect(formatReference(parseReference(r))).toBe(r);
    }
  });

  test('pinnedReference drops the tag and keeps the digest, for every source kind', () => {
    const d = `sha256:${HEX}`;
    expect(pinnedReference('alpine:3', d)).toBe(`docker.io/library/alpine@${d}`);
    expect(pinnedReference('registry.lan:5000/a/b:v1', d)).toBe(`registry.lan:5000/a/b@${d}`);
    expect(pinnedReference('oci-layout:/tmp/l:v1', d)).toBe(`oci-layout:/tmp/l@${d}`);
    expect(pinnedReference(`oci-archive:/x/img.tar:v1@${d}`, d)).toBe(`oci-archive:/x/img.tar@${d}`);
    expect(parseReference(pinnedReference('oci-layout:/tmp/l:v1', d))).toEqual({ kind: 'oci-layout', path: '/tmp/l', digest: d });
  });

  test('pinReference keeps the name and adds the digest', () => {
    const pinned = pinReference(parseReference('alpine:3'), `sha256:${HEX}`);
    expect(formatReference(pinned)).toBe(`docker.io/library/alpine:3@sha256:${HEX}`);
  });
});

describe('digest validation (case 7: before any I/O)', () => {
  test.each([
    [`sha256:${'A'.repeat(64)}`, /lowercase hex/],
    [`sha256:${'a'.repeat(63)}`, /64 hex/],
    ['sha256:../../x', /algorithm:encoded/],
    [`md5:${'a'.repeat(32)}`, /cannot be verified/],
    [`blake3:${HEX}`, /cannot be verified/],
    [`sha512:${HEX}`, /128 hex/],
  ])('rejects %s', (digest, reason) => {
    expect(() => parseDigest(digest)).toThrow(InvalidDigestError);
    expect(() => parseDigest(digest)).toThrow(reason);
    // In a reference the same digest fails the parse, so nothing is ever fetched with it.
    expect(() => parseReference(`127.0.0.1:1/a@${digest}`)).toThrow(InvalidDigestError);
  });

  test('accepts sha256 and sha512', () => {
    expect(parseDigest(digestOf('x')).algorithm).toBe('sha256');
    expect(parseDigest(digestOf('x', 'sha512')).hex).toHaveLength(128);
  });
});

const layer = { mediaType: MediaTypes.ociLayerGzip, digest: `sha256:${'b'.repeat(64)}`, size: 10 };
const manifestDoc = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: `sha256:${HEX}`, size: 5 }, layers: [layer] };
const buf = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('manifest rules', () => {
  test('case 6: mediaType differing from Content-Type is rejected', () => {
    expect(() => parseImageDocument(buf(manifestDoc), 'm', MediaTypes.dockerManifest)).toThrow(/disagrees with Content-Type/);
    expect(parseImageDocument(buf(manifestDoc), 'm', `${MediaTypes.ociManifest}; charset=utf-8`).kind).toBe('manifest');
  });

  test('case 6: a document with both manifests and layers is rejected', () => {
    expect(() => parseImageDocument(buf({ ...manifestDoc, manifests: [] }), 'm')).toThrow(ManifestError);
    expect(() => parseImageDocument(buf({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [], layers: [] }), 'm')).toThrow(/both/);
  });

  test('schema 1, oversize and non-JSON documents are refused', () => {
    expect(() => parseImageDocument(buf({ schemaVersion: 1, name: 'x' }), 'm')).toThrow(/schema 1/);
    expect(() => parseImageDocument(Buffer.alloc(5 * 1024 * 1024, 32), 'm')).toThrow(/limit/);
    expect(() => parseImageDocument(Buffer.from('{'), 'm')).toThrow(/JSON/);
    expect(() => parseImageDocument(buf({ ...manifestDoc, layers: [{ ...layer, size: -1 }] }), 'm')).toThrow(/invalid image manifest/);
  });

  test('case 9: diff_ids length and rootfs.type are checked', () => {
    const doc = parseImageDocument(buf(manifestDoc), 'm');
    if (doc.kind !== 'manifest') throw new Error('expected manifest');
    const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'c'.repeat(64)}`] } };
    expect(parseConfig(buf(config), doc.manifest, 'c').rootfs.diff_ids).toHaveLength(1);
    expect(() => parseConfig(buf({ ...config, rootfs: { type: 'layers', diff_ids: [] } }), doc.manifest, 'c')).toThrow(/lists 0 layers but the manifest has 1/);
    expect(() => parseConfig(buf({ ...config, rootfs: { type: 'squash', diff_ids: config.rootfs.diff_ids } }), doc.manifest, 'c')).toThrow(/rootfs.type/);
  });

  test('artifacts and unknown layer types are not runnable', () => {
    const art = parseImageDocument(buf({ ...manifestDoc, config: { ...manifestDoc.config, mediaType: MediaTypes.ociEmpty } }), 'm');
    if (art.kind !== 'manifest') throw new Error('expected manifest');
    expect(() => assertRunnable(art.manifest, 'm')).toThrow(/artifact/);
    const odd = parseImageDocument(buf({ ...manifestDoc, layers: [{ ...layer, mediaType: 'application/x-foo' }] }), 'm');
    if (odd.kind !== 'manifest') throw new Error('expected manifest');
    expect(() => assertRunnable(odd.manifest, 'm')).toThrow(/unsupported media type/);
  });
});

describe('platform selection (case 10)', () => {
  const entry = (digestChar: string, platform?: { os: string; architecture: string; variant?: string }, annotations?: Record<string, string>): Descriptor => ({
    mediaType: MediaTypes.ociManifest, digest: `sha256:${digestChar.repeat(64)}`, size: 1, ...(platform ? { platform } : {}), ...(annotations ? { annotations } : {}),
  });
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      entry('0', { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
      entry('1', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      entry('2', { os: 'linux', architecture: 'amd64' }),
      entry('3', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      entry('4', { os: 'linux', architecture: 'arm', variant: 'v7' }),
    ],
  };

  test('default linux/amd64, never the attestation entry', () => {
    expect(selectManifest(index, parsePlatform('linux/amd64'), 'img').digest).toBe(`sha256:${'2'.repeat(64)}`);
    expect(selectManifest({ ...index, manifests: [index.manifests[0]!, index.manifests[2]!] }, parsePlatform('linux/x86_64'), 'img').digest).toBe(`sha256:${'2'.repeat(64)}`);
  });

  test('arm64 ≡ arm64/v8; arm prefers the exact variant, else a lower one', () => {
    expect(selectManifest(index, parsePlatform('linux/arm64'), 'img').digest).toBe(`sha256:${'1'.repeat(64)}`);
    expect(selectManifest(index, parsePlatform('linux/aarch64/v8'), 'img').digest).toBe(`sha256:${'1'.repeat(64)}`);
    expect(selectManifest(index, parsePlatform('linux/arm/v7'), 'img').digest).toBe(`sha256:${'4'.repeat(64)}`);
    expect(selectManifest({ ...index, manifests: [index.manifests[3]!] }, parsePlatform('linux/arm/v7'), 'img').digest).toBe(`sha256:${'3'.repeat(64)}`);
  });

  test('no match lists the available platforms (without the attestation)', () => {
    let err: unknown;
    try { selectManifest(index, parsePlatform('linux/s390x'), 'img'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(PlatformNotFoundError);
    expect((err as Error).message).toContain('linux/arm64, linux/amd64, linux/arm/v6, linux/arm/v7');
    expect((err as Error).message).not.toContain('unknown');
    expect(() => parsePlatform('linux')).toThrow(/os\/architecture/);
  });
});
