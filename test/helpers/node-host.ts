// A node's host side for e2e suites on the in-memory emulator: a network namespace stands for the node, and the
// emulator's network apply makes (and removes) the real bridges there, as PVE's ifreload does on a node. Shared by
// the suites that need `proxmox-pods:hosts` without the lxc runtime (web, round trips of the host-side kinds).
import { execa } from 'execa';
import type { EmulatorOptions } from '../../emulator';

type HostBackend = NonNullable<EmulatorOptions['hostBackend']>;

/** `hostBackend.applyNetwork` that mirrors bridges (except vmbr0, which the node has anyway) into namespace `node`. */
export function bridgesInNetns(node: string): Pick<HostBackend, 'applyNetwork'> {
  return {
    async applyNetwork(_n, before, after) {
      const bridges = (l: ReadonlyArray<Record<string, unknown>>) => new Map(l.filter((i) => i.type === 'bridge' && i.iface !== 'vmbr0').map((i) => [String(i.iface), i]));
      const a = bridges(after), b = bridges(before);
      // Idempotent, as ifreload is: two applies running at once (resources created in parallel) may both see a
      // bridge as new.
      const exists = async (name: string) => (await execa('ip', ['-n', node, 'link', 'show', name], { reject: false })).exitCode === 0;
      for (const [name, i] of a) if (!b.has(name) && !(await exists(name))) {
        const add = await execa('ip', ['-n', node, 'link', 'add', name, 'type', 'bridge'], { reject: false });
        if (add.exitCode !== 0 && !/File exists/.test(add.stderr)) throw new Error(`ip link add ${name}: ${add.stderr}`);
        if (add.exitCode !== 0) continue; // the other apply made it
        if (i.cidr) await execa('ip', ['-n', node, 'addr', 'add', String(i.cidr), 'dev', name]);
        await execa('ip', ['-n', node, 'link', 'set', name, 'up']);
      }
      for (const name of b.keys()) if (!a.has(name) && (await exists(name))) await execa('ip', ['-n', node, 'link', 'del', name]);
    },
  };
}
