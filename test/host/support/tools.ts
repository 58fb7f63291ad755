// The host suites need real tools. A missing one fails the suite with the package to install (never a silent skip).
import { execa } from 'execa';

const PACKAGE: Record<string, string> = {
  ip: 'iproute2', bridge: 'iproute2', nft: 'nftables', sshd: 'openssh-server', ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client', 'ssh-keyscan': 'openssh-client', 'ssh-agent': 'openssh-client', 'ssh-add': 'openssh-client',
  unshare: 'util-linux', flock: 'util-linux', nsenter: 'util-linux', node: 'nodejs', dig: 'dnsutils', dnsmasq: 'dnsmasq-base',
};

export async function requireTools(...tools: string[]): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) {
    const r = await execa('sh', ['-c', 'command -v "$1" || test -x "/usr/sbin/$1"', 'sh', t], { reject: false });
    if (r.exitCode !== 0) missing.push(t);
  }
  if (missing.length) {
    const pkgs = [...new Set(missing.map((t) => PACKAGE[t] ?? t))].join(' ');
    throw new Error(`missing host tools: ${missing.join(', ')}; install them with \`apt-get install -y ${pkgs}\` (scripts/apt-packages.txt lists them)`);
  }
}
