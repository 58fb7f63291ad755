// Measures the Pulumi state of N pods (default 50) made through the real CLI against the emulator: bytes per
// resource, and how much of it is the serialized provider (`__provider`, stored in inputs and outputs).
//   node dist/bench/state-size.js [pods] [program.js | installed]
// A program path runs another build's program (e.g. an older checkout's dist/test/e2e/programs/pods.js) to compare
// serialized providers; `installed` runs a user's program against a copy of the package placed under
// node_modules, as `npm install proxmox-pods` would (a linked checkout is not under node_modules, which changes how
// Pulumi serializes the provider: sdk/provider.ts). The provider implementation is this checkout's either way.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackConfig, startEmulator } from '../emulator';
import { PulumiWorkspace, REPO_ROOT, type ExportedResource } from '../cli/pulumi-workspace';
import { programPath } from '../test/helpers/pulumi';

/**
 * A user's program, as the README's Install section has it: pods from stack config (the same as
 * test/e2e/programs/pods.ts), `require('proxmox-pods')` resolved through the package's own `exports`.
 */
const USER_PROGRAM = `const pulumi = require('@pulumi/pulumi');
const { Pod } = require('proxmox-pods');
const specs = JSON.parse(new pulumi.Config().require('pods'));
const out = {};
for (const [name, args] of Object.entries(specs)) {
  const pod = new Pod(name, args);
  out[name + 'Vmid'] = pod.vmid;
  out[name + 'Ip'] = pod.ip;
  out[name + 'Status'] = pod.status;
}
exports.pods = out;
`;

/** A project directory whose node_modules holds a copy of the package (what it ships: sdk, provider) and links to the rest. */
function installedProgram(): { program: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'pp-installed-'));
  const modules = join(root, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
    if (entry !== 'proxmox-pods' && !entry.startsWith('.')) symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(modules, entry));
  }
  const pkg = join(modules, 'proxmox-pods');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(pkg, 'package.json'));
  for (const part of ['sdk', 'provider']) cpSync(join(REPO_ROOT, 'dist', part), join(pkg, 'dist', part), { recursive: true });
  const program = join(root, 'index.js');
  writeFileSync(program, USER_PROGRAM);
  return { program, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 50);
  const installed = process.argv[3] === 'installed' ? installedProgram() : undefined;
  const program = installed?.program ?? process.argv[3] ?? programPath('pods');
  const emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 1 });
  const pods = Object.fromEntries(Array.from({ length: count }, (_, i) => [`pod-${i}`, {
    image: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
    rootfs: { storage: 'local-zfs', sizeGiB: 2 },
    network: { ip: `10.7.${Math.floor(i / 200)}.${(i % 200) + 10}/16`, gateway: '10.7.255.254' },
    env: { ROLE: 'bench' },
  }]));
  const ws = await PulumiWorkspace.create({
    program,
    project: 'bench-state-size',
    config: {
      ...stackConfig(emu),
      pods: JSON.stringify(pods),
    },
  });
  try {
    await ws.mustRun(['up', '--yes', '--parallel', '8']);
    const raw = (await ws.mustRun(['stack', 'export'])).stdout;
    const state = JSON.parse(raw) as { deployment: { resources: ExportedResource[] } };
    const podsState = state.deployment.resources.filter((r) => String(r.type).endsWith(':Pod'));
    const perPod = podsState.map((r) => JSON.stringify(r).length);
    const provider = podsState.map((r) => String(r.inputs?.__provider ?? '').length + String(r.outputs?.__provider ?? '').length);
    const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
    console.log(JSON.stringify({
      program,
      pods: podsState.length,
      stateBytes: raw.length,
      bytesPerPod: avg(perPod),
      providerCharsPerPod: avg(provider),
      providerCharsPerCopy: avg(provider) / 2,
      bytesPerPodWithoutProvider: avg(perPod) - avg(provider),
    }, null, 2));
    await ws.mustRun(['destroy', '--yes', '--parallel', '8']);
  } finally {
    await ws.dispose();
    await emu.close();
    installed?.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
