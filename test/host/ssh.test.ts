// The SSH executor against a real sshd on 127.0.0.1 (temp host key, temp authorized_keys, random port) started and
// killed here, plus the quoting checked against real POSIX shells.
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { HostCommandError } from '../../provider/host/executor';
import { HostKeyMismatchError, remoteCommand, shellQuote, SshConnectError, SshExecutor } from '../../provider/host/ssh';
import { createServer } from 'node:net';
import { startSshdIn, type NodeSshd } from './support/sshd';
import { holdLock } from './support/host-lock';
import { requireTools } from './support/tools';

const marker = `/tmp/pp-ssh-pwned-${process.pid}`;
const hostile = [
  `; rm -rf ${marker}-dir`, `$(touch ${marker})`, `\`touch ${marker}\``, "it's", "'", "''", '"', `"$(touch ${marker})"`,
  'two\nlines', '', ' ', '  spaces  ', '*', '~', '\\', '\\\'', '$HOME', '${IFS}', '| cat', '&& touch x', '> /tmp/x', '-n', '--',
  '\t\r', 'ünïcødé ✓', '!', '#comment',
];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function randomArg(seed: number): string {
  // Deterministic bytes from 1..255 (NUL cannot pass through argv at all).
  let x = seed * 2654435761 >>> 0;
  let s = '';
  const len = seed % 17;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += String.fromCharCode(1 + (x >>> 16) % 127);
  }
  return s;
}

describe('shellQuote', () => {
  beforeAll(() => requireTools('sh'));

  test.each(['sh', 'bash'])('%s reads every quoted argument back verbatim', async (shell) => {
    const args = [...hostile, ...Array.from({ length: 200 }, (_, i) => randomArg(i + 1))];
    const r = await execa(shell, ['-c', `printf '%s\\0' ${args.map(shellQuote).join(' ')}`]);
    expect(String(r.stdout).split('\0').slice(0, -1)).toEqual(args);
    expect((await execa('test', ['-e', marker], { reject: false })).exitCode).not.toBe(0);
  });

  test('quotes the command too and refuses NUL', () => {
    expect(remoteCommand('ls', ['-l', "a'b"])).toBe(`'ls' '-l' 'a'\\''b'`);
    expect(shellQuote('')).toBe("''");
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('SshExecutor against a real sshd', () => {
  let sshd: NodeSshd;
  let dir: string;
  let agent: ResultPromise | undefined;
  const savedSock = process.env.SSH_AUTH_SOCK;

  beforeAll(async () => {
    await requireTools('sshd', 'ssh', 'ssh-keygen', 'ssh-keyscan', 'ssh-agent', 'ssh-add');
    dir = await mkdtemp(path.join(tmpdir(), 'pp-ssh-test-'));
    sshd = await startSshdIn({ host: '127.0.0.1', port: await freePort() });
  }, 30_000);

  afterAll(async () => {
    if (agent) {
      agent.kill('SIGTERM');
      await agent;
    }
    if (savedSock === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = savedSock;
    await sshd?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(marker, { force: true });
  });

  const pinned = () => new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: sshd.identityFile, hostKeyFingerprint: sshd.hostKeyFingerprint });

  test('hostile arguments arrive verbatim and nothing runs in a shell', async () => {
    const exec = pinned();
    const r = await exec.run('printf', ['%s\\0', ...hostile]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(hostile);
    expect((await execa('test', ['-e', marker], { reject: false })).exitCode).not.toBe(0);
    // A command name with spaces is one word, not a command line.
    const odd = await exec.run('echo hi; touch ' + marker, [], { allowFailure: true });
    expect(odd.exitCode).toBe(127);
    expect((await execa('test', ['-e', marker], { reject: false })).exitCode).not.toBe(0);
  });

  test('the pinned known_hosts file lives only for the call', async () => {
    // Files holding this sshd's (unique, freshly generated) host key are ours.
    const blob = String(await readFile(`${sshd.identityFile.replace(/client_ed25519$/, 'host_ed25519')}.pub`)).split(' ')[1]!;
    const ours = async () => {
      const found: string[] = [];
      for (const d of (await readdir(tmpdir())).filter((n) => n.startsWith('proxmox-pods-ssh-'))) {
        const text = await readFile(path.join(tmpdir(), d, 'known_hosts'), 'utf8').catch(() => '');
        if (text.includes(blob)) found.push(text);
      }
      return found;
    };
    const exec = pinned();
    // While a command runs, its known_hosts exists and holds exactly the pinned key.
    const during = await exec.run('sh', ['-c', 'grep -l -F -e "$1" "$2"/proxmox-pods-ssh-*/known_hosts | xargs cat', 'sh', blob, tmpdir()]);
    expect(during.stdout.trim().split('\n')).toHaveLength(1);
    expect(during.stdout).toContain(blob);
    await exec.run('true', []);
    expect(await ours()).toEqual([]);
  });

  test('stdin, stdout, stderr and exit codes pass through', async () => {
    const exec = pinned();
    expect((await exec.run('cat', [], { input: 'line 1\nline 2\n' })).stdout).toBe('line 1\nline 2\n');
    const r = await exec.run('sh', ['-c', 'echo out; echo err >&2; exit 3'], { allowFailure: true });
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    const err = await exec.run('sh', ['-c', 'echo boom >&2; exit 4']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostCommandError);
    expect((err as Error).message).toMatch(/node pve1: .*failed \(exit 4\): boom/);
  });

  test('a host lock is taken on the node, around the command', async () => {
    const exec = pinned();
    const lock = { path: path.join(dir, 'host.lock'), waitMs: 1000 };
    // The "node" is this machine, so a holder here is a holder there: the command waits, then gives up unrun.
    const holder = await holdLock(lock);
    try {
      const r = await exec.run('touch', [marker], { lock, allowFailure: true });
      expect(r).toMatchObject({ exitCode: 75, stderr: expect.stringContaining(`another command held the host lock ${lock.path}`) });
      expect((await execa('test', ['-e', marker], { reject: false })).exitCode).not.toBe(0);
    } finally {
      await holder.stop();
    }
    expect((await exec.run('sh', ['-c', 'echo free'], { lock })).stdout).toBe('free\n');
  });

  test('a host key that does not match the pin is refused before connecting', async () => {
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, identityFile: sshd.identityFile, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` });
    const err = await exec.run('touch', [marker]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect((err as Error).message).toContain(sshd.hostKeyFingerprint);
    expect((err as Error).message).toContain('proxmox-pods:hosts.pve1.ssh.hostKeyFingerprint');
    expect((await execa('test', ['-e', marker], { reject: false })).exitCode).not.toBe(0);
  });

  test('without a pin, an unknown host key fails (strict checking, no trust on first use)', async () => {
    const empty = path.join(dir, 'empty_known_hosts');
    await writeFile(empty, '');
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, identityFile: sshd.identityFile, knownHostsFile: empty });
    const err = await exec.run('true', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshConnectError);
    expect((err as Error).message).toMatch(/Host key verification failed/);
    expect((await execa('cat', [empty])).stdout).toBe('');
  });

  test('a key the server does not accept is a connection error naming the config', async () => {
    const other = path.join(dir, 'other_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, identityFile: other, hostKeyFingerprint: sshd.hostKeyFingerprint });
    const err = await exec.run('true', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshConnectError);
    expect((err as Error).message).toMatch(/Permission denied.*proxmox-pods:hosts\.pve1\.ssh/);
  });

  test('nothing listening: a connection error, not a command failure', async () => {
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: 1, identityFile: sshd.identityFile, knownHostsFile: '/dev/null', connectTimeoutSec: 2 });
    await expect(exec.run('true', [])).rejects.toBeInstanceOf(SshConnectError);
  });

  test('authenticates through the ssh agent when no identity file is given', async () => {
    const sock = path.join(dir, 'agent.sock');
    agent = execa('ssh-agent', ['-D', '-a', sock], { reject: false });
    for (let i = 0; i < 50 && (await execa('test', ['-S', sock], { reject: false })).exitCode !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    await execa('ssh-add', ['-q', sshd.identityFile], { env: { SSH_AUTH_SOCK: sock } });
    process.env.SSH_AUTH_SOCK = sock;
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, hostKeyFingerprint: sshd.hostKeyFingerprint });
    expect((await exec.run('id', ['-u'])).stdout.trim()).toBe('0');
    delete process.env.SSH_AUTH_SOCK;
    const noAgent = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, hostKeyFingerprint: sshd.hostKeyFingerprint });
    await expect(noAgent.run('true', [])).rejects.toBeInstanceOf(SshConnectError);
  });
});
