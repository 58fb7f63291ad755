// Executors against real parts: a real sshd on loopback (pinned host key, hostile arguments), and a network
// namespace standing for a node.
import { execa } from 'execa';
import { LocalExecutor, HostCommandError } from '../../provider/host/executor';
import { executorFor, parseHostsConfig } from '../../provider/host/hosts-config';
import { HostKeyMismatchError, SshExecutor } from '../../provider/host/ssh-executor';
import { startSshd, type TestSshd } from '../helpers/sshd';

const hostile = ["; rm -rf /tmp/pp-should-not-exist", '$(touch /tmp/pp-pwned)', '`id`', "it's \"quoted\"", 'two\nlines', '', '  spaces  ', '*', '\\back'];

describe('SSH executor (real sshd)', () => {
  let sshd: TestSshd;
  beforeAll(async () => {
    sshd = await startSshd();
  }, 30_000);
  afterAll(async () => sshd?.stop());

  test('passes every argument through verbatim, never to a shell', async () => {
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: sshd.identityFile, hostKeyFingerprint: sshd.hostKeyFingerprint });
    const r = await exec.run('printf', ['%s\\0', ...hostile]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(hostile);
    expect((await execa('test', ['-e', '/tmp/pp-pwned'], { reject: false })).exitCode).not.toBe(0);
    const input = await exec.run('cat', [], { input: 'from stdin\n' });
    expect(input.stdout).toBe('from stdin\n');
    await expect(exec.run('false', [])).rejects.toBeInstanceOf(HostCommandError);
  });

  test('refuses a host whose key does not match the pinned fingerprint', async () => {
    const exec = new SshExecutor('pve1', { host: '127.0.0.1', port: sshd.port, identityFile: sshd.identityFile, hostKeyFingerprint: 'SHA256:' + 'A'.repeat(43) });
    await expect(exec.run('true', [])).rejects.toBeInstanceOf(HostKeyMismatchError);
  });
});

describe('host access config', () => {
  test('names the node and the fix', () => {
    expect(() => executorFor('pve9', parseHostsConfig({ pve1: { local: true } }))).toThrow(/proxmox-pods:hosts: has no entry for node pve9/);
    expect(() => parseHostsConfig({ pve1: { ssh: { host: 'a b' } } })).toThrow(/proxmox-pods:hosts\.pve1/);
    expect(executorFor('pve1', parseHostsConfig({ pve1: { netns: 'x' } }))).toBeInstanceOf(LocalExecutor);
  });

  test('a netns executor runs inside the namespace', async () => {
    const ns = `pp-exec-${process.pid}`;
    await execa('ip', ['netns', 'add', ns]);
    try {
      await execa('ip', ['-n', ns, 'link', 'add', 'ppbr0', 'type', 'bridge']);
      const exec = executorFor('pve1', parseHostsConfig({ pve1: { netns: ns } }));
      const r = await exec.run('ip', ['-br', 'link']);
      expect(r.stdout).toContain('ppbr0');
      const outside = await execa('ip', ['-br', 'link']);
      expect(outside.stdout).not.toContain('ppbr0');
    } finally {
      await execa('ip', ['netns', 'del', ns], { reject: false });
    }
  });
});
