// The process tree of a killed CLI (item 5 of issue 9). A `pulumi up` of 20 pods is killed with SIGKILL mid-run (a
// closed laptop, a cancelled CI job): nothing stops the language host, the program it runs and the dynamic-provider
// host, and before this fix they went on creating containers no checkpoint would record. Now they watch their parent
// (scripts/langhost/exit-with-parent.js, provider/engine-liveness.ts) and are gone within a few seconds, and no
// container is created after that. Real Pulumi CLI, the emulator as PVE with slow tasks so the kill lands mid-run.
import { readdirSync, readFileSync } from 'node:fs';
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { programPath, requirePulumiCli, recoverAfterKill } from '../helpers/pulumi';

jest.setTimeout(300_000);

const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

/** Live (not zombie) processes whose environment carries `marker`: everything one workspace's CLI started. */
function processesWith(marker: string): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (!environ.includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      out.push({ pid: Number(entry), cmd: readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim() });
    } catch {
      // The process ended while we looked: it is not there, which is what we count.
    }
  }
  return out;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe('a pulumi up killed with SIGKILL', () => {
  let emu: RunningEmulator;
  let ws: PulumiWorkspace;

  beforeAll(async () => {
    requirePulumiCli();
    // Slow tasks: 20 creates take well over the few seconds before the kill.
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 1500 });
    const pods = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, { image: TEMPLATE, memory: 64, network: { ip: 'dhcp' }, running: false }]));
    ws = await PulumiWorkspace.create({
      program: programPath('pods'),
      project: 'e2e-kill',
      config: {
        ...stackConfig(emu),
        pods: JSON.stringify(pods),
      },
    });
  });

  afterAll(async () => {
    // Whatever the outcome, leave no process of this run behind.
    for (const p of processesWith(`PULUMI_BACKEND_URL=${ws?.backendUrl}`)) process.kill(p.pid, 'SIGKILL');
    await ws?.dispose();
    await emu?.close();
  });

  test('leaves no language host or provider process behind, and no container is created after', async () => {
    const marker = `PULUMI_BACKEND_URL=${ws.backendUrl}`;
    const cli = ws.spawn(['up', '--yes', '--parallel', '4']);
    // Mid-run: the program and the provider are up and creating.
    expect(await waitFor(() => emu.state.containers().length >= 2, 120_000)).toBe(true);
    const before = processesWith(marker);
    expect(before.some((p) => /pulumi-language-nodejs/.test(p.cmd))).toBe(true);
    expect(before.some((p) => /dynamic-provider/.test(p.cmd))).toBe(true);
    process.kill(cli.pid!, 'SIGKILL');
    await cli;
    const killedAt = Date.now();
    const gone = await waitFor(() => processesWith(marker).length === 0, 5_000);
    expect({ gone, left: processesWith(marker), afterMs: Date.now() - killedAt }).toMatchObject({ gone: true, left: [] });
    console.log(`every process of the killed run was gone ${Date.now() - killedAt} ms after the kill (${before.length} were running)`);
    // Creates PVE already accepted finish as tasks; no new container appears once the processes are gone.
    const count = emu.state.containers().length;
    expect(count).toBeLessThan(20);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(emu.state.containers().length).toBe(count);

    // Recovery as the README's "Failures and recovery" says: cancel the dead run's lock, then up adopts what it made.
    const { up } = await recoverAfterKill(ws);
    console.log(`up after the kill:\n${up.stdout.split('\n').filter((l) => /pending|warning|created|unknown state/i.test(l)).join('\n')}`);
    expect(emu.state.containers()).toHaveLength(20);
    await ws.mustRun(['destroy', '--yes', '--skip-preview']);
    expect(emu.state.containers()).toEqual([]);
  });
});
