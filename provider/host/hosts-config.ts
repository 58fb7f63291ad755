// How the provider reaches each PVE node's shell (`proxmox-pods:hosts`): a local shell, a network namespace (tests
// and the demo: a namespace stands for a node), or SSH.
import { z } from 'zod';
import { InputError } from '../errors';
import { LocalExecutor, type Executor } from './executor';
import { SshExecutor, sshTargetSchema } from './ssh-executor';

const nsName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'must be a network namespace name ([A-Za-z0-9_.-], at most 64)' });

export const hostAccessSchema = z.union([
  z.object({ local: z.literal(true) }).strict(),
  z.object({ netns: nsName }).strict(),
  z.object({ ssh: sshTargetSchema }).strict(),
]);

export const hostsConfigSchema = z.record(z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, { message: 'keys are PVE node names' }), hostAccessSchema);
export type HostsConfig = z.infer<typeof hostsConfigSchema>;

export function parseHostsConfig(raw: unknown): HostsConfig {
  const r = hostsConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new InputError(`proxmox-pods:hosts.${issue.path.join('.')}`, issue.message, 'each node takes {"local":true}, {"netns":"name"} or {"ssh":{"host":"…","user":"root"}}');
  }
  return r.data;
}

export function executorFor(node: string, hosts: HostsConfig): Executor {
  const access = hosts[node];
  if (!access) throw new InputError('proxmox-pods:hosts', `has no entry for node ${node}`, `add "${node}": {"ssh":{"host":"…"}} (or {"local":true} when running on the node)`);
  if ('local' in access) return new LocalExecutor(node);
  if ('netns' in access) return new LocalExecutor(node, { netns: access.netns });
  return new SshExecutor(node, access.ssh);
}
