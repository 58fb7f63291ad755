// Crash safety through the real Pulumi CLI on the emulator: random PVE failures on every step a pod takes, and the
// CLI killed at several points of an `up` of 20 pods. Whatever happens, every pod ends with exactly one container of
// its own (no orphan, no duplicate, no container rewritten to another pod's settings) and `destroy` ends empty.
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { parseDescription } from '../../provider/resources/pod/pve-config';
import { programPath, requirePulumiCli, recoverAfterKill } from '../helpers/pulumi';

jest.setTimeout(900_000);

const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const PODS = 20;
// Each pod's memory is its own, so a container converged to another pod's settings is seen at once.
const spec = Object.fromEntries(Array.from({ length: PODS }, (_, i) => [`p${i}`, { image: TEMPLATE, memory: 256 + 8 * i, swap: 0, rootfs: { sizeGiB: 1 }, network: { ip: 'dhcp' } }]));

/** Every pod has exactly one container, carrying its own name and settings; nothing else exists. */
function expectExactlyThePods(emu: RunningEmulator, outputs?: Record<string, unknown>): void {
  const cts = emu.state.containers();
  const names = cts.map((c) => parseDescription(String(c.config.description ?? '')).meta?.name ?? `<unmanaged ${c.vmid}>`).sort();
  expect(names).toEqual(Object.keys(spec).sort());
  for (const c of cts) {
    const name = parseDescription(String(c.config.description ?? '')).meta!.name;
    expect(c.config.memory).toBe(spec[name]!.memory);
    expect(c.status).toBe('running');
    if (outputs) expect((outputs.pods as Record<string, unknown>)[`${name}Vmid`]).toBe(c.vmid);
  }
}

/** The lock files of a file backend (`.pulumi/locks/<org>/<project>/<stack>/<id>.json`), one per running update. */
async function lockFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(e.parentPath, e.name));
}

/** Starts `pulumi up` and kills it with SIGKILL as soon as `reached` holds; fails if the up ended before that. */
async function killUpWhen(ws: PulumiWorkspace, reached: () => boolean | Promise<boolean>): Promise<void> {
  const child = ws.spawn(['up', '--yes', '--skip-preview']);
  let exited = false;
  void child.then(() => (exited = true));
  while (!exited && !(await reached())) await new Promise((r) => setTimeout(r, 10));
  expect(exited).toBe(false);
  child.kill('SIGKILL');
  await child;
}

async function workspace(emu: RunningEmulator, project: string, pods: Record<string, unknown> = spec): Promise<PulumiWorkspace> {
  return PulumiWorkspace.create({
    program: programPath('pods'),
    project,
    config: {
      ...stackConfig(emu),
      'proxmox-pods:storage': 'local-zfs',
      pods: JSON.stringify(pods),
    },
  });
}

describe('crash safety through the real CLI', () => {
  beforeAll(() => requirePulumiCli());

  // ~20% of the calls of every step fail: create (500 and failed tasks), config (lock timeouts), start, status, delete.
  const chaosRules = [
    { method: 'POST', path: /^\/nodes\/[^/]+\/lxc$/, status: 500, message: 'unable to create CT - got timeout' },
    { method: 'POST', path: /^\/nodes\/[^/]+\/lxc$/, taskError: 'unable to create CT - command failed: got timeout' },
    { method: 'PUT', path: /^\/nodes\/[^/]+\/lxc\/\d+\/config$/, status: 500, message: "can't lock file '/run/lock/lxc/pve-config.lock' - got timeout" },
    { method: 'POST', path: /\/status\/start$/, taskError: 'startup for container failed' },
    { method: 'GET', path: /\/status\/current$/, status: 500, message: 'got timeout' },
    { method: 'DELETE', path: /^\/nodes\/[^/]+\/lxc\/\d+$/, taskError: "can't lock file '/run/lock/lxc/pve-config.lock' - got timeout" },
  ];

  test.each([1, 2, 3])('seed %i: 20 pods under ~20%% injected failures converge within two ups, and destroy ends empty', async (seed) => {
    const emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 5, lockTimeoutMs: 200 });
    const ws = await workspace(emu, `chaos${seed}`);
    try {
      emu.faults.chaos({ seed, rate: 0.2, rules: chaosRules });
      const first = await ws.run(['up', '--yes', '--skip-preview']);
      if (first.exitCode !== 0) await ws.mustRun(['up', '--yes', '--skip-preview']);
      expect(emu.faults.chaosHits.reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
      emu.faults.chaos(undefined);
      expectExactlyThePods(emu, await ws.outputs());
      // Nothing left to do: state and cluster agree.
      await ws.mustRun(['preview', '--expect-no-changes']);
      emu.faults.chaos({ seed: seed + 100, rate: 0.2, rules: chaosRules });
      await ws.mustRun(['destroy', '--yes', '--skip-preview']);
      expect(emu.state.containers()).toEqual([]);
    } finally {
      await ws.dispose();
      await emu.close();
    }
  });

  // What a kill can leave in a file backend, made on purpose so the README's recovery is proven every run (a SIGKILL
  // lands on the sidecar write only now and then: CI once hit it).
  test.each([
    ['the stack file\'s .attrs sidecar', '.json.attrs', /failed to load checkpoint: EOF/],
    ['the stack file itself', '.json', /failed to load checkpoint: .*unexpected end of JSON input/],
  ])('%s cut short: up fails to load the checkpoint, the README\'s recovery brings the stack back', async (_what, suffix, symptom) => {
    const emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 5 });
    const ws = await workspace(emu, `cut${suffix.replace(/\W/g, '')}`, { p0: spec.p0, p1: spec.p1 });
    try {
      await ws.mustRun(['up', '--yes', '--skip-preview']);
      // A second up writes the backup beside the stack file, as every checkpoint after the first does.
      await ws.mustRun(['up', '--yes', '--skip-preview']);
      // A third is killed while it holds the stack's lock: the kill that cuts a file leaves the lock too, and then
      // `pulumi cancel` cannot load the stack to clear it (CI once hit exactly this).
      const backend = join(fileURLToPath(ws.backendUrl), '.pulumi');
      const locks = join(backend, 'locks');
      await killUpWhen(ws, async () => (await lockFiles(locks)).length > 0);
      expect(await lockFiles(locks)).toHaveLength(1);
      const stacks = join(backend, 'stacks');
      const [project] = await readdir(stacks);
      const [stackFile] = (await readdir(join(stacks, project!))).filter((f) => f.endsWith('.json'));
      await writeFile(join(stacks, project!, stackFile!.replace(/\.json$/, suffix)), '');
      const broken = await ws.run(['preview']);
      expect(broken.exitCode).not.toBe(0);
      expect(broken.stdout + broken.stderr).toMatch(symptom);
      const vmids = emu.state.containers().map((c) => c.vmid).sort();
      const { repaired } = await recoverAfterKill(ws);
      expect(repaired).toContainEqual(expect.stringMatching(suffix === '.json' ? /^restored .*\.json from/ : /^removed .*\.json\.attrs$/));
      expect(await lockFiles(locks)).toEqual([]);
      expect(emu.state.containers().map((c) => c.vmid).sort()).toEqual(vmids);
      await ws.mustRun(['preview', '--expect-no-changes']);
      await ws.mustRun(['destroy', '--yes', '--skip-preview']);
      expect(emu.state.containers()).toEqual([]);
    } finally {
      await ws.dispose();
      await emu.close();
    }
  });

  // Where the CLI dies: early, midway, near the end, and after every container exists (before the checkpoint).
  test.each([2, 10, 19, 20])('CLI killed once %i containers exist: cancel, up, destroy leave exactly 20, then none', async (killAt) => {
    const emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 30 });
    const ws = await workspace(emu, `kill${killAt}`);
    try {
      await killUpWhen(ws, () => emu.state.containers().length >= killAt);
      // As a user would: clear the lock a killed update leaves (repairing a checkpoint the kill cut short), then up.
      await recoverAfterKill(ws);
      expectExactlyThePods(emu, await ws.outputs());
      await ws.mustRun(['destroy', '--yes', '--skip-preview']);
      // The killed run's processes may still be finishing a create; give them a moment, then nothing may remain.
      await new Promise((r) => setTimeout(r, 1000));
      expect(emu.state.containers()).toEqual([]);
    } finally {
      await ws.dispose();
      await emu.close();
    }
  });
});
