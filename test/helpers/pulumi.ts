// Shared set-up for the e2e suites: the real Pulumi CLI must be there (bootstrap builds it); in CI a missing CLI is
// a failure, never a skip.
import { execaSync } from 'execa';
import * as path from 'node:path';
import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, type PulumiWorkspace, type PulumiResult } from '../../cli/pulumi-workspace';

export function requirePulumiCli(): void {
  const PATH = [path.join(REPO_ROOT, '.tools', 'pulumi', 'bin'), process.env.PATH].join(path.delimiter);
  const r = execaSync('pulumi', ['version'], { env: { PATH }, reject: false });
  if (r.exitCode !== 0) {
    throw new Error('the Pulumi CLI is not available: run the tests with `npm test` (scripts/bootstrap.sh builds it into .tools/pulumi)');
  }
}

export const programPath = (name: string) => path.join(REPO_ROOT, 'dist', 'test', 'e2e', 'programs', `${name}.js`);

/**
 * `pulumi up` after the CLI was killed. A kill while the CLI writes its checkpoint can leave the file backend's stack
 * file empty (`failed to load checkpoint: EOF`); the user restores the backup the backend keeps beside it, as the
 * README's "Failures and recovery" says, and the next `up` adopts what the lost checkpoint knew (find-or-create).
 */
export async function upAfterKill(ws: PulumiWorkspace): Promise<PulumiResult> {
  const first = await ws.run(['up', '--yes', '--skip-preview']);
  if (first.exitCode === 0) return first;
  if (!/failed to load checkpoint/.test(first.stdout + first.stderr)) throw new Error(`pulumi up failed:\n${first.stdout}\n${first.stderr}`);
  const stacks = join(fileURLToPath(ws.backendUrl), '.pulumi', 'stacks');
  for (const project of await readdir(stacks)) {
    for (const f of await readdir(join(stacks, project))) {
      if (f.endsWith('.json.bak')) await copyFile(join(stacks, project, f), join(stacks, project, f.replace(/\.bak$/, '')));
    }
  }
  return ws.mustRun(['up', '--yes', '--skip-preview']);
}

