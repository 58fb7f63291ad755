// The package as a user gets it: `npm pack` of this checkout, installed from the tarball into a scratch project with
// npm, then loaded from there: the SDK, the provider entry the serialized dynamic provider requires by name
// (`proxmox-pods/provider`), the emulator, the CLI, and the types through `exports` from a TypeScript program.
// What runs ships, and nothing else: no tests, benchmarks, examples, quickstart program or source maps.
//
// npm pack runs with --ignore-scripts: the checkout is already compiled (npm test compiles first) and its dist/ also
// holds the tests, which is what the `files` list must keep out. The `prepare` build of a fresh clone and installs from
// a git URL are checked by scripts/check-package.sh (.ci/run).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';

// Two npm operations against the registry (the install fetches @pulumi/pulumi and its tree): minutes on a busy machine.
jest.setTimeout(600_000);

// npm itself runs on this Node (the checkout's when the machine's is older).
const env = { ...process.env, PATH: [path.dirname(process.execPath), process.env.PATH].join(path.delimiter), npm_config_update_notifier: 'false' };
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

let scratch: string;
let tarball: string;
let packed: string[];
let project: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'proxmox-pods-pack-'));
  const [result] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], REPO_ROOT)) as PackResult[];
  tarball = path.join(scratch, result!.filename);
  packed = result!.files.map((f) => f.path).sort();
  project = path.join(scratch, 'project');
  execFileSync('mkdir', [project]);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-infra', version: '1.0.0', private: true }));
  // What the README tells a user to run, with the tarball standing for the registry's package.
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, '@pulumi/pulumi'], project);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('the tarball holds what runs and nothing else', () => {
  for (const entry of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/proxmox-pods.js', 'dist/sdk/index.js', 'dist/sdk/index.d.ts', 'dist/provider/dynamic.js', 'dist/emulator/index.js', 'dist/cli/main.js']) {
    expect(packed).toContain(entry);
  }
  const unwanted = packed.filter((p) => /(^|\/)(test|tests|bench|examples)\//.test(p) || /\.test\.(js|d\.ts)$/.test(p) || /\.(map|tsbuildinfo)$/.test(p) || /^dist\/index\./.test(p) || /^(scripts|\.tools|node_modules)\//.test(p) || /\.ts$/.test(p) && !/\.d\.ts$/.test(p));
  expect(unwanted).toEqual([]);
  // Every top-level entry is accounted for.
  expect([...new Set(packed.map((p) => p.split('/').slice(0, p.startsWith('dist/') ? 2 : 1).join('/')))].sort()).toEqual(
    ['CHANGELOG.md', 'LICENSE', 'README.md', 'bin', 'dist/cli', 'dist/emulator', 'dist/provider', 'dist/sdk', 'package.json'],
  );
});

test('its package.json is publishable and describes the entry points', () => {
  const pkg = JSON.parse(readFileSync(path.join(project, 'node_modules', 'proxmox-pods', 'package.json'), 'utf8'));
  expect(pkg.private).toBeUndefined();
  expect(pkg.engines.node).toBe('>=22');
  expect(pkg.types).toBe('dist/sdk/index.d.ts');
  expect(pkg.bin['proxmox-pods']).toBe('bin/proxmox-pods.js');
  // ./dist/sdk/providers/*: what Pulumi stores as each resource's provider (a require() of it) must resolve.
  expect(Object.keys(pkg.exports).sort()).toEqual(['.', './dist/sdk/providers/*', './emulator', './package.json', './provider']);
  expect(pkg.repository.url).toMatch(/^git\+https:\/\//);
  // A caret range, so the user's own @pulumi/pulumi is the one this package uses (one copy in the program).
  expect(pkg.dependencies['@pulumi/pulumi']).toMatch(/^\^3\./);
  expect(pkg.scripts.prepare).toBe("bash scripts/build-package.sh");
});

test('the installed package loads from the user project: SDK, provider entry, emulator, CLI', () => {
  const script = `
    const sdk = require('proxmox-pods');
    const provider = require('proxmox-pods/provider');
    const emulator = require('proxmox-pods/emulator');
    process.stdout.write(JSON.stringify({
      sdk: Object.keys(sdk).sort(),
      provider: [typeof provider.handler, typeof provider.configure],
      emulator: typeof emulator.startEmulator,
      // The require() Pulumi stores in state for each resource's provider, exactly as written there.
      stored: typeof require('proxmox-pods/dist/sdk/providers/pod.js').create,
      from: require.resolve('proxmox-pods/provider'),
      pulumi: require.resolve('@pulumi/pulumi', { paths: [require.resolve('proxmox-pods')] }),
    }));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: project, encoding: 'utf8' }));
  expect(loaded.sdk).toEqual(['DeploymentBridge', 'HeadlessService', 'OciImage', 'PersistentVolume', 'Pod', 'PortForward', 'StatefulSet', 'StatefulSetPod']);
  expect(loaded.provider).toEqual(['function', 'function']);
  expect(loaded.emulator).toBe('function');
  expect(loaded.stored).toBe('function');
  expect(loaded.from).toBe(path.join(project, 'node_modules', 'proxmox-pods', 'dist', 'provider', 'dynamic.js'));
  // One @pulumi/pulumi: the package resolves the project's own.
  expect(loaded.pulumi).toBe(path.join(project, 'node_modules', '@pulumi', 'pulumi', 'index.js'));

  const cli = spawnSync(path.join(project, 'node_modules', '.bin', 'proxmox-pods'), ['help'], { cwd: project, env, encoding: 'utf8' });
  expect(cli.status).toBe(0);
  expect(cli.stdout).toMatch(/^usage: proxmox-pods <command>/);
  // The demo is the checkout's quickstart, which the package leaves out: it says so instead of failing deep in Pulumi.
  const demo = spawnSync(path.join(project, 'node_modules', '.bin', 'proxmox-pods'), ['demo'], { cwd: project, env, encoding: 'utf8' });
  expect(demo.status).toBe(1);
  expect(demo.stderr).toMatch(/demo: runs the quickstart program of a proxmox-pods checkout.*clone the repository/);
});

// Pulumi's own TypeScript template (pulumi new typescript) resolves modules the old way (node10: `types`,
// `typesVersions`); newer projects use nodenext (`exports` with `types`). Both must find the declarations. With
// CommonJS, zod 4's declarations need esModuleInterop (colinhacks/zod#5160; README "Install" says so).
test.each([
  ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022' }],
  ['node10, as in pulumi new typescript', { module: 'commonjs', moduleResolution: 'node', target: 'es2020', esModuleInterop: true, noImplicitReturns: true, forceConsistentCasingInFileNames: true }],
])('a TypeScript program compiles against the installed types (%s)', (_name, options) => {
  writeFileSync(
    path.join(project, 'index.ts'),
    `import { Pod, type PodArgs } from 'proxmox-pods';
     import { startEmulator } from 'proxmox-pods/emulator';
     const args: PodArgs = { image: 'local:vztmpl/debian-12.tar.zst', memory: 256 };
     export const pod = (name: string) => new Pod(name, args);
     export const emu = startEmulator;
     // @ts-expect-error memory is a number
     export const bad: PodArgs = { image: 'local:vztmpl/x.tar.zst', memory: 'lots' };\n`,
  );
  writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, types: [], ...options }, files: ['index.ts'] }),
  );
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});
