// Network namespaces the test run creates: each stands for a node, a pod or a client. Names carry the pid so
// parallel runs never collide; `cleanup()` deletes them all, even after a failure.
import { execa } from 'execa';

export class Netns {
  private readonly created: string[] = [];
  constructor(private readonly prefix = `pp${process.pid % 100000}`) {}

  async add(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`;
    await execa('ip', ['netns', 'del', name], { reject: false });
    await execa('ip', ['netns', 'add', name]);
    this.created.push(name);
    await this.exec(name, 'ip', ['link', 'set', 'lo', 'up']);
    return name;
  }

  exec(ns: string, cmd: string, args: string[], opts: { input?: string } = {}) {
    return execa('ip', ['netns', 'exec', ns, cmd, ...args], { input: opts.input });
  }

  /** A veth pair between two namespaces with an address on each end (a /24). */
  async link(a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string): Promise<void> {
    await execa('ip', ['link', 'add', `${aIf}`, 'netns', a, 'type', 'veth', 'peer', 'name', bIf, 'netns', b]);
    await this.exec(a, 'ip', ['addr', 'add', `${aAddr}/24`, 'dev', aIf]);
    await this.exec(b, 'ip', ['addr', 'add', `${bAddr}/24`, 'dev', bIf]);
    await this.exec(a, 'ip', ['link', 'set', aIf, 'up']);
    await this.exec(b, 'ip', ['link', 'set', bIf, 'up']);
  }

  async cleanup(): Promise<void> {
    for (const ns of this.created.splice(0)) {
      // Kill what still runs inside (servers started by the test), then drop the namespace.
      const pids = await execa('ip', ['netns', 'pids', ns], { reject: false });
      for (const pid of String(pids.stdout).split(/\s+/).filter(Boolean)) await execa('kill', ['-9', pid], { reject: false });
      await execa('ip', ['netns', 'del', ns], { reject: false });
    }
  }
}
