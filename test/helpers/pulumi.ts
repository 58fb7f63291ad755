// Shared set-up for the e2e suites: the real Pulumi CLI must be there (bootstrap builds it); in CI a missing CLI is
// a failure, never a skip.
import { execaSync } from 'execa';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';

export function requirePulumiCli(): void {
  const PATH = [path.join(REPO_ROOT, '.tools', 'pulumi', 'bin'), process.env.PATH].join(path.delimiter);
  const r = execaSync('pulumi', ['version'], { env: { PATH }, reject: false });
  if (r.exitCode !== 0) {
    throw new Error('the Pulumi CLI is not available: run the tests with `npm test` (scripts/bootstrap.sh builds it into .tools/pulumi)');
  }
}

export const programPath = (name: string) => path.join(REPO_ROOT, 'dist', 'test', 'e2e', 'programs', `${name}.js`);
