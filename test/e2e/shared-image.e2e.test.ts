// Two stacks of one program on one cluster share an image (item 4 of issue 9): each has its own content store, as on
// two machines. Before owner claims, `pulumi destroy` of dev deleted the template staging still used, and staging's
// next refresh dropped its image and planned to replace its pod. Now the template goes only with the last claim on
// the cluster. Real Pulumi CLI, real registry on loopback, the emulator as PVE.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { RegistryClient } from '../../provider/oci/registry/client';
import { pushImage } from '../../provider/oci/registry/push';
import { buildImage, makeTar } from '../../provider/oci/layout/writer';
import { startRegistry, type RunningRegistry } from '../oci/helpers/registry';
import { requireTools } from '../oci/helpers/tools';
import { programPath, requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(600_000);

describe('two stacks sharing an image through the real pulumi CLI', () => {
  let emu: RunningEmulator;
  let reg: RunningRegistry;
  let dir: string;
  const stacks: Record<string, PulumiWorkspace> = {};
  const volids = () => emu.state.storageContent('pve', 'local').map((v) => String(v.volid));
  const templates = () => volids().filter((v) => /vztmpl\/oci-[0-9a-f]{16}\.tar$/.test(v));
  const claims = () => volids().filter((v) => v.includes('.claim.'));

  beforeAll(async () => {
    requirePulumiCli();
    requireTools('shared image e2e', ['docker-registry', 'tar', 'zstd']);
    dir = await fs.mkdtemp(join(tmpdir(), 'pp-shared-e2e-'));
    reg = await startRegistry();
    const client = new RegistryClient({ host: reg.host, insecureRegistries: [reg.host] });
    const rootfs = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/server', content: '#!/bin/sh\n', mode: 0o755 }]);
    const image = buildImage({ layers: [{ tar: rootfs }], runtime: { Entrypoint: ['/bin/server'] } });
    await pushImage(client, 'shop/web', 'live', image);
    // The same image under a second tag: another reference, so a replacement, with the same template.
    await pushImage(client, 'shop/web', 'alias', image);
    await client.close();
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 20 });
    for (const [stack, ip] of [['dev', '10.3.0.21/24'], ['staging', '10.3.0.22/24']] as const) {
      stacks[stack] = await PulumiWorkspace.create({
        program: programPath('shared-image'),
        project: 'e2e-shared',
        stack,
        config: {
          ...stackConfig(emu),
          registry: reg.host,
          reference: `${reg.host}/shop/web:live`,
          store: join(dir, `store-${stack}`),
          ip,
        },
      });
    }
  });

  afterAll(async () => {
    for (const ws of Object.values(stacks)) await ws.dispose();
    await emu?.close();
    await reg?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('both stacks up: one template, a claim per stack, a pod each', async () => {
    await stacks.dev!.mustRun(['up', '--yes']);
    await stacks.staging!.mustRun(['up', '--yes']);
    expect(templates()).toHaveLength(1);
    expect(claims()).toHaveLength(2);
    expect(emu.state.containers()).toHaveLength(2);
    expect((await stacks.staging!.outputs()).templateVolid).toBe(templates()[0]);
  });

  test('destroying dev keeps the template; staging\'s refresh and preview show no change', async () => {
    const template = templates()[0]!;
    await stacks.dev!.mustRun(['destroy', '--yes']);
    expect(templates()).toEqual([template]);
    expect(claims()).toHaveLength(1);
    expect(emu.state.containers()).toHaveLength(1);
    const refresh = await stacks.staging!.mustRun(['refresh', '--yes', '--expect-no-changes']);
    expect(refresh.stdout).not.toMatch(/deleted|~ \d+ updated/);
    const preview = await stacks.staging!.mustRun(['preview', '--diff', '--expect-no-changes']);
    expect(preview.stdout).not.toMatch(/to replace|to create|to update/);
    expect(templates()).toEqual([template]);
  });

  test('staging\'s image replaced by the same image under another tag: the replacement keeps the template they share', async () => {
    // Pulumi makes the replacement, then deletes the old image; staging is the template's only owner now, so the old
    // image's delete must leave the replacement's claim (before claims per image, it deleted the template).
    const template = templates()[0]!;
    await stacks.staging!.setConfig('reference', `${reg.host}/shop/web:alias`);
    const up = await stacks.staging!.mustRun(['up', '--yes']);
    expect(up.stdout).toMatch(/OciImage app replaced/);
    expect(templates()).toEqual([template]);
    expect(claims()).toHaveLength(1);
    await stacks.staging!.mustRun(['refresh', '--yes', '--expect-no-changes']);
    await stacks.staging!.mustRun(['preview', '--expect-no-changes']);
  });

  test('destroying staging, the last owner, removes the template and every claim', async () => {
    await stacks.staging!.mustRun(['destroy', '--yes']);
    expect(templates()).toEqual([]);
    expect(claims()).toEqual([]);
    expect(emu.state.containers()).toEqual([]);
  });
});
