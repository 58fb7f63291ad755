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
 * What a user does after the CLI was killed, in the order of the README's "The CLI was killed": clear the dead run's
 * lock with `pulumi cancel`, then `pulumi up`. A kill can also leave the file backend's checkpoint cut short; then
 * `cancel` (for a cut sidecar) or `up` fails to load it, and a failed `cancel` leaves the lock (CI once hit it), so
 * the checkpoint is repaired and `cancel` run again before the `up`. gocloud's fileblob renames a stack file into
 * place, but writes its `.attrs` sidecar in place (gocloud.dev `blob/fileblob/attrs.go` `setAttrs`: `os.Create`,
 * then encode), so a kill between the two leaves an empty sidecar and commands fail with `failed to load
 * checkpoint: EOF`. A missing sidecar is read as "no attributes" (`getAttrs`), so the fix is to delete the cut one.
 * A stack file cut short (`unexpected end of JSON input`: a machine crash, not a process kill) is replaced by the
 * backup beside it. The `up` adopts what the lost checkpoint knew (find-or-create). Returns the `up`'s result and
 * what the repair changed.
 */
export async function recoverAfterKill(ws: PulumiWorkspace): Promise<{ up: PulumiResult; repaired: string[] }> {
  // `cancel` reads the stack's metadata, not its checkpoint: it fails on a cut sidecar but not on a cut stack file,
  // which only the `up` finds.
  const cancel = await ws.run(['cancel', '--yes']);
  const last = cancel.exitCode !== 0 ? cancel : await ws.run(['up', '--yes', '--skip-preview']);
  if (last.exitCode === 0) return { up: last, repaired: [] };
  const said = last.stdout + last.stderr;
  if (!/failed to load checkpoint/.test(said)) throw new Error(`pulumi ${last === cancel ? 'cancel' : 'up'} failed:\n${said}`);
  const repaired = await repairFileBackend(fileURLToPath(ws.backendUrl));
  if (repaired.length === 0) throw new Error(`pulumi failed to load the checkpoint, and no stack file or sidecar is cut short:\n${said}`);
  await ws.mustRun(['cancel', '--yes']);
  return { up: await ws.mustRun(['up', '--yes', '--skip-preview']), repaired };
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

