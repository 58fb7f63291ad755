// examples/promotion through the real Pulumi CLI, two stacks of one project on a local file backend: dev pulls an
// OCI layout by tag and exports the pinned reference; prod takes it through a StackReference. The tag then moves:
// prod stays on the digest dev verified (its preview shows nothing) until dev is updated and prod promoted again.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace, REPO_ROOT } from '../../cli/pulumi-workspace';
import { buildImage, makeTar, writeLayout } from '../../provider/oci/layout/writer';
import { requireTools } from '../oci/helpers/tools';
import { requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(300_000);

async function appImage(version: string) {
  const rootfs = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/app', content: `#!/bin/sh\necho ${version}\n`, mode: 0o755 },
  ]);
  return buildImage({ layers: [{ tar: rootfs }], runtime: { Entrypoint: ['/bin/app'], Env: ['PATH=/bin', `APP_VERSION=${version}`] } });
}

describe('examples/promotion: dev verifies a tag, prod runs what dev verified', () => {
  let emu: RunningEmulator;
  let ws: PulumiWorkspace;
  let dir: string;
  let layout: string;
  let v1: Awaited<ReturnType<typeof appImage>>;
  let v2: Awaited<ReturnType<typeof appImage>>;
  const project = 'e2e-promotion';

  const inStack = (stack: string, args: string[]) => ws.mustRun([...args, '--stack', stack]);
  const outputs = async (stack: string) => JSON.parse((await inStack(stack, ['stack', 'output', '--json', '--show-secrets'])).stdout) as Record<string, any>;
  const setConfig = (stack: string, key: string, value: string) => ws.mustRun(['config', 'set', '--stack', stack, key, '--', value]);
  /** APP_VERSION of the pods of one stack, read from the containers on the emulator. */
  const versions = (vmids: number[]) => emu.state.containers().filter((c) => vmids.includes(c.vmid)).map((c) => /APP_VERSION=(\w+)/.exec(String(c.config.env))?.[1]);

  beforeAll(async () => {
    requirePulumiCli();
    requireTools('promotion e2e', ['tar', 'zstd']);
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-promotion-e2e-'));
    layout = join(dir, 'layout');
    v1 = await appImage('v1');
    v2 = await appImage('v2');
    await writeLayout(layout, [{ image: v1, tag: 'release' }]);
    emu = await startEmulator({ nodes: 2, httpPort: false, taskDurationMs: 10 });
    const connection: Record<string, string | { secret: string }> = {
      ...stackConfig(emu),
      'proxmox-pods:storage': 'local-zfs',
    };
    ws = await PulumiWorkspace.create({
      program: join(REPO_ROOT, 'dist', 'examples', 'promotion', 'index.js'),
      project,
      stack: 'dev',
      config: { ...connection, image: `oci-layout:${layout}:release`, store: join(dir, 'store-dev'), nodes: '["pve1"]', replicas: '1' },
    });
    await ws.mustRun(['stack', 'init', 'prod']);
    for (const [key, value] of Object.entries(connection)) {
      if (typeof value === 'string') await setConfig('prod', key, value);
      else await ws.mustRun(['config', 'set', '--stack', 'prod', '--secret', key], value.secret);
    }
    // prod: its own content store (it pulls by digest itself), two pods on two nodes, bigger pods.
    await setConfig('prod', 'promoteFrom', `organization/${project}/dev`);
    await setConfig('prod', 'store', join(dir, 'store-prod'));
    await setConfig('prod', 'replicas', '2');
    await setConfig('prod', 'nodes', '["pve1","pve2"]');
    await setConfig('prod', 'size', '{"memory":1024}');
  }, 120_000);

  afterAll(async () => {
    for (const stack of ['prod', 'dev']) await ws?.run(['destroy', '--yes', '--stack', stack]).catch(() => undefined);
    await ws?.dispose();
    await emu?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('dev pulls the tag and exports the pinned reference and the digest', async () => {
    await inStack('dev', ['up', '--yes']);
    const out = await outputs('dev');
    expect(out.imageDigest).toBe(v1.root.digest);
    expect(out.imageRef).toBe(`oci-layout:${layout}@${v1.root.digest}`);
    expect(versions(out.podVmids)).toEqual(['v1']);
  });

  test('prod takes dev\'s image through the StackReference, with its own config', async () => {
    await inStack('prod', ['up', '--yes']);
    const out = await outputs('prod');
    expect(out.imageDigest).toBe(v1.root.digest);
    expect(out.imageRef).toBe(`oci-layout:${layout}@${v1.root.digest}`);
    expect(versions(out.podVmids)).toEqual(['v1', 'v1']);
    const cts = emu.state.containers().filter((c) => out.podVmids.includes(c.vmid));
    expect(cts.map((c) => c.node).sort()).toEqual(['pve1', 'pve2']);
    expect(cts.map((c) => c.config.memory)).toEqual([1024, 1024]);
    // prod's image input is the digest, never the tag.
    const imgs = (await inStack('prod', ['stack', 'export']).then((r) => JSON.parse(r.stdout))).deployment.resources.filter((r: any) => String(r.type).endsWith(':OciImage'));
    expect(imgs.map((i: any) => [i.inputs.node, i.inputs.reference])).toEqual([['pve1', out.imageRef], ['pve2', out.imageRef]]);
  });

  test('the tag moves: dev sees it, prod stays on the verified digest', async () => {
    await writeLayout(layout, [{ image: v2, tag: 'release' }]);
    const devPreview = await inStack('dev', ['preview', '--diff']);
    expect(devPreview.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/proxmox-pods:OciImage: \(replace\)/);
    await inStack('prod', ['preview', '--expect-no-changes']);
    await inStack('prod', ['up', '--yes', '--expect-no-changes']);
    expect((await outputs('prod')).imageDigest).toBe(v1.root.digest);
  });

  test('dev updated, then prod promoted again: both on the new digest', async () => {
    await inStack('dev', ['up', '--yes']);
    const dev = await outputs('dev');
    expect(dev.imageDigest).toBe(v2.root.digest);
    expect(versions(dev.podVmids)).toEqual(['v2']);
    // Until prod runs again it still runs v1.
    expect(versions((await outputs('prod')).podVmids)).toEqual(['v1', 'v1']);
    const prodPreview = await inStack('prod', ['preview', '--diff']);
    expect(prodPreview.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/proxmox-pods:OciImage: \(replace\)/);
    await inStack('prod', ['up', '--yes']);
    const prod = await outputs('prod');
    expect(prod.imageDigest).toBe(v2.root.digest);
    expect(versions(prod.podVmids)).toEqual(['v2', 'v2']);
  });
});
