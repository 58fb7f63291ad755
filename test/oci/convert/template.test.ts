// Template round trip: our rootfs → tar.zst → extracted with PVE's exact tar flags → the same tree
// (type, mode, owner, size, content hash, link target, security.capability).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { packTemplate, pveExtractArgs, validateTemplateName } from '../../../provider/oci/convert/template';
import { PVE_UNPRIVILEGED_IDMAP, unpackImage } from '../../../provider/oci/unpack';
import { layerOf, packTar, rawTar } from '../unpack/layers';
import { cleanupTempDirs, isRoot, tempDir, toolsPresent, walk } from '../unpack/support';

afterAll(cleanupTempDirs);
const ok = toolsPresent('oci template', ['tar', 'zstd', 'getfattr', 'setfattr']);
const t = ok ? test : test.skip;

t('the tar.zst template extracts with PVE flags into an identical tree', async () => {
  const box = tempDir('tpl');
  const rootfs = join(box, 'rootfs');
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
  await unpackImage({
    target: rootfs,
    idmap: isRoot() ? PVE_UNPRIVILEGED_IDMAP : null,
    layers: [
      layerOf(await packTar([
        { name: 'sbin/', type: 'directory' }, { name: 'usr/', type: 'directory' }, { name: 'usr/bin/', type: 'directory' },
        { name: 'usr/bin/su', data: 'su-binary', mode: 0o4755, uid: 0 },
        { name: 'usr/bin/tool', data: 'tool', uid: 1000, gid: 1000, mode: 0o750 },
        { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
        { name: 'abs', type: 'symlink', linkname: '/usr/bin/su' },
        { name: 'usr/bin/su-hard', type: 'link', linkname: 'usr/bin/su' },
        { name: 'tmp/', type: 'directory', mode: 0o1777 },
        { name: 'etc/', type: 'directory' }, { name: 'etc/big', data: Buffer.alloc(300_000, 7) },
      ]), true),
      layerOf(rawTar([{ name: 'usr/bin/ping', data: Buffer.from('ping'), mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap } }])),
    ],
  });
  const out = await packTemplate({ rootfs, outDir: box, name: 'pods-test_1.0' });
  expect(out.path).toBe(join(box, 'pods-test_1.0.tar.zst'));
  expect(out.sha256).toBe(execFileSync('sha256sum', [out.path]).toString().split(' ')[0]);
  const members = execFileSync('tar', ['--zstd', '-tf', out.path]).toString().split('\n').filter(Boolean);
  expect(members.every((m) => m.startsWith('./'))).toBe(true);
  const extracted = join(box, 'extracted');
  mkdirSync(extracted);
  await execa('tar', pveExtractArgs(out.path, extracted));
  const a = walk(rootfs, true);
  const b = walk(extracted, true);
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  // The extraction directory itself belongs to PVE (it prepares the CT's rootdir); everything below must match.
  for (const [path, node] of a) {
    if (path === '.') continue;
    expect({ path, ...b.get(path) }).toEqual({ path, ...node });
  }
  expect(a.get('usr/bin/ping')!.xattrs).toContain(`security.capability=0x${cap.toString('hex')}`);
  if (isRoot()) expect(a.get('usr/bin/tool')!.uid).toBe(101000);
  // same rootfs → same bytes (sorted, no atime/ctime)
  const again = await packTemplate({ rootfs, outDir: box, name: 'again' });
  expect(again.sha256).toBe(out.sha256);
});

test('template names are validated before any command runs', () => {
  for (const bad of ['../x', 'a/b', '', '-rf', 'a b', 'x..y']) expect(() => validateTemplateName(bad)).toThrow(/not a valid template name/);
  expect(validateTemplateName('debian-12_amd64.v1')).toBe('debian-12_amd64.v1');
});
