// `npm run demo`: the emulator (HTTPS, token auth) + the real Pulumi CLI running the repository's quickstart program.
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startEmulator } from '../emulator';
import { buildImage, makeTar, writeLayout } from '../provider/oci/layout/writer';
import { InputError } from '../provider/errors';
import { PulumiWorkspace, REPO_ROOT } from './pulumi-workspace';

const QUICKSTART = path.join(REPO_ROOT, 'dist', 'index.js');

const step = (s: string) => process.stdout.write(`\n\x1b[1m==> ${s}\x1b[0m\n`);

/** A small OCI image in a local layout: the demo needs no registry and no network. */
async function demoImage(dir: string): Promise<string> {
  const rootfs = await makeTar([
    { name: 'app/', type: 'directory' },
    { name: 'app/server', content: '#!/bin/sh\nexec httpd -f -p "${PORT:-8080}" -h /app/www\n', mode: 0o755 },
    { name: 'app/www/', type: 'directory' },
    { name: 'app/www/index.html', content: '<h1>hello from proxmox-pods</h1>\n' },
  ]);
  const image = buildImage({ layers: [{ tar: rootfs }], runtime: { Entrypoint: ['/app/server'], Env: ['PATH=/usr/bin:/bin', 'GREETING=hello'], WorkingDir: '/app' } });
  const layout = path.join(dir, 'layout');
  await writeLayout(layout, [{ image, tag: 'demo' }]);
  return `oci-layout:${layout}:demo`;
}

export async function runDemo(_argv: string[]): Promise<number> {
  // The quickstart program is the repository's index.ts; the published package does not ship it.
  if (!existsSync(QUICKSTART)) {
    throw new InputError('demo', `runs the quickstart program of a proxmox-pods checkout, and ${QUICKSTART} is not there`, 'clone the repository and run `npm run demo` in it (or `npm run build` first)');
  }
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'proxmox-pods-demo-'));
  try {
    return await demo(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function demo(dir: string): Promise<number> {
  step('building a small OCI image into a local layout (no registry, no network)');
  const image = await demoImage(dir);
  process.stdout.write(`    image       ${image}\n`);
  step('starting the Proxmox VE emulator (HTTPS, API token auth)');
  const emu = await startEmulator({ nodes: 1, httpPort: false });
  process.stdout.write(`    endpoint    ${emu.url}\n    fingerprint ${emu.fingerprint}\n    nodes       ${emu.nodes.join(', ')}\n`);
  let ws: PulumiWorkspace | undefined;
  try {
    step('creating a stack in a temporary local backend');
    ws = await PulumiWorkspace.create({
      program: QUICKSTART,
      project: 'proxmox-pods-quickstart',
      stack: 'demo',
      echo: true,
      config: {
        'proxmox-pods:endpoint': emu.url,
        'proxmox-pods:tlsFingerprint': emu.fingerprint,
        'proxmox-pods:apiToken': { secret: emu.token },
        'proxmox-pods:storage': 'local-zfs',
        image,
        imageStore: path.join(dir, 'store'),
      },
    });
    step('pulumi up --yes');
    await ws.mustRun(['up', '--yes']);
    step('stack outputs');
    const outputs = await ws.outputs();
    for (const [k, v] of Object.entries(outputs)) process.stdout.write(`    ${k.padEnd(14)} ${JSON.stringify(v)}\n`);
    process.stdout.write(`    containers on the emulator: ${emu.state.containers().map((c) => `${c.vmid}@${c.node}(${c.status})`).join(', ')}\n`);
    step('pulumi destroy --yes (the emulator is in memory; leave nothing behind)');
    await ws.mustRun(['destroy', '--yes']);
    step('next steps');
    process.stdout.write(
      [
        '    source scripts/env.sh                  # this checkout\'s node, pulumi and proxmox-pods on PATH',
        '    proxmox-pods emulator --port 8006      # an emulator that stays up (second terminal); paste its export line',
        '    mkdir -p .pulumi-state && pulumi login file://$PWD/.pulumi-state',
        '    pulumi stack init dev',
        '    pulumi config set proxmox-pods:storage local-zfs',
        '    npm run build && pulumi up',
        '    # edit index.ts, then:               npm run build && pulumi preview --diff',
        '    pulumi refresh        # see drift made behind Pulumi\'s back',
        '    pulumi destroy',
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await ws?.dispose();
    await emu.close();
  }
}
