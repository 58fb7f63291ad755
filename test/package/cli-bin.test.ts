// bin/proxmox-pods.js on a Node older than 22: it re-runs itself with the checkout's own Node (.tools/node, what the
// bootstrap installs), passes arguments, exit code and signals through, and says what to do when there is none.
// The old Node is played by this Node with process.versions.node rewritten before the bin runs (a preload), so the
// test runs the same wherever it runs; the real bin file is used, in a scratch package root.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';

let root: string;
let preload: string;

/** A package root with the real bin, a dist/cli/main.js that reports what ran it, and optionally a .tools Node. */
function packageRoot(withProjectNode: boolean): string {
  const dir = mkdtempSync(path.join(root, 'pkg-'));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(REPO_ROOT, 'bin', 'proxmox-pods.js'), path.join(dir, 'bin', 'proxmox-pods.js'));
  mkdirSync(path.join(dir, 'dist', 'cli'), { recursive: true });
  writeFileSync(
    path.join(dir, 'dist', 'cli', 'main.js'),
    `exports.main = async (argv) => {
       if (argv[0] === 'wait') { setInterval(() => {}, 1000); process.on('SIGTERM', () => { process.stdout.write('child got SIGTERM\\n'); process.exit(0); }); process.stdout.write('ready\\n'); return new Promise(() => {}); }
       process.stdout.write(JSON.stringify({ version: process.versions.node, argv, reexec: process.env.PROXMOX_PODS_REEXEC ?? null }));
       return Number(argv[0] ?? 0);
     };\n`,
  );
  if (withProjectNode) {
    const bin = path.join(dir, '.tools', 'node', 'node_modules', 'node', 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, path.join(bin, 'node'));
  }
  return dir;
}

const runBin = (dir: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['--require', preload, path.join(dir, 'bin', 'proxmox-pods.js'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'proxmox-pods-bin-'));
  preload = path.join(root, 'node20.js');
  writeFileSync(preload, `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.19.2' } });\n`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('on Node 20 it re-runs itself with the checkout Node, with the same arguments and exit code', () => {
  const r = runBin(packageRoot(true), ['7', '--port', '8006']);
  expect(r.stderr).toBe('');
  const ran = JSON.parse(r.stdout) as { version: string; argv: string[]; reexec: string | null };
  expect(ran.version).toBe(process.versions.node); // not the 20.19.2 the first process pretended to be
  expect(Number(ran.version.split('.')[0])).toBeGreaterThanOrEqual(22);
  expect(ran.argv).toEqual(['7', '--port', '8006']);
  expect(ran.reexec).toBe('1');
  expect(r.status).toBe(7);
});

test('without a checkout Node it says what to install and exits 1', () => {
  const r = runBin(packageRoot(false), ['help']);
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/needs Node\.js >= 22 \(this is v\d+.*Install Node\.js 22 or later; in a checkout of proxmox-pods, `npm run demo` installs one/);
});

test('a checkout Node that is old as well is reported, not re-run in a loop', () => {
  const r = runBin(packageRoot(true), ['help'], { PROXMOX_PODS_REEXEC: '1' });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/is not new enough either: run scripts\/bootstrap\.sh again/);
});

test('on a current Node it runs directly', () => {
  const dir = packageRoot(false);
  const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'proxmox-pods.js'), '0'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ version: process.versions.node, reexec: null });
});

test('SIGTERM to the re-running process reaches the command and ends both', async () => {
  const child = spawn(process.execPath, ['--require', preload, path.join(packageRoot(true), 'bin', 'proxmox-pods.js'), 'wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`command did not start: ${out}`)), 20000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGTERM');
  // The command handled SIGTERM and exited 0; the bin passes that status on.
  expect(await exited).toBe(0);
  expect(out).toContain('child got SIGTERM');
});
