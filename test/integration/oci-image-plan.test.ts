// OciImage's pure planning: which input changes replace the image, how a moved tag is detected from check()'s
// resolvedDigest, the template's content-addressed name, and the Pod-ready image object.
import { envRecord, podImageOf, pveArch, templateFileName, templateVolid, ociImageInputsSchema, type OciImageInputs, type OciImageOutputs } from '../../provider/resources/oci-image';
import { imageSchema } from '../../provider/resources/pod/schema';
import { UNKNOWN } from '../../provider/resources/common/unknowns';
import { declaredDiff } from '../../provider/resources/common/definition';
import { ociImageDefinition } from '../../provider/resources/oci-image/definition';

const ociImageDiff = (olds: OciImageOutputs, news: OciImageInputs) => declaredDiff(ociImageDefinition, olds, news);

const D1 = `sha256:${'a1'.repeat(32)}`;
const D2 = `sha256:${'b2'.repeat(32)}`;
const inputs = (over: Record<string, unknown> = {}) => ociImageInputsSchema.parse({ reference: 'registry.lan:5000/app:1', resolvedDigest: D1, ...over });

function outputs(over: Partial<OciImageOutputs> = {}): OciImageOutputs {
  const base = { ...inputs(), node: 'pve', digest: D1, manifestDigest: D1, resolvedReference: `registry.lan:5000/app:1@${D1}`, pinnedReference: `registry.lan:5000/app@${D1}`, entrypoint: ['/app'], cmd: [], env: { A: '1' }, workdir: '', user: '', exposedPorts: [], templateVolid: templateVolid('local', D1), sizes: { compressed: 1, template: 1 } };
  return { ...base, podImage: podImageOf(base), ...over };
}

describe('OciImage diff', () => {
  test('same reference and digest: no change', () => {
    expect(ociImageDiff(outputs(), inputs())).toEqual({ changes: false, replaces: [], changed: [], deleteBeforeReplace: false });
  });
  test('a tag that moved replaces, named by resolvedDigest', () => {
    expect(ociImageDiff(outputs(), inputs({ resolvedDigest: D2 }))).toMatchObject({ changes: true, replaces: ['resolvedDigest'] });
  });
  test('reference, platform, templateStorage and a pinned node replace; an unpinned node does not', () => {
    expect(ociImageDiff(outputs(), inputs({ reference: 'registry.lan:5000/app:2' })).replaces).toEqual(['reference']);
    expect(ociImageDiff(outputs(), inputs({ platform: 'linux/arm64' })).replaces).toEqual(['platform']);
    expect(ociImageDiff(outputs(), inputs({ templateStorage: 'nfs' })).replaces).toEqual(['templateStorage']);
    expect(ociImageDiff(outputs(), inputs({ node: 'pve2' })).replaces).toEqual(['node']);
    expect(ociImageDiff(outputs(), inputs({ node: 'pve' })).changes).toBe(false);
  });
  test('provider-only inputs update state without a replacement; credentials never count (outputs lack them)', () => {
    expect(ociImageDiff(outputs(), inputs({ insecureRegistries: ['registry.lan:5000'] }))).toMatchObject({ changes: true, replaces: [], changed: ['insecureRegistries'] });
    expect(ociImageDiff(outputs(), inputs({ credentials: { username: 'u', password: 'p' } })).changes).toBe(false);
  });
  test('unknown values during preview replace conservatively', () => {
    expect(ociImageDiff(outputs(), { ...inputs(), reference: UNKNOWN, resolvedDigest: undefined }).replaces).toEqual(['reference']);
  });
});

describe('OciImage naming and image defaults', () => {
  test('template names are content-addressed and valid PVE vztmpl names', () => {
    expect(templateFileName(D1)).toBe(`oci-${'a1'.repeat(8)}.tar`);
    expect(templateVolid('local', D2)).toBe(`local:vztmpl/oci-${'b2'.repeat(8)}.tar`);
    expect(() => templateFileName('sha256:../../etc')).toThrow();
  });
  test('env: later entries win; names and values PVE refuses are reported, not passed on', () => {
    expect(envRecord(['PATH=/bin', 'A=1', 'A=2', 'EMPTY=', 'NOEQ', 'bad-name=x', 'CTRL=a\u0001b', 'EQ=a=b'])).toEqual({
      env: { PATH: '/bin', A: '2', EMPTY: '', NOEQ: '', EQ: 'a=b' },
      dropped: ['bad-name', 'CTRL'],
    });
  });
  test('podImage is what the Pod schema accepts, without empty settings', () => {
    const o = outputs({ cmd: ['--x'], workdir: '/srv', user: '' });
    const p = podImageOf(o);
    expect(imageSchema.parse(p)).toEqual(p);
    expect(p).toEqual({ template: o.templateVolid, reference: o.reference, digest: D1, entrypoint: ['/app'], cmd: ['--x'], env: { A: '1' }, workdir: '/srv', arch: 'amd64' });
  });
  test('the platform becomes PVE\'s arch where PVE has one', () => {
    expect(pveArch('linux/amd64')).toBe('amd64');
    expect(pveArch('linux/x86_64')).toBe('amd64');
    expect(pveArch('linux/arm64/v8')).toBe('arm64');
    expect(pveArch('linux/arm/v7')).toBe('armhf');
    expect(pveArch('linux/386')).toBe('i386');
    expect(pveArch('linux/riscv64')).toBe('riscv64');
    expect(pveArch('linux/arm/v6')).toBeUndefined();
    expect(pveArch('linux/s390x')).toBeUndefined();
    expect(podImageOf(outputs({ platform: 'linux/s390x' })).arch).toBeUndefined();
    expect(podImageOf(outputs({ platform: 'linux/arm64' })).arch).toBe('arm64');
  });
  test('inputs schema: defaults, and clear reasons for bad values', () => {
    expect(ociImageInputsSchema.parse({ reference: 'alpine' })).toMatchObject({ platform: 'linux/amd64', templateStorage: 'local' });
    const bad = ociImageInputsSchema.safeParse({ reference: 'alpine', store: 'relative/dir', insecureRegistries: ['http://x'], credentials: { username: '', password: 'p' } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['store', 'insecureRegistries.0', 'credentials.username']));
  });
});
