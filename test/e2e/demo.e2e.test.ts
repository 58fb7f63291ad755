// `npm run demo` (the CLI's demo command) both ways: as root with LXC, the demo image answers over HTTP through a
// port forward and the demo prints the answer; without root it says why in one line and runs the in-memory demo.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { chmod, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(600_000);

const ci = process.env.CI === 'true' || process.env.CI === '1';
if (process.getuid?.() !== 0 && ci) throw new Error('demo e2e: needs root (CI runs as root)');
const d = process.getuid?.() === 0 ? describe : describe.skip;

d('npm run demo', () => {
  const bin = path.join(REPO_ROOT, 'bin', 'proxmox-pods.js');
  const env = { PATH: [path.join(REPO_ROOT, '.tools', 'pulumi', 'bin'), path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter), PULUMI_SKIP_UPDATE_CHECK: 'true' };
  beforeAll(() => requirePulumiCli());

  test('as root with LXC: the pod answers through the port forward, as the image user with the merged env', async () => {
    const r = await execa(process.execPath, [bin, 'demo'], { env, reject: false, all: true });
    expect(r.exitCode).toBe(0);
    const out = String(r.all);
    expect(out).not.toMatch(/real containers are not available/);
    expect(out).toMatch(/GET http:\/\/192\.168\.100\.10:8080\/ .*port forward/);
    expect(out).toMatch(/^\s+uid=1000$/m);
    expect(out).toMatch(/^\s+cwd=\/app$/m);
    expect(out).toMatch(/^\s+env GREETING=hello from proxmox-pods$/m);
  });

  test('without root: one line saying why, then the in-memory demo', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'pp-demo-home-'));
    await chmod(home, 0o777);
    // nobody must reach the checkout: a fresh clone may sit under a 0700 mktemp directory. Let others traverse (not
    // read) each ancestor for the run, and put every mode back afterwards.
    const opened: Array<[string, number]> = [];
    for (let dir = path.dirname(REPO_ROOT); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const mode = (await stat(dir)).mode & 0o7777;
      if (!(mode & 0o001)) {
        opened.push([dir, mode]);
        await chmod(dir, mode | 0o001);
      }
    }
    try {
      const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, 'demo'], { env: { ...env, HOME: home }, reject: false, all: true });
      expect(r.exitCode).toBe(0);
      const lines = String(r.all).split('\n');
      expect(lines[0]).toMatch(/^real containers are not available here \(the lxc runtime needs root.*\); running the in-memory demo$/);
      expect(String(r.all)).toMatch(/containers on the emulator: \d+@pve\(running\)/);
    } finally {
      for (const [dir, mode] of opened) await chmod(dir, mode);
      await rm(home, { recursive: true, force: true });
    }
  });
});
