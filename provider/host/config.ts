// How the provider reaches each PVE node's shell (`proxmox-pods:hosts`): a local shell, a network namespace (tests
// and the demo: a namespace stands for a node), or SSH.
import { z } from 'zod';
import { InputError } from '../errors';
import { NODE_RE } from '../proxmox/ids';
import { LocalExecutor, type Executor } from './executor';
import { SshExecutor, sshTargetSchema } from './ssh';

/** `ip netns` names become files under /run/netns: no '/', no leading '-' or '.'. */
const netnsName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, { message: 'must be a network namespace name (1–64 of [A-Za-z0-9_.-], not starting with "-" or ".")' });

export const hostAccessSchema = z.union([
  z.object({ local: z.literal(true) }).strict(),
  z.object({ netns: netnsName }).strict(),
  z.object({ ssh: sshTargetSchema }).strict(),
]);
export type HostAccess = z.infer<typeof hostAccessSchema>;

const nodeName = z.string().regex(NODE_RE, { message: 'keys are PVE node names' });
export const hostsConfigSchema = z.record(nodeName, hostAccessSchema);
export type HostsConfig = z.infer<typeof hostsConfigSchema>;

const CONFIG_KEY = 'proxmox-pods:hosts';
const SHAPES = 'each node takes {"local":true}, {"netns":"name"} or {"ssh":{"host":"…","user":"root","hostKeyFingerprint":"SHA256:…"}}';

/** Validates the whole map; errors name the exact entry (`proxmox-pods:hosts.pve1.ssh.port`). */
export function parseHostsConfig(raw: unknown): HostsConfig {
  const r = hostsConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? `${CONFIG_KEY}.${issue.path.join('.')}` : CONFIG_KEY;
    throw new InputError(where, issue.message, SHAPES);
  }
  return r.data;
}

export function executorFor(node: string, hosts: HostsConfig): Executor {
  const access = Object.hasOwn(hosts, node) ? hosts[node] : undefined;
  if (!access) {
    throw new InputError(CONFIG_KEY, `has no entry for node ${node}`, `add "${node}": {"ssh":{"host":"…"}} (or {"local":true} when running on the node)`);
  }
  if ('local' in access) return new LocalExecutor(node);
  if ('netns' in access) return new LocalExecutor(node, { netns: access.netns });
  return new SshExecutor(node, access.ssh);
}
