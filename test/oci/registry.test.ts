// Pull from a real docker-registry (distribution 2.8) on loopback, with and without token auth. Images come
// from our writer and from skopeo/umoci as independent producers; skopeo also serves as the reference puller.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ContentStore } from '../../provider/oci/store/store';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, buildIndex, makeTar, writeLayout } from '../../provider/oci/layout/writer';
import { pullImage, resolveDigest } from '../../provider/oci/pull';
import { digestOf } from '../../provider/oci/digest';
import { RegistryAuthError } from '../../provider/oci/errors';
import { startRegistry, type RunningRegistry } from './helpers/registry';
import { requireTools } from './helpers/tools';

const ready = requireTools('oci registry suite', ['docker-registry', 'skopeo', 'umoci', 'openssl']);
const d = ready ? describe : describe.skip;

async function sampleImage(tag: string, compression: 'gzip' | 'zstd' | 'none' = 'gzip') {
  const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: `ID=test-${tag}\n` }]);
  const app = await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o755 }]);
  return buildImage({
    layers: [{ tar: base, compression }, { tar: app, compression }],
    runtime: { Entrypoint: ['/app/run.sh'], Cmd: ['--serve'], Env: ['PATH=/usr/bin', `TAG=${tag}`], WorkingDir: '/app', User: '1000:1000', ExposedPorts: { '8080/tcp': {} } },
  });
}

d('pull from docker-registry (anonymous)', () => {
  let reg: RunningRegistry;
  let dir: string;
  let client: RegistryClient;

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-oci-reg-'));
    client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
  });
  afterAll(async () => {
    await client?.close();
    await reg?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('image pushed by our writer (chunked upload) pulls with verified blobs and config', async () => {
    const image = await sampleImage('one');
    await pushImage(client, 'test/one', 'v1', image, { chunkSize: 100 });
    const store = await ContentStore.open(join(dir, 'store1'));
    const pulled = await pullImage(`${reg.host}/test/one:v1`, { store, insecureRegistries: [reg.host], dockerConfig: false, refName: 'one' });
    expect(pulled.digest).toBe(image.root.digest);
    expect(pulled.manifestDigest).toBe(image.root.digest);
    expect(pulled.resolvedReference).toBe(`${reg.host}/test/one:v1@${image.root.digest}`);
    expect(pulled.config).toMatchObject({ entrypoint: ['/app/run.sh'], cmd: ['--serve'], workdir: '/app', user: '1000:1000', exposedPorts: ['8080/tcp'] });
    expect(pulled.layers.map((l) => [l.digest, l.diffId])).toEqual(image.layers.map((l) => [l.digest, l.diffId]));
    for (const l of image.layers) expect(await fs.readFile(store.blobPath(l.digest))).toEqual(l.bytes);
    expect(pulled.totalSize).toBe(image.config.bytes.length + image.layers.reduce((n, l) => n + l.size, 0));
    // skopeo, as an independent puller, sees the same manifest digest.
    const { stdout } = await execa('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/test/one:v1`]);
    expect(digestOf(Buffer.from(stdout))).toBe(image.root.digest);
  });

  test('multi-arch index with attestations: amd64 by default, arm64 when asked (case 10)', async () => {
    const amd = await sampleImage('amd64', 'zstd');
    const arm = buildImage({ layers: [{ tar: await makeTar([{ name: 'arm', content: 'arm64' }]) }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const index = buildIndex([amd, arm], { attestations: true });
    await pushImage(client, 'test/multi', 'latest', index);
    const store = await ContentStore.open(join(dir, 'store-multi'));
    const a = await pullImage(`${reg.host}/test/multi`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    expect(a.digest).toBe(index.root.digest);
    expect(a.manifestDigest).toBe(amd.root.digest);
    expect(a.layers[0]!.mediaType).toContain('zstd');
    const b = await pullImage(`${reg.host}/test/multi`, { store, insecureRegistries: [reg.host], dockerConfig: false, platform: 'linux/arm64' });
    expect(b.manifestDigest).toBe(arm.root.digest);
    expect(b.platform).toEqual({ os: 'linux', architecture: 'arm64' });
    await expect(pullImage(`${reg.host}/test/multi`, { store, insecureRegistries: [reg.host], dockerConfig: false, platform: 'linux/ppc64le' }))
      .rejects.toThrow(/available: linux\/amd64, linux\/arm64$|available: linux\/amd64, linux\/arm64 /);
  });

  test('Docker schema 2 image pulls', async () => {
    const image = buildImage({ format: 'docker', layers: [{ tar: await makeTar([{ name: 'x', content: 'docker' }]) }] });
    await pushImage(client, 'test/docker', 'v1', image);
    const store = await ContentStore.open(join(dir, 'store-docker'));
    const pulled = await pullImage(`${reg.host}/test/docker:v1`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    expect(pulled.layers[0]!.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
  });

  test('resolveDigest sees a moved tag without fetching layers; digest reference pins', async () => {
    const v1 = await sampleImage('r1');
    const v2 = await sampleImage('r2');
    await pushImage(client, 'test/moving', 'stable', v1);
    expect(await resolveDigest(`${reg.host}/test/moving:stable`, { insecureRegistries: [reg.host], dockerConfig: false })).toBe(v1.root.digest);
    await pushImage(client, 'test/moving', 'stable', v2);
    expect(await resolveDigest(`${reg.host}/test/moving:stable`, { insecureRegistries: [reg.host], dockerConfig: false })).toBe(v2.root.digest);
    const store = await ContentStore.open(join(dir, 'store-pin'));
    const pinned = await pullImage(`${reg.host}/test/moving:stable@${v1.root.digest}`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    expect(pinned.manifestDigest).toBe(v1.root.digest);
    expect(pinned.config.env).toContain('TAG=r1');
  });

  test('https is used unless the registry is marked insecure', async () => {
    const store = await ContentStore.open(join(dir, 'store-tls'));
    await expect(pullImage(`${reg.host}/test/one:v1`, { store, dockerConfig: false, retries: 0 })).rejects.toThrow(/https:\/\/127\.0\.0\.1/);
  });

  test('umoci-built image copied by skopeo pulls, and skopeo pulls our push identically', async () => {
    const layout = join(dir, 'umoci-layout');
    const src = join(dir, 'umoci-src');
    await fs.mkdir(join(src, 'bin'), { recursive: true });
    await fs.writeFile(join(src, 'bin', 'hello'), 'hello from umoci\n');
    await execa('umoci', ['init', '--layout', layout]);
    await execa('umoci', ['new', '--image', `${layout}:u1`]);
    await execa('umoci', ['insert', '--image', `${layout}:u1`, join(src, 'bin'), '/bin']);
    await execa('umoci', ['config', '--image', `${layout}:u1`, '--config.entrypoint', '/bin/hello', '--os', 'linux', '--architecture', 'amd64']);
    await execa('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:u1`, `docker://${reg.host}/test/umoci:u1`]);
    const store = await ContentStore.open(join(dir, 'store-umoci'));
    const pulled = await pullImage(`${reg.host}/test/umoci:u1`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    expect(pulled.config.entrypoint).toEqual(['/bin/hello']);
    expect(pulled.layers).toHaveLength(1);
    // Reference pull by skopeo into a layout: same layer blobs, byte for byte.
    const ref = join(dir, 'skopeo-out');
    await execa('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/test/umoci:u1`, `oci:${ref}:x`]);
    for (const l of pulled.layers) {
      expect(await fs.readFile(join(ref, 'blobs', 'sha256', l.digest.slice(7)))).toEqual(await fs.readFile(store.blobPath(l.digest)));
    }
  });

  test('local sources: our layout, skopeo oci-archive', async () => {
    const image = await sampleImage('local');
    const layout = join(dir, 'our-layout');
    await writeLayout(layout, [{ image, tag: 't1' }]);
    const store = await ContentStore.open(join(dir, 'store-local'));
    const fromLayout = await pullImage(`oci-layout:${layout}:t1`, { store });
    expect(fromLayout.manifestDigest).toBe(image.root.digest);
    const archive = join(dir, 'img.tar');
    await execa('skopeo', ['copy', `oci:${layout}:t1`, `oci-archive:${archive}:t1`]);
    const store2 = await ContentStore.open(join(dir, 'store-archive'));
    const fromArchive = await pullImage(`oci-archive:${archive}:t1`, { store: store2 });
    expect(fromArchive.layers.map((l) => l.diffId)).toEqual(image.layers.map((l) => l.diffId));
    for (const l of fromArchive.layers) expect((await fs.stat(store2.blobPath(l.digest))).size).toBe(l.size);
    await expect(pullImage(`oci-layout:${layout}:nope`, { store })).rejects.toThrow(/no image tagged "nope" \(tags: t1\)/);
  });
});

d('pull from docker-registry with token auth (case 38)', () => {
  let reg: RunningRegistry;
  let dir: string;

  beforeAll(async () => {
    reg = await startRegistry({
      auth: {
        users: { alice: 'wonderland', bob: 'builder' },
        // alice may push and pull everything; bob only pulls test/*; anonymous pulls public/*.
        grant: (user, _type, name, actions) => user === 'alice' ? actions
          : user === 'bob' ? (name.startsWith('test/') ? actions.filter((a) => a === 'pull') : [])
          : name.startsWith('public/') ? actions.filter((a) => a === 'pull') : [],
      },
    });
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-oci-auth-'));
    const pusher = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host], credentials: { username: 'alice', password: 'wonderland' } });
    try {
      await pushImage(pusher, 'test/private', 'v1', await sampleImage('private'));
      await pushImage(pusher, 'public/open', 'v1', await sampleImage('public'));
    } finally { await pusher.close(); }
  });
  afterAll(async () => {
    await reg?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('push scope with a comma reaches the token server as one scope', () => {
    expect(reg.token!.requests.some((r) => r.user === 'alice' && r.scopes.includes('repository:test/private:pull,push'))).toBe(true);
  });

  test('anonymous pull of a public repository gets a token without credentials', async () => {
    const store = await ContentStore.open(join(dir, 'anon'));
    const pulled = await pullImage(`${reg.host}/public/open:v1`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    expect(pulled.layers).toHaveLength(2);
    expect(reg.token!.requests.at(-1)!.user).toBeUndefined();
  });

  test('credentials from a docker config.json (auths base64) and a token cached across requests', async () => {
    const cfg = join(dir, 'config.json');
    await fs.writeFile(cfg, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('bob:builder').toString('base64') } } }));
    const before = reg.token!.requests.length;
    const store = await ContentStore.open(join(dir, 'bob'));
    const pulled = await pullImage(`${reg.host}/test/private:v1`, { store, insecureRegistries: [reg.host], dockerConfig: cfg });
    expect(pulled.config.env).toContain('TAG=private');
    const mine = reg.token!.requests.slice(before);
    expect(mine.every((r) => r.user === 'bob')).toBe(true);
    // Manifest, config and two layers under one scope: one token, reused.
    expect(mine).toHaveLength(1);
  });

  test('insufficient scope and wrong password give clear errors without the secret', async () => {
    const store = await ContentStore.open(join(dir, 'denied'));
    const denied = pullImage(`${reg.host}/test/private:v1`, { store, insecureRegistries: [reg.host], dockerConfig: false });
    await expect(denied).rejects.toThrow(RegistryAuthError);
    await expect(pullImage(`${reg.host}/test/private:v1`, { store, insecureRegistries: [reg.host], dockerConfig: false })).rejects.toThrow(/denied after authenticating anonymously/);
    let err: Error | undefined;
    try {
      await pullImage(`${reg.host}/test/private:v1`, { store, insecureRegistries: [reg.host], credentials: { username: 'bob', password: 's3cret-wrong' } });
    } catch (e) { err = e as Error; }
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect(err!.message).toMatch(/refused the credentials of user bob/);
    expect(err!.message).not.toContain('s3cret-wrong');
  });
});
