// Each emulated node is a network namespace: its vmbr0 with the address its network config lists, the bridges a
// network apply adds, and forwarding on (a PVE node routes for its pods). Host commands are argument arrays.
import { execa } from 'execa';
import type { Iface } from '../cluster';

const bridgesOf = (list: ReadonlyArray<Record<string, unknown>>) =>
  new Map(list.filter((i) => i['type'] === 'bridge').map((i) => [String(i['iface']), i]));

export class NodeNamespaces {
  private readonly made = new Map<string, string>();

  constructor(private readonly prefix: string) {}

  nameOf(node: string): string {
    const ns = this.made.get(node);
    if (!ns) throw new Error(`node ${node} has no namespace`);
    return ns;
  }

  /** `{ node: { netns } }`: what a stack sets as `proxmox-pods:hosts` so host-side resources act on these nodes. */
  hosts(): Record<string, { netns: string }> {
    return Object.fromEntries([...this.made].map(([node, netns]) => [node, { netns }]));
  }

  async create(node: string, network: readonly Iface[]): Promise<void> {
    const ns = `${this.prefix}-${node}`;
    // A namespace of this name is left from a crashed run with the same prefix (random per emulator): replace it.
    await execa('ip', ['netns', 'del', ns], { reject: false });
    await execa('ip', ['netns', 'add', ns]);
    this.made.set(node, ns);
    await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // PVE nodes route for their pods (PortForward DNATs from the node into a bridge).
    await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await this.apply(node, [], network);
  }

  /** Makes the namespace's bridges follow a network apply (as the e2e host backend did): added, removed, addressed. */
  async apply(node: string, before: ReadonlyArray<Record<string, unknown>>, after: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    const ns = this.nameOf(node);
    const a = bridgesOf(after);
    const b = bridgesOf(before);
    for (const [name, i] of a) {
      if (b.has(name)) continue;
      await execa('ip', ['-n', ns, 'link', 'add', name, 'type', 'bridge']);
      if (i['mtu']) await execa('ip', ['-n', ns, 'link', 'set', name, 'mtu', String(i['mtu'])]);
      if (i['cidr']) await execa('ip', ['-n', ns, 'addr', 'add', String(i['cidr']), 'dev', name]);
      await execa('ip', ['-n', ns, 'link', 'set', name, 'up']);
    }
    for (const name of b.keys()) if (!a.has(name)) await execa('ip', ['-n', ns, 'link', 'del', name]);
  }

  /** MTU of each bridge that exists in the node's namespace. */
  async bridgeMtus(node: string): Promise<Map<string, number>> {
    const r = await execa('ip', ['-n', this.nameOf(node), '-j', 'link', 'show', 'type', 'bridge']);
    const links = JSON.parse(r.stdout || '[]') as Array<{ ifname: string; mtu: number }>;
    return new Map(links.map((l) => [l.ifname, l.mtu]));
  }

  /** Runs a command with the node's network namespace (only: mounts, cgroups and /sys stay the host's). */
  run(node: string, cmd: string, args: string[], opts: { timeout?: number; reject?: boolean } = {}) {
    return execa('nsenter', [`--net=/run/netns/${this.nameOf(node)}`, '--', cmd, ...args], { reject: opts.reject ?? true, ...(opts.timeout ? { timeout: opts.timeout } : {}) });
  }

  async removeAll(): Promise<string[]> {
    const errors: string[] = [];
    for (const [node, ns] of [...this.made]) {
      // Kill what still runs in the namespace (containers are stopped before; this is the safety net).
      const pids = await execa('ip', ['netns', 'pids', ns], { reject: false });
      for (const pid of String(pids.stdout).split(/\s+/).filter(Boolean)) await execa('kill', ['-9', pid], { reject: false });
      const r = await execa('ip', ['netns', 'del', ns], { reject: false });
      if (r.exitCode !== 0) errors.push(`netns ${ns}: ${r.stderr}`);
      this.made.delete(node);
    }
    return errors;
  }
}
