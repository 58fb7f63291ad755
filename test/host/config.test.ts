import { execa } from 'execa';
import { InputError } from '../../provider/errors';
import { executorFor, parseHostsConfig } from '../../provider/host/config';
import { LocalExecutor } from '../../provider/host/executor';
import { SshExecutor } from '../../provider/host/ssh';
import { requireTools } from './support/tools';

describe('proxmox-pods:hosts config', () => {
  test('each access kind yields its executor', () => {
    const hosts = parseHostsConfig({
      pve1: { local: true },
      pve2: { netns: 'pp-node2' },
      pve3: { ssh: { host: 'pve3.lan', hostKeyFingerprint: `SHA256:${'a'.repeat(43)}` } },
    });
    expect(executorFor('pve1', hosts)).toBeInstanceOf(LocalExecutor);
    expect(executorFor('pve2', hosts)).toBeInstanceOf(LocalExecutor);
    const ssh = executorFor('pve3', hosts) as SshExecutor;
    expect(ssh).toBeInstanceOf(SshExecutor);
    expect(ssh.node).toBe('pve3');
    expect(ssh.target).toMatchObject({ host: 'pve3.lan', port: 22, user: 'root' });
  });

  test('a node without an entry names proxmox-pods:hosts and the fix', () => {
    const hosts = parseHostsConfig({ pve1: { local: true } });
    expect(() => executorFor('pve9', hosts)).toThrow(InputError);
    expect(() => executorFor('pve9', hosts)).toThrow(/^proxmox-pods:hosts: has no entry for node pve9 \(add "pve9"/);
    // Object prototype keys are not entries.
    expect(() => executorFor('constructor', hosts)).toThrow(/has no entry for node constructor/);
  });

  test.each([
    [{ pve1: { ssh: { host: '-oProxyCommand=x' } } }, /proxmox-pods:hosts\.pve1\.ssh\.host: .*no leading "-"/],
    [{ pve1: { ssh: { host: 'a b' } } }, /proxmox-pods:hosts\.pve1\.ssh\.host/],
    [{ pve1: { ssh: { host: 'h', port: 0 } } }, /proxmox-pods:hosts\.pve1\.ssh\.port: must be 1–65535/],
    [{ pve1: { ssh: { host: 'h', user: 'root;id' } } }, /proxmox-pods:hosts\.pve1\.ssh\.user/],
    [{ pve1: { ssh: { host: 'h', identityFile: 'id_rsa' } } }, /ssh\.identityFile: must be an absolute path/],
    [{ pve1: { ssh: { host: 'h', hostKeyFingerprint: 'MD5:aa' } } }, /ssh\.hostKeyFingerprint: must look like SHA256/],
    [{ pve1: { netns: '../x' } }, /proxmox-pods:hosts\.pve1/],
    [{ 'bad node': { local: true } }, /proxmox-pods:hosts/],
    [{ pve1: { local: false } }, /proxmox-pods:hosts\.pve1/],
    [{ pve1: { local: true, netns: 'x' } }, /proxmox-pods:hosts\.pve1/],
    ['pve1', /proxmox-pods:hosts/],
  ])('rejects %j', (raw, msg) => {
    expect(() => parseHostsConfig(raw)).toThrow(InputError);
    expect(() => parseHostsConfig(raw)).toThrow(msg);
  });

  test('a netns entry runs commands inside that namespace only', async () => {
    await requireTools('ip');
    const ns = `pp-cfg-${process.pid}`;
    await execa('ip', ['netns', 'add', ns]);
    try {
      await execa('ip', ['-n', ns, 'link', 'add', `ppcfg${process.pid % 10000}`, 'type', 'bridge']);
      const exec = executorFor('pve1', parseHostsConfig({ pve1: { netns: ns } }));
      expect((await exec.run('ip', ['-br', 'link'])).stdout).toContain(`ppcfg${process.pid % 10000}`);
      expect(String((await execa('ip', ['-br', 'link'])).stdout)).not.toContain(`ppcfg${process.pid % 10000}`);
    } finally {
      await execa('ip', ['netns', 'del', ns], { reject: false });
    }
  });
});
