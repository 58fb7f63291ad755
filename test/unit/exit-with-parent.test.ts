// The process tree: our language host, the programs it runs and the dynamic-provider host exit soon after the
// process that started them is killed with SIGKILL (what a killed `pulumi` CLI leaves behind). Real processes: a
// shell stands in for the engine, is killed, and the test watches the orphans go. The full run through the real CLI
// is in test/e2e/process-tree.e2e.test.ts.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Agent } from 'undici';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { handler } from '../../provider/dynamic';
import { assertEngineAlive, EngineGoneError } from '../../provider/engine-liveness';
import { parseConnectionConfig } from '../../provider/proxmox/config';
import { PveTransport } from '../../provider/proxmox/transport';

const LANGHOST = path.join(REPO_ROOT, 'scripts', 'langhost');
const POLL_MS = 100;

/** Alive and not a zombie (a reaper that never reaps, e.g. a bare PID 1 in a container, leaves zombies). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

/** Starts `command` in the background of a shell (the stand-in engine) that prints the child's pid and waits. */
async function underShell(command: string, out = '/dev/null'): Promise<{ shell: number; child: number }> {
  const sh = spawn('sh', ['-c', `${command} >"$OUT" & echo $!; wait`], {
    env: { ...process.env, PROXMOX_PODS_PARENT_POLL_MS: String(POLL_MS), OUT: out },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const child = await new Promise<number>((resolve, reject) => {
    sh.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    sh.once('exit', () => reject(new Error('shell exited early')));
  });
  return { shell: sh.pid!, child };
}

const started: number[] = [];
const tmp = mkdtempSync(path.join(tmpdir(), 'exit-with-parent-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  for (const pid of started) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
});

describe('processes that exit with their parent', () => {
  it.each([
    ['a program preloaded with exit-with-parent-preload.js', `node -r ${path.join(LANGHOST, 'exit-with-parent-preload.js')} -e "console.log(1); setInterval(() => {}, 1000)"`],
    ['the language host', `node ${path.join(LANGHOST, 'pulumi-language-nodejs.js')} 127.0.0.1:1`],
    ['the dynamic-provider host (through its plugin wrapper)', `${path.join(LANGHOST, 'pulumi-resource-pulumi-nodejs')} 127.0.0.1:1`],
  ])('%s exits within a second of its parent being SIGKILLed', async (_what, command) => {
    const out = path.join(tmp, `${started.length}.out`);
    const { shell, child } = await underShell(command, out);
    started.push(child);
    // Up and serving before the parent goes: wait for the first line (the plugins print their gRPC port).
    await waitUntil(() => existsSync(out) && readFileSync(out, 'utf8').includes('\n'), 30_000);
    expect(isRunning(child)).toBe(true);
    process.kill(shell, 'SIGKILL');
    const took = await waitUntil(() => !isRunning(child), 5000);
    expect(took).toBeLessThan(1000 + POLL_MS * 2);
  });

  it('without its parent gone, a preloaded process keeps running', async () => {
    const { shell, child } = await underShell(`node -r ${path.join(LANGHOST, 'exit-with-parent-preload.js')} -e "setInterval(() => {}, 1000)"`);
    started.push(child, shell);
    await new Promise((r) => setTimeout(r, POLL_MS * 5));
    expect(isRunning(child)).toBe(true);
    process.kill(child, 'SIGKILL');
    process.kill(shell, 'SIGKILL');
  });

  it('a process whose intended parent died before it started exits at once (PROXMOX_PODS_PARENT_PID)', async () => {
    // The shell names a parent that is already gone, as when the engine dies while the plugin wrapper still resolves
    // @pulumi/pulumi: the watch must not adopt the reaper as its parent.
    const { shell, child } = await underShell(`PROXMOX_PODS_PARENT_PID=999999 node -r ${path.join(LANGHOST, 'exit-with-parent-preload.js')} -e "setInterval(() => {}, 1000)"`);
    started.push(child, shell);
    await waitUntil(() => !isRunning(child), 5000);
    // The shell ends by itself once its child has exited.
  });
});

describe('the provider once its engine is gone', () => {
  const saved = globalThis.__proxmoxPodsParentWatch;
  afterEach(() => {
    globalThis.__proxmoxPodsParentWatch = saved;
  });

  it('starts no create, update or delete, and sends no mutating PVE request', async () => {
    globalThis.__proxmoxPodsParentWatch = { parent: 4242, gone: () => true, hooks: [] };
    const h = handler('PortForward');
    await expect(h.create({ name: 'x' })).rejects.toThrow(EngineGoneError);
    await expect(h.update('n/x', {}, {})).rejects.toThrow(/update PortForward n\/x was not started: the Pulumi engine .*pid 4242.* is gone/);
    await expect(h.delete('n/x', {})).rejects.toThrow(EngineGoneError);
    const cfg = parseConnectionConfig({ endpoint: 'http://127.0.0.1:1', apiToken: 'root@pam!ci=0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5' });
    const transport = new PveTransport(cfg, { dispatcher: new Agent(), beforeMutation: assertEngineAlive, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    await expect(transport.request('POST', '/nodes/pve1/lxc', { vmid: 100 })).rejects.toThrow(EngineGoneError);
    // Reads still go out (and fail here only because nothing listens on port 1).
    await expect(transport.request('GET', '/version')).rejects.not.toThrow(EngineGoneError);
  });
});
