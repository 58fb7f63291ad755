// Runs the real Pulumi CLI against a program in a throw-away workspace: a local file backend in a temp folder, a
// passphrase secrets provider, and stack config in the workspace (never in the repository). Used by the demo and the
// end-to-end tests.
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface WorkspaceOptions {
  /** The compiled program (a .js file or a folder with package.json). */
  program: string;
  project: string;
  stack?: string;
  /** Stack config; values marked secret are stored encrypted. */
  config?: Record<string, string | { secret: string }>;
  /** Stream the CLI's output to this process's stdout/stderr. */
  echo?: boolean;
}

export interface PulumiResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class PulumiWorkspace {
  private constructor(
    readonly dir: string,
    readonly stack: string,
    private readonly env: Record<string, string>,
    private readonly echo: boolean,
  ) {}

  static async create(opts: WorkspaceOptions): Promise<PulumiWorkspace> {
    const root = await mkdtemp(path.join(tmpdir(), `proxmox-pods-${opts.project}-`));
    const dir = path.join(root, 'program');
    const backend = path.join(root, 'state');
    await mkdir(dir, { recursive: true });
    await mkdir(backend, { recursive: true });
    await writeFile(
      path.join(dir, 'Pulumi.yaml'),
      `name: ${opts.project}\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: ${path.resolve(opts.program)}\n`,
    );
    // The dynamic provider resolves `proxmox-pods/provider` from its working directory.
    await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const toolPath = [path.join(REPO_ROOT, '.tools', 'pulumi', 'bin'), path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter);
    const env: Record<string, string> = {
      PATH: toolPath,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_HOME: path.join(root, 'pulumi-home'),
      PULUMI_CONFIG_PASSPHRASE: 'proxmox-pods-local-demo',
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      PULUMI_SKIP_CONFIRMATIONS: 'true',
      PROXMOX_PODS_ROOT: REPO_ROOT,
      NO_COLOR: '1',
    };
    const ws = new PulumiWorkspace(dir, opts.stack ?? 'dev', env, opts.echo ?? false);
    try {
      await ws.mustRun(['stack', 'init', ws.stack]);
      for (const [key, value] of Object.entries(opts.config ?? {})) await ws.setConfig(key, value);
    } catch (err) {
      await ws.dispose(); // a workspace that could not be set up leaves nothing behind
      throw err;
    }
    return ws;
  }

  async setConfig(key: string, value: string | { secret: string }): Promise<void> {
    // Secrets go through stdin so they never appear in a process list.
    // `--` so values that start with "-" (a PEM) are not taken for flags.
    if (typeof value === 'string') await this.mustRun(['config', 'set', key, '--', value]);
    else await this.mustRun(['config', 'set', '--secret', key], value.secret);
  }

  /** The backend this workspace's CLI and every process it starts use (PULUMI_BACKEND_URL in their environment). */
  get backendUrl(): string {
    return this.env.PULUMI_BACKEND_URL!;
  }

  async run(args: string[], input?: string): Promise<PulumiResult> {
    const child = execa('pulumi', ['--non-interactive', '--color', 'never', ...args], {
      cwd: this.dir,
      env: this.env,
      extendEnv: true,
      reject: false,
      input: input ?? '',
      all: false,
      timeout: 10 * 60_000,
    });
    if (this.echo) {
      child.stdout?.pipe(process.stdout);
      child.stderr?.pipe(process.stderr);
    }
    const r = await child;
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** Starts the CLI without waiting for it (a test that kills it mid-run). */
  spawn(args: string[]) {
    return execa('pulumi', ['--non-interactive', '--color', 'never', ...args], { cwd: this.dir, env: this.env, extendEnv: true, reject: false, input: '', timeout: 10 * 60_000 });
  }

  async mustRun(args: string[], input?: string): Promise<PulumiResult> {
    const r = await this.run(args, input);
    if (r.exitCode !== 0) throw new Error(`pulumi ${args.join(' ')} failed (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  async outputs(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.mustRun(['stack', 'output', '--json', '--show-secrets'])).stdout) as Record<string, unknown>;
  }

  async exportState(): Promise<ExportedState> {
    return JSON.parse((await this.mustRun(['stack', 'export'])).stdout);
  }

  async dispose(): Promise<void> {
    await rm(path.dirname(this.dir), { recursive: true, force: true });
  }
}

/** One resource of `pulumi stack export` (the fields read here; the engine writes more). */
export interface ExportedResource {
  urn: string;
  type: string;
  id?: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ExportedState {
  deployment: { resources?: ExportedResource[] };
}
