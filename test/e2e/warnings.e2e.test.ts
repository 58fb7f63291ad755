// The warning channel through the real Pulumi CLI: a PVE call the provider had to retry (the emulator fails it once)
// shows as a warning in `pulumi up` and `pulumi preview --refresh` output, named after the resource, and the run
// still succeeds.
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { programPath, requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(300_000);

const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

describe('warnings through the real pulumi CLI', () => {
  let emu: RunningEmulator;
  let ws: PulumiWorkspace;

  beforeAll(async () => {
    requirePulumiCli();
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 20 });
    ws = await PulumiWorkspace.create({
      program: programPath('pods'),
      project: 'e2e-warnings',
      config: {
        ...stackConfig(emu),
        'proxmox-pods:storage': 'local-zfs',
        pods: JSON.stringify({ web: { image: TEMPLATE, memory: 256, network: { ip: 'dhcp' } } }),
      },
    });
  });

  afterAll(async () => {
    await ws?.dispose();
    await emu?.close();
  });

  test('a retried PVE call is a warning in `up` and `preview` output', async () => {
    // The first GET the provider makes answers 503 once: retried (GETs are idempotent), so the run succeeds.
    emu.faults.add({ method: 'GET', path: /./, times: 1, status: 503, message: 'Service Unavailable' });
    const up = await ws.mustRun(['up', '--yes']);
    expect(up.stdout).toMatch(/\+ 2 created/);
    const upText = `${up.stdout}\n${up.stderr}`;
    // A structured warning: listed under Diagnostics and counted (stderr text would be a plain message).
    expect(upText).toMatch(/Diagnostics:[\s\S]*warning: Pod web: retrying GET \/\S+ \(attempt 2\) in \d+ ms: .*Service Unavailable/);
    expect(upText).toMatch(/\d+ warnings?/);
    expect(upText).not.toContain(emu.token.split('=').pop()!);

    emu.faults.add({ method: 'GET', path: /./, times: 1, status: 503, message: 'Service Unavailable' });
    const preview = await ws.mustRun(['preview', '--refresh']);
    expect(`${preview.stdout}\n${preview.stderr}`).toMatch(/warning: Pod web: retrying GET \/\S+ \(attempt 2\)/);

    await ws.mustRun(['destroy', '--yes']);
    expect(emu.state.containers()).toEqual([]);
  });
});
