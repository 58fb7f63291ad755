// Shared set-up for the e2e suites: the real Pulumi CLI must be there (bootstrap builds it); in CI a missing CLI is
// a failure, never a skip.
import { execaSync } from 'execa';
import * as path from 'node:path';
import { copyFile, readdir, readFile, rm } from 'node:fs/promises';
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
 * `pulumi up` after the CLI was killed, recovering the file backend as the README's "Failures and recovery" tells a
 * user to. gocloud's fileblob renames a stack file into place, but writes its `.attrs` sidecar in place
 * (gocloud.dev `blob/fileblob/attrs.go` `setAttrs`: `os.Create`, then encode), so a kill between the two leaves an
 * empty sidecar and every command fails with `failed to load checkpoint: EOF`. A missing sidecar is read as "no
 * attributes" (`getAttrs`), so the fix is to delete the cut one. A stack file cut short (`unexpected end of JSON
 * input`: a machine crash, not a process kill) is replaced by the backup beside it. The next `up` adopts what the lost
 * checkpoint knew (find-or-create).
 */
export async function upAfterKill(ws: PulumiWorkspace): Promise<PulumiResult> {
  const first = await ws.run(['up', '--yes', '--skip-preview']);
  if (first.exitCode === 0) return first;
  if (!/failed to load checkpoint/.test(first.stdout + first.stderr)) throw new Error(`pulumi up failed:\n${first.stdout}\n${first.stderr}`);
  const repaired = await repairFileBackend(fileURLToPath(ws.backendUrl));
  if (repaired.length === 0) throw new Error(`pulumi up failed to load its checkpoint, and no stack file or sidecar is cut short:\n${first.stderr}`);
  return ws.mustRun(['up', '--yes', '--skip-preview']);
}

/** The README's recovery of a file backend after a kill; returns what it changed (paths relative to the backend). */
export async function repairFileBackend(backendDir: string): Promise<string[]> {
  const stacks = join(backendDir, '.pulumi', 'stacks');
  const changed: string[] = [];
  for (const project of await readdir(stacks)) {
    const dir = join(stacks, project);
    for (const f of await readdir(dir)) {
      const file = join(dir, f);
      if (f.endsWith('.attrs') && !(await parsesAsJson(file))) {
        await rm(file);
        changed.push(`removed ${project}/${f}`);
      } else if (f.endsWith('.json') && !(await parsesAsJson(file))) {
        await copyFile(`${file}.bak`, file);
        changed.push(`restored ${project}/${f} from ${f}.bak`);
      }
    }
  }
  return changed;
}

async function parsesAsJson(file: string): Promise<boolean> {
  try {
    JSON.parse(await readFile(file, 'utf8'));
    return true;
  } catch (err) {
    if (err instanceof SyntaxError) return false;
    throw err;
  }
}

