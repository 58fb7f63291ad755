// A real sshd on 127.0.0.1 for executor tests: temp host key, temp client key, random port; killed afterwards.
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { keyFingerprint } from '../../provider/host/ssh-executor';

export interface TestSshd {
  port: number;
  identityFile: string;
  hostKeyFingerprint: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startSshd(): Promise<TestSshd> {
  const sshd = '/usr/sbin/sshd';
  if ((await execa('test', ['-x', sshd], { reject: false })).exitCode !== 0) throw new Error('sshd is missing: run the tests through `npm test` (installs openssh-server)');
  const dir = await mkdtemp(path.join(tmpdir(), 'pp-sshd-'));
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  await writeFile(config, [
    `ListenAddress 127.0.0.1:${port}`, `HostKey ${hostKey}`, `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'StrictModes no',
    `PidFile ${path.join(dir, 'sshd.pid')}`, 'UsePAM no', '',
  ].join('\n'));
  const proc: ResultPromise = execa(sshd, ['-D', '-e', '-f', config], { reject: false });
  for (let i = 0; i < 50; i++) {
    const probe = await execa('ssh-keyscan', ['-p', String(port), '-T', '2', '127.0.0.1'], { reject: false });
    if (String(probe.stdout).includes('ssh-ed25519')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const fp = keyFingerprint(String(await readFile(`${hostKey}.pub`)).replace(/^/, 'host '))!;
  return {
    port,
    identityFile: clientKey,
    hostKeyFingerprint: fp,
    async stop() {
      proc.kill('SIGTERM');
      await proc;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
