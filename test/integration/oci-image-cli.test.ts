// `proxmox-pods image ...` as a user runs it: a child process of bin/proxmox-pods.js against a real docker-registry
// on loopback and local OCI layouts. Scripts get the digest / JSON on stdout; failures are one line and exit ≠ 0.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar, writeLayout } from '../../provider/oci/layout/writer';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';

jest.setTimeout(60_000);

const ready = requireTools('image CLI', ['docker-registry']);
const d = ready ? describe : describe.skip;

async function image(text: string) {
  const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', content: `${text}\n` }]);
  const app = await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/run', content: '#!/bin/sh\n', mode: 0o755 }, { name: 'etc/.wh.motd' }]);
  return buildImage({ layers: [{ tar: base }, { tar: app, compression: 'zstd' }], runtime: { Entrypoint: ['/app/run'], Env: ['A=1'], ExposedPorts: { '80/tcp': {} } } });
}

d('proxmox-pods image (child process)', () => {
  let reg: RunningRegistry;
  let dir: string;
  let store: string;
  const cli = (...args: string[]) =>
    execa(process.execPath, [join(REPO_ROOT, 'bin', 'proxmox-pods.js'), 'image', ...args], { reject: false, env: { HOME: dir, XDG_CACHE_HOME: join(dir, 'cache') } });
  let img: Awaited<ReturnType<typeof image>>;

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-image-cli-'));
    store = join(dir, 'store');
    img = await image('hello');
    const client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    try { await pushImage(client, 'cli/app', 'v1', img); } finally { await client.close(); }
  });
  afterAll(async () => {
    await reg?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('pull prints the digest only (no progress when stderr is not a terminal)', async () => {
    const r = await cli('pull', `${reg.host}/cli/app:v1`, '--store', store, '--insecure-registry', reg.host);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(img.root.digest);
    expect(r.stderr).toBe('');
    for (const l of img.layers) await expect(fs.stat(join(store, 'blobs', 'sha256', l.digest.slice(7)))).resolves.toBeDefined();
  });

  test('inspect prints JSON with digest, platform, config and layers', async () => {
    const r = await cli('inspect', `${reg.host}/cli/app:v1`, '--store', store, '--insecure-registry', reg.host);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ digest: img.root.digest, platform: 'linux/amd64', config: { entrypoint: ['/app/run'], env: ['A=1'], exposedPorts: ['80/tcp'] } });
    expect(out.layers.map((l: { digest: string; diffId: string }) => [l.digest, l.diffId])).toEqual(img.layers.map((l) => [l.digest, l.diffId]));
  });

  test('unpack writes the rootfs with whiteouts applied; an existing target is refused', async () => {
    const to = join(dir, 'rootfs');
    const r = await cli('unpack', `${reg.host}/cli/app:v1`, '--to', to, '--store', store, '--insecure-registry', reg.host);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(to);
    expect((await fs.stat(join(to, 'app', 'run'))).mode & 0o777).toBe(0o755);
    await expect(fs.stat(join(to, 'etc', 'motd'))).rejects.toThrow(/ENOENT/);
    const again = await cli('unpack', `${reg.host}/cli/app:v1`, '--to', to, '--store', store, '--insecure-registry', reg.host);
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  test('bad references, unknown registries, corrupt blobs and bad usage: one line, exit ≠ 0', async () => {
    const bad = await cli('pull', 'Bad/Name:tag', '--store', store);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^proxmox-pods image pull: .*not a valid image reference/);

    const down = await cli('pull', '127.0.0.1:1/none/x:1', '--store', store, '--insecure-registry', '127.0.0.1:1');
    expect(down.exitCode).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);

    // A local layout whose layer bytes were altered: the verifier refuses it and names the digest.
    const layout = join(dir, 'layout');
    await writeLayout(layout, [{ image: img, tag: 'v1' }]);
    const victim = img.layers[1]!.digest;
    await fs.writeFile(join(layout, 'blobs', 'sha256', victim.slice(7)), Buffer.concat([img.layers[1]!.bytes.subarray(0, -1), Buffer.from([0])]));
    const corrupt = await cli('pull', `oci-layout:${layout}:v1`, '--store', join(dir, 'store2'));
    expect(corrupt.exitCode).toBe(1);
    expect(corrupt.stderr.trim().split('\n')).toHaveLength(1);
    expect(corrupt.stderr).toContain(victim);

    const usage = await cli('unpack', `${reg.host}/cli/app:v1`);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toMatch(/--to DIR/);
    expect((await cli('frobnicate')).exitCode).toBe(2);
  });

  test('gc keeps what a pulled reference uses and frees the rest', async () => {
    const orphan = join(store, 'blobs', 'sha256', 'ab'.repeat(32));
    await fs.writeFile(orphan, 'nothing references this');
    const old = new Date(Date.now() - 3600_000);
    await fs.utimes(orphan, old, old);
    const r = await cli('gc', '--store', store);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deleted).toBe(1);
    await expect(fs.stat(orphan)).rejects.toThrow(/ENOENT/);
    for (const l of img.layers) await expect(fs.stat(join(store, 'blobs', 'sha256', l.digest.slice(7)))).resolves.toBeDefined();
  });
});
