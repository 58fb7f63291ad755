// OciImage against real parts: Debian's docker-registry on loopback serves images our writer builds, the emulator
// plays PVE (upload API with checksum). create → template uploaded with its sha256 → a second image of the same
// digest skips the upload → the tag moves → check() resolves the new digest and diff() replaces → delete.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { setStackConfig } from '../../provider/resources/common/connection';
import { ContentStore } from '../../provider/oci/store/store';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar } from '../../provider/oci/layout/writer';
import { imageSchema } from '../../provider/resources/pod/schema';
import { ociImageModule, createOciImage, deleteOciImage, readOciImage, updateOciImage, templateFileName, type OciImageInputs, type OciImageOutputs } from '../../provider/resources/oci-image';
import { claimFileName } from '../../provider/resources/oci-image/claims';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';

jest.setTimeout(120_000);

const ready = requireTools('OciImage integration', ['docker-registry', 'tar', 'zstd']);
const d = ready ? describe : describe.skip;

async function appImage(version: string) {
  const base = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'ID=pods-test\n' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/sh', content: '#!fake shell\n', mode: 0o755 },
  ]);
  const app = await makeTar([
    { name: 'srv/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'srv/version', content: `${version}\n`, uid: 1000, gid: 1000 },
    { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
  ]);
  return buildImage({
    layers: [{ tar: base, compression: 'gzip' }, { tar: app, compression: 'zstd' }],
    runtime: {
      Entrypoint: ['/bin/sh', '-c'], Cmd: ['exec /srv/run'], Env: ['PATH=/usr/bin:/bin', `VERSION=${version}`, 'bad.name=x'],
      WorkingDir: '/srv', User: '1000:1000', ExposedPorts: { '8080/tcp': {} },
    },
  });
}

d('OciImage against docker-registry and the emulator', () => {
  let reg: RunningRegistry;
  let emu: RunningEmulator;
  let pve: PveClient;
  let client: RegistryClient;
  let dir: string;
  let storeDir: string;
  const logs: string[] = [];
  const ctx = () => ({ pve, log: (m: string) => logs.push(m) });
  const ref = () => `${reg.host}/team/app:stable`;

  async function checked(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<OciImageInputs> {
    const r = await ociImageModule.check(olds, { insecureRegistries: [reg.host], store: storeDir, ...news });
    expect(r.failures).toBeUndefined();
    return r.inputs!;
  }

  beforeAll(async () => {
    reg = await startRegistry();
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }));
    client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-ociimage-'));
    storeDir = join(dir, 'store');
    setStackConfig({});
  });
  afterAll(async () => {
    await client?.close();
    await pve?.close();
    await emu?.close();
    await reg?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  let first: { id: string; outs: OciImageOutputs };
  let second: { id: string; outs: OciImageOutputs };
  let v1: Awaited<ReturnType<typeof appImage>>;

  test('create pulls, packs and uploads a template named by digest, with its checksum', async () => {
    v1 = await appImage('1');
    await pushImage(client, 'team/app', 'stable', v1);
    const inputs = await checked({}, { reference: ref() });
    expect(inputs.resolvedDigest).toBe(v1.root.digest);
    expect(inputs.platform).toBe('linux/amd64');

    first = await createOciImage(inputs, ctx());
    const volid = `local:vztmpl/oci-${v1.root.digest.slice(7, 23)}.tar`;
    expect(first.outs).toMatchObject({
      digest: v1.root.digest, manifestDigest: v1.root.digest, node: 'pve', templateVolid: volid,
      resolvedReference: `${ref()}@${v1.root.digest}`,
      entrypoint: ['/bin/sh', '-c'], cmd: ['exec /srv/run'], env: { PATH: '/usr/bin:/bin', VERSION: '1' },
      workdir: '/srv', user: '1000:1000', exposedPorts: ['8080/tcp'],
    });
    expect(logs.join('\n')).toMatch(/left out: bad\.name/);
    expect(JSON.stringify(first.outs)).not.toContain('credentials');
    // The Pod accepts the podImage as it is.
    expect(imageSchema.parse(first.outs.podImage)).toEqual(first.outs.podImage);
    expect(first.outs.podImage).toMatchObject({ template: volid, digest: v1.root.digest, env: { VERSION: '1' } });

    // The bytes on the storage are an OCI archive (PVE 9.1's OCI template) of exactly the verified blobs: the
    // registry's manifest, config and layers byte for byte, and an index.json naming that manifest.
    const bytes = emu.state.volumeData('pve', volid)!;
    expect(bytes).toBeDefined();
    expect(first.outs.sizes.template).toBe(bytes.length);
    expect(first.outs.sizes.compressed).toBe(v1.config.bytes.length + v1.layers.reduce((n, l) => n + l.size, 0));
    const file = join(dir, 'tpl.tar');
    await fs.writeFile(file, bytes);
    const { stdout } = await execa('tar', ['-tf', file]);
    const hex = (d: string) => `blobs/sha256/${d.slice(7)}`;
    expect(stdout.split('\n').sort()).toEqual(['blobs/', 'blobs/sha256/', hex(v1.root.digest), hex(v1.config.digest), ...v1.layers.map((l) => hex(l.digest)), 'index.json', 'oci-layout'].sort());
    const { stdout: manifest } = await execa('tar', ['-xOf', file, hex(v1.root.digest)], { encoding: 'buffer' });
    expect(Buffer.from(manifest).equals(v1.root.bytes)).toBe(true);
    const { stdout: index } = await execa('tar', ['-xOf', file, 'index.json']);
    expect(JSON.parse(index).manifests).toEqual([{ mediaType: v1.root.mediaType, digest: v1.root.digest, size: v1.root.bytes.length }]);
    // No staging tree is left in the store.
    expect(await fs.readdir(join(storeDir, 'tmp'))).toEqual([]);
    expect((await new ContentStore(storeDir).getRef(first.id))?.manifestDigest).toBe(v1.root.digest);
  });

  test('a checksum the storage does not confirm fails the create and leaves no ref', async () => {
    emu.faults.add({ method: 'POST', path: /\/storage\/local\/upload$/, taskError: "checksum mismatch: got 'x' != expect 'y'" });
    const other = await appImage('other');
    await pushImage(client, 'team/other', 'v1', other);
    const err = await createOciImage(await checked({}, { reference: `${reg.host}/team/other:v1` }), ctx()).catch((e) => e);
    emu.faults.clear();
    expect(String(err.message)).toMatch(/checksum mismatch/);
    const refs = await new ContentStore(storeDir).listRefs();
    expect(refs.map((r) => r.manifestDigest)).not.toContain(other.root.digest);
    expect(emu.state.storageContent('pve', 'local').map((v) => v.volid)).not.toContain(`local:vztmpl/${templateFileName(other.root.digest)}`);
  });

  test('a create that fails after claiming takes its claim back and leaves nothing on the storage', async () => {
    const other = await appImage('claimed');
    await pushImage(client, 'team/claimed', 'v1', other);
    // The claim is uploaded first and let through (a rule that only delays it); the template's upload then fails.
    emu.faults.add({ method: 'POST', path: /\/storage\/local\/upload$/, latencyMs: 1 });
    emu.faults.add({ method: 'POST', path: /\/storage\/local\/upload$/, taskError: "checksum mismatch: got 'x' != expect 'y'" });
    const err = await createOciImage(await checked({}, { reference: `${reg.host}/team/claimed:v1`, owner: { project: 'shop', stack: 'dev', resource: 'claimed' } }), ctx()).catch((e) => e);
    emu.faults.clear();
    expect(String(err.message)).toMatch(/checksum mismatch/);
    const base = templateFileName(other.root.digest).replace(/\.tar\.zst$/, '');
    expect(emu.state.storageContent('pve', 'local').map((v) => String(v.volid)).filter((v) => v.includes(base))).toEqual([]);
  });

  test('a second image of the same digest does not upload again', async () => {
    // Any upload now fails: the create can only succeed by skipping it.
    emu.faults.add({ method: 'POST', path: /\/storage\/local\/upload$/, status: 500, message: 'upload must be skipped' });
    try {
      second = await createOciImage(await checked({}, { reference: ref() }), ctx());
    } finally {
      emu.faults.clear();
    }
    expect(second.id).not.toBe(first.id);
    expect(second.outs.templateVolid).toBe(first.outs.templateVolid);
    expect(second.outs.sizes.template).toBe(first.outs.sizes.template);
    expect(logs.join('\n')).toMatch(/upload skipped/);
  });

  test('no change while the tag stays; a moved tag resolves to the new digest and diff replaces', async () => {
    const same = await checked(first.outs as unknown as Record<string, unknown>, { reference: ref() });
    expect(ociImageModule.diff(first.id, first.outs, same)).toMatchObject({ changes: false, replaces: [] });

    const v2 = await appImage('2');
    await pushImage(client, 'team/app', 'stable', v2);
    const moved = await checked(first.outs as unknown as Record<string, unknown>, { reference: ref() });
    expect(moved.resolvedDigest).toBe(v2.root.digest);
    const diff = ociImageModule.diff(first.id, first.outs, moved);
    expect(diff).toMatchObject({ changes: true, replaces: ['resolvedDigest'], deleteBeforeReplace: false });
    // Only the manifest was fetched: the layer v2 added is not in the store, nor its config.
    const fresh = v2.layers.filter((l) => !v1.layers.some((o) => o.digest === l.digest));
    expect(fresh.length).toBeGreaterThan(0);
    for (const l of fresh) expect(await new ContentStore(storeDir).has(l.digest)).toBe(false);
    expect(await new ContentStore(storeDir).has(v2.config.digest)).toBe(false);

    const pinned = await checked(first.outs as unknown as Record<string, unknown>, { reference: `${reg.host}/team/app@${v1.root.digest}` });
    expect(pinned.resolvedDigest).toBe(v1.root.digest);
    expect(ociImageModule.diff(first.id, first.outs, pinned).replaces).toEqual(['reference']);
  });

  test('bad references and unreachable registries fail check with the field named', async () => {
    const bad = await ociImageModule.check({}, { reference: 'UPPER/Case:tag' });
    expect(bad.failures?.[0]?.property).toBe('reference');
    const down = await ociImageModule.check({}, { reference: '127.0.0.1:1/x/y:z', insecureRegistries: ['127.0.0.1:1'] });
    expect(down.failures?.[0]).toMatchObject({ property: 'reference', reason: expect.stringMatching(/cannot resolve 127\.0\.0\.1:1\/x\/y:z/) });
    const plat = await ociImageModule.check({}, { reference: ref(), platform: 'amd64' });
    expect(plat.failures?.[0]?.property).toBe('platform');
  });

  test('delete keeps a template another image uses, removes it with the last one, and is idempotent', async () => {
    const volid = first.outs.templateVolid;
    const present = () => emu.state.storageContent('pve', 'local').some((v) => v.volid === volid);
    await deleteOciImage(first.id, first.outs, ctx());
    expect(present()).toBe(true);
    expect((await readOciImage(second.id, second.outs, ctx()))!.id).toBe(second.id);
    await deleteOciImage(second.id, second.outs, ctx());
    expect(present()).toBe(false);
    await expect(deleteOciImage(second.id, second.outs, ctx())).resolves.toBeUndefined();
    // Drift: the template is gone, so refresh reports the image gone.
    expect(await readOciImage(second.id, second.outs, ctx())).toBeUndefined();
    // Nothing references the image's blobs now: gc removed them.
    for (const l of v1.layers) expect(await new ContentStore(storeDir).has(l.digest)).toBe(false);
  });

  test('two stacks with their own content stores share a template: it goes only with the last claim on the cluster', async () => {
    const dev = { project: 'shop', stack: 'dev', resource: 'app' };
    const staging = { project: 'shop', stack: 'staging', resource: 'app' };
    const storeOf = (s: string) => join(dir, `store-${s}`);
    const a = await createOciImage(await checked({}, { reference: ref(), store: storeOf('dev'), owner: dev }), ctx());
    const b = await createOciImage(await checked({}, { reference: ref(), store: storeOf('staging'), owner: staging }), ctx());
    const volid = a.outs.templateVolid;
    expect(b.outs.templateVolid).toBe(volid);
    const onStorage = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid));
    const base = volid.replace(/^local:vztmpl\//, '').replace(/\.tar\.zst$/, '');
    const claims = () => onStorage().filter((v) => v.startsWith(`local:vztmpl/${base}.claim.`)).sort();
    expect(claims()).toEqual([`local:vztmpl/${claimFileName(`${base}.tar.zst`, { ...dev, kind: 'OciImage', name: 'app' }, a.outs.claimInstance)}`, `local:vztmpl/${claimFileName(`${base}.tar.zst`, { ...staging, kind: 'OciImage', name: 'app' }, b.outs.claimInstance)}`].sort());
    // A claim names its owner inside, for whoever looks at the storage.
    const claimBytes = emu.state.volumeData('pve', claims()[0]!)!;
    await fs.writeFile(join(dir, 'claim.tar.zst'), claimBytes);
    expect(String((await execa('tar', ['--zstd', '-xOf', join(dir, 'claim.tar.zst')])).stdout)).toMatch(/"owner":"shop\/(dev|staging)\/OciImage\/app"/);

    // dev's store knows nothing of staging's image: before, destroy on dev deleted the template staging uses.
    await deleteOciImage(a.id, a.outs, ctx());
    expect(onStorage()).toContain(volid);
    expect(claims()).toHaveLength(1);
    expect(logs.join('\n')).toMatch(/is kept: 1 other image still claims it/);
    expect((await readOciImage(b.id, b.outs, ctx()))!.id).toBe(b.id);

    // State from before owner records (no owner): another owner's claim still keeps the template.
    const legacy = await createOciImage(await checked({}, { reference: ref(), store: storeOf('legacy') }), ctx());
    await deleteOciImage(legacy.id, legacy.outs, ctx());
    expect(onStorage()).toContain(volid);

    // The last owner goes: template and claims go.
    await deleteOciImage(b.id, b.outs, ctx());
    expect(onStorage()).not.toContain(volid);
    expect(claims()).toEqual([]);
    await expect(deleteOciImage(b.id, b.outs, ctx())).resolves.toBeUndefined();
  });

  test('the first update with owner records claims the template, and a renamed stack moves the claim', async () => {
    const legacy = await createOciImage(await checked({}, { reference: ref(), store: join(dir, 'store-upgrade') }), ctx());
    const base = legacy.outs.templateVolid.replace(/^local:vztmpl\//, '').replace(/\.tar\.zst$/, '');
    const claims = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid)).filter((v) => v.startsWith(`local:vztmpl/${base}.claim.`));
    expect(claims()).toEqual([]);
    const news = await checked(legacy.outs as unknown as Record<string, unknown>, { reference: ref(), store: join(dir, 'store-upgrade'), owner: { project: 'shop', stack: 'dev', resource: 'app' } });
    expect(ociImageModule.diff(legacy.id, legacy.outs, news)).toMatchObject({ changes: true, replaces: [] });
    const { outs } = await updateOciImage(legacy.outs, news, ctx());
    expect(claims()).toHaveLength(1);
    const renamed = await checked(outs as unknown as Record<string, unknown>, { reference: ref(), store: join(dir, 'store-upgrade'), owner: { project: 'shop', stack: 'qa', resource: 'app' } });
    const moved = await updateOciImage(outs, renamed, ctx());
    expect(moved.outs.claimInstance).toBe(outs.claimInstance);
    expect(claims()).toEqual([`local:vztmpl/${claimFileName(`${base}.tar.zst`, { project: 'shop', stack: 'qa', kind: 'OciImage', name: 'app' }, outs.claimInstance)}`]);
    await deleteOciImage(legacy.id, moved.outs, ctx());
    expect(claims()).toEqual([]);
    expect(emu.state.storageContent('pve', 'local').map((v) => v.volid)).not.toContain(legacy.outs.templateVolid);
  });

  test('a replacement that shares the template (same owner, same digest) keeps it and its claim when the old image goes', async () => {
    // Pulumi replaces create-before-delete: the new image is made, then the old one deleted. Both belong to one
    // resource, so one owner; the old one's delete must not take the claim the new one relies on.
    const owner = { project: 'shop', stack: 'dev', resource: 'replaced' };
    const store = join(dir, 'store-replaced');
    const old = await createOciImage(await checked({}, { reference: ref(), store, owner }), ctx());
    const news = await checked(old.outs as unknown as Record<string, unknown>, { reference: ref(), store, owner, platform: 'linux/arm64' });
    expect(ociImageModule.diff(old.id, old.outs, news).replaces).toEqual(['platform']);
    // (The image has one platform, so the replacement here is made with the old one: what matters is the shared template.)
    const made = await createOciImage({ ...news, platform: old.outs.platform }, ctx());
    expect(made.outs.templateVolid).toBe(old.outs.templateVolid);
    await deleteOciImage(old.id, old.outs, ctx());
    const onStorage = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid));
    expect(onStorage()).toContain(made.outs.templateVolid);
    const read = (await readOciImage(made.id, made.outs, ctx()))!;
    expect(read.props.claimed).toBeUndefined();
    await deleteOciImage(made.id, made.outs, ctx());
    expect(onStorage()).not.toContain(made.outs.templateVolid);
    expect(onStorage().filter((v) => v.includes('.claim.'))).toEqual([]);
  });

  test('a claim deleted through the API shows on refresh and the next update records it again', async () => {
    const owner = { project: 'shop', stack: 'dev', resource: 'reclaimed' };
    const made = await createOciImage(await checked({}, { reference: ref(), store: join(dir, 'store-reclaim'), owner }), ctx());
    const claim = `local:vztmpl/${claimFileName(made.outs.templateVolid.replace(/^local:vztmpl\//, ''), { project: 'shop', stack: 'dev', kind: 'OciImage', name: 'reclaimed' }, made.outs.claimInstance)}`;
    const onStorage = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid));
    expect(onStorage()).toContain(claim);
    // Untouched: read reports it claimed, and the diff has nothing to do.
    const same = (await readOciImage(made.id, made.outs, ctx()))!;
    expect(same.props.claimed).toBeUndefined();
    const inputs = await checked(made.outs as unknown as Record<string, unknown>, { reference: ref(), store: join(dir, 'store-reclaim'), owner });
    expect(ociImageModule.diff(made.id, same.props, inputs)).toMatchObject({ changes: false });
    // The claim goes behind our back: refresh reads it, the diff plans an update (no replacement), update claims again.
    await pve.deleteContent('pve', 'local', claim);
    const drifted = (await readOciImage(made.id, made.outs, ctx()))!;
    expect(drifted.props.claimed).toBe(false);
    expect(ociImageModule.diff(made.id, drifted.props, inputs)).toMatchObject({ changes: true, replaces: [] });
    const { outs } = await updateOciImage(drifted.props, inputs, ctx());
    expect(onStorage()).toContain(claim);
    expect(outs.claimed).toBeUndefined();
    await deleteOciImage(made.id, outs, ctx());
    expect(onStorage()).not.toContain(claim);
  });
});
