// `npm run demo`: the emulator (HTTPS, token auth) + the real Pulumi CLI. Where the machine can run containers (root,
// LXC, busybox-static), the emulator's lxc runtime runs the demo image as a real pod and the demo prints its answer
// through a port forward; elsewhere it says why in one line and runs the repository's quickstart in memory.
import { existsSync, promises as fs } from 'node:fs';
import { execa } from 'execa';
import { checkLxcHost } from '../emulator/runtime';
import { APP_PORT, BUSYBOX, busyboxAppImage, writeAppLayout } from './busybox-image';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stackConfig, startEmulator } from '../emulator';
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

/** Why the real-container demo cannot run here, or undefined when it can. */
async function runtimeUnavailable(): Promise<string | undefined> {
  try {
    await checkLxcHost();
    await fs.access(BUSYBOX);
    for (const tool of ['nft', 'curl']) {
      if ((await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false })).exitCode !== 0) return `${tool} is missing (see scripts/apt-packages.txt)`;
    }
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${BUSYBOX} is missing (apt-get install busybox-static)` : (err as Error).message;
  }
}

export async function runDemo(_argv: string[]): Promise<number> {
  // The quickstart program is the repository's index.ts; the published package does not ship it.
  if (!existsSync(QUICKSTART)) {
    throw new InputError('demo', `runs the quickstart program of a proxmox-pods checkout, and ${QUICKSTART} is not there`, 'clone the repository and run `npm run demo` in it (or `npm run build` first)');
  }
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'proxmox-pods-demo-'));
  try {
    const why = await runtimeUnavailable();
    if (why) {
      process.stdout.write(`real containers are not available here (${why}); running the in-memory demo\n`);
      return await demo(dir);
    }
    return await runtimeDemo(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The main job for real: image → pod in a real LXC container on an emulated node → answer through a port forward. */
async function runtimeDemo(dir: string): Promise<number> {
  step('building an OCI image from busybox-static into a local layout (non-root user, workdir, env, stop signal)');
  const image = await writeAppLayout(path.join(dir, 'layout'), await busyboxAppImage(), 'demo');
  process.stdout.write(`    image       ${image}\n`);
  step('starting the Proxmox VE emulator with the lxc runtime (the node is a network namespace)');
  const emu = await startEmulator({ nodes: 1, httpPort: false, runtime: 'lxc' });
  const nodeNs = emu.hosts!.pve!.netns;
  const client = `${nodeNs}-client`;
  process.stdout.write(`    endpoint    ${emu.url}\n    hosts       ${JSON.stringify(emu.hosts)}\n`);
  let ws: PulumiWorkspace | undefined;
  try {
    ws = await PulumiWorkspace.create({
      program: path.join(REPO_ROOT, 'dist', 'cli', 'demo-program.js'),
      project: 'proxmox-pods-demo',
      stack: 'demo',
      echo: true,
      config: {
        ...stackConfig(emu),
        'proxmox-pods:hosts': JSON.stringify(emu.hosts),
        image,
        imageStore: path.join(dir, 'store'),
      },
    });
    step('pulumi up --yes');
    await ws.mustRun(['up', '--yes']);
    const outputs = await ws.outputs();
    for (const [k, v] of Object.entries(outputs)) process.stdout.write(`    ${k.padEnd(14)} ${JSON.stringify(v)}\n`);
    step('GET http://192.168.100.10:8080/ from a client on the node\'s vmbr0 (the port forward to the pod)');
    // A client namespace plugged into the node's vmbr0, like a machine on the node's LAN.
    await execa('ip', ['netns', 'add', client]);
    await execa('ip', ['link', 'add', 'demo0', 'netns', nodeNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    await execa('ip', ['-n', nodeNs, 'link', 'set', 'demo0', 'master', 'vmbr0', 'up']);
    await execa('ip', ['-n', client, 'addr', 'add', '192.168.100.200/24', 'dev', 'eth0']);
    await execa('ip', ['-n', client, 'link', 'set', 'eth0', 'up']);
    let answer = '';
    for (let i = 0; i < 50 && !answer; i++) {
      const r = await execa('ip', ['netns', 'exec', client, 'curl', '-sf', '-m', '2', 'http://192.168.100.10:8080/'], { reject: false });
      if (r.exitCode === 0) answer = r.stdout;
      else await new Promise((res) => setTimeout(res, 200));
    }
    if (!answer) throw new Error('the pod did not answer through the port forward');
    process.stdout.write(answer.split('\n').map((l) => `    ${l}`).join('\n') + '\n');
    step('pulumi destroy --yes');
    await ws.mustRun(['destroy', '--yes']);
    process.stdout.write(`\n    the pod (port ${APP_PORT}) ran as a real unprivileged LXC container; \`npx proxmox-pods emulator --runtime lxc\` keeps one up\n`);
    return 0;
  } finally {
    await ws?.dispose();
    // The demo made this namespace; it has no processes of its own.
    await execa('ip', ['netns', 'del', client], { reject: false });
    await emu.close();
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
        ...stackConfig(emu),
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
