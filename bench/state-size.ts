// Measures the Pulumi state of N pods (default 50) made through the real CLI against the emulator: bytes per
// resource, and how much of it is the serialized provider (`__provider`, stored in inputs and outputs).
//   node dist/bench/state-size.js [pods] [program.js]
// The second argument runs another build's program (e.g. an older checkout's dist/test/e2e/programs/pods.js) to
// compare serialized providers; the provider implementation is this checkout's either way.
import { startEmulator } from '../emulator';
import { PulumiWorkspace } from '../cli/pulumi-workspace';
import { programPath } from '../test/helpers/pulumi';

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 50);
  const program = process.argv[3] ?? programPath('pods');
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
      'proxmox-pods:endpoint': emu.url,
      'proxmox-pods:tlsFingerprint': emu.fingerprint,
      'proxmox-pods:apiToken': { secret: emu.token },
      pods: JSON.stringify(pods),
    },
  });
  try {
    await ws.mustRun(['up', '--yes', '--parallel', '8']);
    const raw = (await ws.mustRun(['stack', 'export'])).stdout;
    const state = JSON.parse(raw) as { deployment: { resources: Array<Record<string, any>> } };
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
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
