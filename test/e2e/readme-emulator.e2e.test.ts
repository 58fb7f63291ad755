// README "Against a long-running emulator", as a user types it in a shell of the machine (its own PATH, where
// `node` may be Debian's 20 and there is no `pulumi`): `source scripts/env.sh`, `proxmox-pods emulator`, paste the
// export line it prints, `pulumi login file://…`, `pulumi stack init`, `pulumi up`. The program names no endpoint,
// token or fingerprint: the pasted environment is all the provider gets.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync, existsSync, symlinkSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';

jest.setTimeout(300_000);

const MACHINE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function shell(script: string, cwd: string) {
  // Only what a login shell of the machine has: no Node or Pulumi of this checkout on PATH.
  const env = { PATH: MACHINE_PATH, HOME: process.env.HOME ?? '/root', PULUMI_HOME: path.join(scratch, 'pulumi-home'), TERM: 'dumb', NO_COLOR: '1' };
  return spawnSync('bash', ['-c', script], { cwd, env, encoding: 'utf8', timeout: 280_000 });
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'proxmox-pods-readme-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('scripts/env.sh puts the checkout Node >= 22, pulumi, its language host and proxmox-pods on PATH', () => {
  const r = shell(
    `source scripts/env.sh 2>/dev/null || { echo "env.sh failed"; exit 9; }
     node -p 'process.versions.node'; pulumi version; command -v pulumi-language-nodejs; proxmox-pods help | head -1`,
    REPO_ROOT,
  );
  expect(r.stderr).toBe('');
  const [nodeVersion, pulumiVersion, langHost, usage] = r.stdout.trim().split('\n');
  expect(Number(nodeVersion!.split('.')[0])).toBeGreaterThanOrEqual(22);
  expect(pulumiVersion).toMatch(/^v3\./);
  expect(existsSync(langHost!)).toBe(true);
  expect(usage).toBe('usage: proxmox-pods <command> [options]');
  expect(r.status).toBe(0);
});

test('the tool links the bootstrap makes are relative, so the checkout can move', () => {
  const links = ['.tools/bin/proxmox-pods', '.tools/pulumi/bin/pulumi-language-nodejs', '.tools/pulumi/bin/pulumi-resource-pulumi-nodejs']
    .map((l) => path.join(REPO_ROOT, l))
    // The language host links exist only where no official pulumi-language-nodejs is installed.
    .filter((l) => l.endsWith('proxmox-pods') || existsSync(l));
  for (const link of links) {
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).not.toMatch(/^\//);
    expect(existsSync(link)).toBe(true); // resolves
  }
});

test('emulator, pasted export line, pulumi login/stack init/up: a pod on the emulator', () => {
  const project = path.join(scratch, 'project');
  spawnSync('mkdir', ['-p', project]);
  writeFileSync(path.join(project, 'Pulumi.yaml'), 'name: readme-emulator\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n');
  writeFileSync(
    path.join(project, 'index.js'),
    `const { Pod } = require('proxmox-pods');
     const web = new Pod('web', { image: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', memory: 256, swap: 0, network: { ip: 'dhcp' } });
     exports.vmid = web.vmid;
     exports.status = web.status;\n`,
  );
  // The user's project depends on proxmox-pods; here the checkout's node_modules holds it (node_modules/proxmox-pods → ..).
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(project, 'node_modules'));
  const r = shell(
    `set -eu
     source ${JSON.stringify(path.join(REPO_ROOT, 'scripts', 'env.sh'))} 2>/dev/null || exit 9
     proxmox-pods emulator --port 0 --http-port off > emulator.out 2>&1 &
     emulator=$!
     trap 'kill $emulator 2>/dev/null; wait $emulator 2>/dev/null' EXIT
     for i in $(seq 1 150); do grep -q 'Press Ctrl-C' emulator.out && break; sleep 0.2; done
     line="$(grep '^export ' emulator.out)" || { cat emulator.out; exit 8; }
     eval "$line"            # what pasting the printed line does
     export PULUMI_CONFIG_PASSPHRASE=readme
     mkdir -p state && pulumi login --non-interactive file://$PWD/state >/dev/null
     pulumi stack init --non-interactive dev >/dev/null
     pulumi config set proxmox-pods:storage local-zfs
     pulumi up --yes --non-interactive --skip-preview --color never > up.out 2>&1 || { cat up.out; exit 7; }
     pulumi stack output --json
     pulumi destroy --yes --non-interactive --skip-preview --color never > destroy.out 2>&1 || { cat destroy.out; exit 6; }`,
    project,
  );
  if (r.status !== 0) throw new Error(`the steps failed (exit ${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  const outputs = JSON.parse(r.stdout) as { vmid: number; status: string };
  expect(outputs.vmid).toBeGreaterThanOrEqual(100);
  expect(outputs.status).toBe('running');
});
