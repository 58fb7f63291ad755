// Our rootfs vs `umoci raw unpack` (the reference unpacker) for an image umoci itself built, with an
// mtree-like comparison (type, mode, uid, gid, size, sha256, link target).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { unpackImage } from '../../../provider/oci/unpack';
import { cleanupTempDirs, isRoot, tempDir, toolsPresent, walk } from './support';

afterAll(cleanupTempDirs);
function rootOrSkip(): boolean {
  if (isRoot()) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('oci unpack vs umoci: umoci raw unpack needs root');
  console.warn('SKIPPED oci unpack vs umoci: umoci raw unpack needs root');
  return false;
}
const ok = toolsPresent('oci unpack vs umoci', ['umoci', 'tar']) && rootOrSkip();
const t = ok ? test : test.skip;

function blob(layout: string, digest: string): string {
  return join(layout, 'blobs', ...digest.split(':'));
}

t('a umoci-built multi-layer image unpacks to the same tree as umoci raw unpack', async () => {
  const box = tempDir('umoci');
  const layout = join(box, 'layout');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:t`);
  // layer 1: a small usr-merged tree with modes, links, setuid
  const src1 = join(box, 'src1');
  mkdirSync(join(src1, 'usr/bin'), { recursive: true });
  mkdirSync(join(src1, 'etc/conf.d'), { recursive: true });
  writeFileSync(join(src1, 'usr/bin/app'), 'binary'); chmodSync(join(src1, 'usr/bin/app'), 0o4755);
  writeFileSync(join(src1, 'etc/conf.d/a'), 'a'); writeFileSync(join(src1, 'etc/conf.d/b'), 'b');
  writeFileSync(join(src1, 'etc/hosts'), '127.0.0.1 localhost\n');
  linkSync(join(src1, 'etc/hosts'), join(src1, 'etc/hosts.hard'));
  symlinkSync('usr/bin', join(src1, 'bin'));
  symlinkSync('/etc/hosts', join(src1, 'etc/abs-link'));
  mkdirSync(join(src1, 'tmp')); chmodSync(join(src1, 'tmp'), 0o1777);
  // Debian's umoci 0.4.7 `insert` writes truncated layers (no padding, no end blocks; GNU tar rejects them
  // too), so layers are packed with GNU tar and added verbatim with `umoci raw add-layer`.
  const addLayer = (dir: string) => {
    const tarFile = `${dir}.tar`;
    execFileSync('tar', ['--create', '--file', tarFile, '--numeric-owner', '--format=posix', '-C', dir, '.']);
    umoci('raw', 'add-layer', '--image', `${layout}:t`, tarFile);
  };
  addLayer(src1);
  // layer 2: whiteout of a file; layer 3: opaque directory with new content; layer 4: a bigger file
  const src2 = join(box, 'src2');
  mkdirSync(join(src2, 'etc/conf.d'), { recursive: true });
  writeFileSync(join(src2, 'etc/conf.d/.wh.a'), '');
  addLayer(src2);
  const src3 = join(box, 'src3');
  mkdirSync(join(src3, 'etc/conf.d'), { recursive: true });
  writeFileSync(join(src3, 'etc/conf.d/.wh..wh..opq'), '');
  writeFileSync(join(src3, 'etc/conf.d/new'), 'n');
  addLayer(src3);
  const src4 = join(box, 'src4');
  mkdirSync(join(src4, 'usr/share'), { recursive: true });
  writeFileSync(join(src4, 'usr/share/big'), Buffer.alloc(200_000, 3));
  addLayer(src4);

  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const manifestDigest = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 't')!.digest;
  const manifest = JSON.parse(readFileSync(blob(layout, manifestDigest), 'utf8')) as { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
  const config = JSON.parse(readFileSync(blob(layout, manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
  expect(manifest.layers.length).toBe(4);

  const ours = join(box, 'ours');
  await unpackImage({
    target: ours,
    layers: manifest.layers.map((l, i) => ({ path: blob(layout, l.digest), mediaType: l.mediaType, digest: l.digest, diffId: config.rootfs.diff_ids[i] })),
  });
  const theirs = join(box, 'theirs');
  umoci('raw', 'unpack', '--image', `${layout}:t`, theirs);

  const a = walk(ours);
  const b = walk(theirs);
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [path, node] of b) {
    const mine = a.get(path)!;
    // umoci leaves the rootfs root at its own default mode; compare everything below it
    if (path === '.') continue;
    expect({ path, ...mine }).toEqual({ path, ...node });
  }
  expect(a.has('etc/conf.d/a')).toBe(false);
  expect(a.has('etc/conf.d/b')).toBe(false);
  expect(a.has('etc/conf.d/new')).toBe(true);
  expect(a.get('usr/bin/app')!.mode).toBe(0o4755);
});
