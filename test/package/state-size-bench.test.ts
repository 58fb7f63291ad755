// The state-size figures in the README ("State size per resource") come from bench/state-size.ts; benches are not
// part of `npm test`, so this runs it small, as a user's installed program, to keep the command the README gives
// working and the claim it measures true: an installed package stores a `require()` of a few hundred characters per
// copy of the provider, not the provider's code.
import { execa } from 'execa';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(300_000);

test('node dist/bench/state-size.js 3 installed: a user program through the package exports, a small provider per resource', async () => {
  requirePulumiCli();
  const env = { ...process.env, PATH: [path.join(REPO_ROOT, '.tools', 'pulumi', 'bin'), path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter), PULUMI_SKIP_UPDATE_CHECK: 'true' };
  const r = await execa(process.execPath, [path.join(REPO_ROOT, 'dist', 'bench', 'state-size.js'), '3', 'installed'], { env, reject: false, all: true });
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(String(r.stdout).slice(String(r.stdout).indexOf('{'))) as Record<string, number>;
  expect(report.pods).toBe(3);
  expect(report.providerCharsPerCopy).toBeGreaterThan(100);
  expect(report.providerCharsPerCopy).toBeLessThan(400);
  expect(report.bytesPerPod).toBeLessThan(4000);
});
