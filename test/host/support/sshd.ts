// A real sshd for executor tests, optionally inside a network namespace that stands for a node: temp host key,
// temp client key, temp authorized_keys, a chosen listen address. stop() kills it and removes its files.
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { keyFingerprint } from '../../../provider/host/ssh';

export interface NodeSshd {
  host: string;
  port: number;
  identityFile: string;
  hostKeyFingerprint: string;
  stop(): Promise<void>;
}

export async function startSshdIn(opts: { netns?: string; host: string; port: number }): Promise<NodeSshd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pp-host-sshd-'));
  let proc: ResultPromise | undefined;
  const stop = async () => {
    if (proc) {
      proc.kill('SIGTERM');
      await proc;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const hostKey = path.join(dir, 'host_ed25519');
    const clientKey = path.join(dir, 'client_ed25519');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
    await writeFile(path.join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`), { mode: 0o600 });
    const config = path.join(dir, 'sshd_config');
    await writeFile(config, [
      `ListenAddress ${opts.host}:${opts.port}`, `HostKey ${hostKey}`, `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'StrictModes no',
      `PidFile ${path.join(dir, 'sshd.pid')}`, 'UsePAM no', '',
    ].join('\n'));
    const argv = ['/usr/sbin/sshd', '-D', '-e', '-f', config];
    proc = opts.netns ? execa('ip', ['netns', 'exec', opts.netns, ...argv], { reject: false }) : execa(argv[0]!, argv.slice(1), { reject: false });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      const probe = await execa('ssh-keyscan', ['-p', String(opts.port), '-T', '1', opts.host], { reject: false });
      up = String(probe.stdout).includes('ssh-ed25519');
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    if (!up) throw new Error(`sshd did not come up on ${opts.host}:${opts.port}`);
    const fp = keyFingerprint(String(await readFile(`${hostKey}.pub`)));
    if (!fp) throw new Error('could not read the test host key');
    return { host: opts.host, port: opts.port, identityFile: clientKey, hostKeyFingerprint: fp, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
