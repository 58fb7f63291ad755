// PortForward on a node: node address:port → pod ip:port through nftables DNAT, in the provider's own table
// (`ip proxmox_pods`) so that no other rule on the node is ever touched. Each forward's rules carry a comment with the
// resource id and the spec, which is how list/remove find them again. Scripts are built from validated values only
// and fed to `nft -f -` on stdin.
import { z } from 'zod';
import { CapabilityError, InputError, ProxmoxPodsError } from '../errors';
import type { Executor } from './executor';

export const TABLE = 'proxmox_pods';
const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const forwardId = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1–64 of [A-Za-z0-9_.:-]' });

export const forwardSpecSchema = z
  .object({
    id: forwardId,
    listenAddress: z.string().regex(ipv4, { message: 'must be an IPv4 address of the node' }).optional(),
    listenPort: z.number().int().min(1, { message: 'must be 1–65535' }).max(65535, { message: 'must be 1–65535' }),
    protocol: z.enum(['tcp', 'udp'], { message: 'must be "tcp" or "udp"' }),
    targetIp: z.string().regex(ipv4, { message: 'must be the pod\'s IPv4 address' }),
    targetPort: z.number().int().min(1, { message: 'must be 1–65535' }).max(65535, { message: 'must be 1–65535' }),
    /** SNAT forwarded connections to the node so replies come back through it (pods whose gateway is another router). */
    masquerade: z.boolean().default(true),
  })
  .strict();
export type ForwardSpec = z.infer<typeof forwardSpecSchema>;

export class PortInUseError extends ProxmoxPodsError {
  constructor(node: string, spec: ForwardSpec, owner: string) {
    super(`node ${node}: ${spec.protocol} port ${spec.listenAddress ?? '*'}:${spec.listenPort} is already forwarded by ${owner}; pick another listenPort or remove that forward`, 'E_PORT_IN_USE');
  }
}

function parseSpec(input: unknown): ForwardSpec {
  const r = forwardSpecSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new InputError(issue.path.join('.') || 'forward', issue.message);
  }
  return r.data;
}

/** The comment every rule of a forward carries: `pp|<id>|<proto>|<addr or *>|<port>|<ip>|<port>|<m>` (< 128 chars). */
export function encodeComment(s: ForwardSpec): string {
  return ['pp', s.id, s.protocol, s.listenAddress ?? '*', s.listenPort, s.targetIp, s.targetPort, s.masquerade ? 'm' : '-'].join('|');
}

export function decodeComment(comment: string): ForwardSpec | undefined {
  const p = comment.split('|');
  if (p.length !== 8 || p[0] !== 'pp') return undefined;
  const r = forwardSpecSchema.safeParse({
    id: p[1], protocol: p[2], listenAddress: p[3] === '*' ? undefined : p[3], listenPort: Number(p[4]), targetIp: p[5], targetPort: Number(p[6]), masquerade: p[7] === 'm',
  });
  return r.success ? r.data : undefined;
}

const sameSpec = (a: ForwardSpec, b: ForwardSpec) => encodeComment(a) === encodeComment(b);

/** The table and chains, declared idempotently (a declaration merges with what exists). Pure. */
export function baseScript(): string {
  return [
    `table ip ${TABLE} {`,
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
    '  chain output { type nat hook output priority -100; policy accept; }',
    '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }',
    '}',
  ].join('\n');
}

/** The rules of one forward. Pure; every value in it has been validated by the schema. */
export function forwardRules(s: ForwardSpec): string[] {
  const c = `comment "${encodeComment(s)}"`;
  const match = s.listenAddress ? `ip daddr ${s.listenAddress}` : 'fib daddr type local';
  const dnat = `${match} ${s.protocol} dport ${s.listenPort} dnat to ${s.targetIp}:${s.targetPort} ${c}`;
  const rules = [`add rule ip ${TABLE} prerouting ${dnat}`, `add rule ip ${TABLE} output ${dnat}`];
  if (s.masquerade) rules.push(`add rule ip ${TABLE} postrouting ip daddr ${s.targetIp} ${s.protocol} dport ${s.targetPort} ct status dnat masquerade ${c}`);
  return rules;
}

interface RuleRef {
  chain: string;
  handle: number;
  spec: ForwardSpec;
}

async function listRules(exec: Executor): Promise<RuleRef[]> {
  const r = await exec.run('nft', ['-j', '-a', 'list', 'table', 'ip', TABLE], { allowFailure: true });
  if (r.exitCode !== 0) {
    if (/No such file or directory|does not exist/i.test(r.stderr)) return [];
    throw new ProxmoxPodsError(`node ${exec.node}: nft list table ip ${TABLE} failed: ${r.stderr.trim()}`, 'E_HOST_COMMAND');
  }
  const doc = JSON.parse(r.stdout) as { nftables: Array<{ rule?: { chain: string; handle: number; comment?: string } }> };
  const out: RuleRef[] = [];
  for (const item of doc.nftables) {
    const spec = item.rule?.comment ? decodeComment(item.rule.comment) : undefined;
    if (item.rule && spec) out.push({ chain: item.rule.chain, handle: item.rule.handle, spec });
  }
  return out;
}

/** Every forward on the node, with whether all of its rules are present (drift when not). */
export async function listForwards(exec: Executor): Promise<Array<ForwardSpec & { complete: boolean }>> {
  const byId = new Map<string, { spec: ForwardSpec; chains: Set<string> }>();
  for (const r of await listRules(exec)) {
    const e = byId.get(r.spec.id) ?? { spec: r.spec, chains: new Set<string>() };
    e.chains.add(r.chain);
    byId.set(r.spec.id, e);
  }
  return [...byId.values()].map(({ spec, chains }) => ({ ...spec, complete: chains.has('prerouting') && chains.has('output') && (!spec.masquerade || chains.has('postrouting')) }));
}

async function runScript(exec: Executor, script: string): Promise<void> {
  await exec.run('nft', ['-f', '-'], { input: `${script}\n` });
}

export async function removeForward(exec: Executor, id: string): Promise<boolean> {
  if (!forwardId.safeParse(id).success) throw new InputError('id', `"${id}" is not a forward id`, 'use 1–64 of [A-Za-z0-9_.:-]');
  const mine = (await listRules(exec)).filter((r) => r.spec.id === id);
  if (!mine.length) return false;
  await runScript(exec, mine.map((r) => `delete rule ip ${TABLE} ${r.chain} handle ${r.handle}`).join('\n'));
  return true;
}

/** Idempotent: the same id and spec is a no-op; the same id with another spec is replaced atomically. */
export async function addForward(exec: Executor, input: z.input<typeof forwardSpecSchema>): Promise<ForwardSpec> {
  const spec = parseSpec(input);
  const forwarding = await exec.run('sysctl', ['-n', 'net.ipv4.ip_forward'], { allowFailure: true });
  if (forwarding.stdout.trim() !== '1') throw new CapabilityError(exec.node, 'IPv4 forwarding (net.ipv4.ip_forward)', 'enable it with `sysctl -w net.ipv4.ip_forward=1` (PVE nodes that route for their guests have it on)');
  const nft = await exec.run('nft', ['--version'], { allowFailure: true });
  if (nft.exitCode !== 0) throw new CapabilityError(exec.node, 'nft (nftables)', 'install the nftables package on the node');
  const existing = await listRules(exec);
  const clash = existing.find(
    (r) => r.spec.id !== spec.id && r.spec.protocol === spec.protocol && r.spec.listenPort === spec.listenPort && (!r.spec.listenAddress || !spec.listenAddress || r.spec.listenAddress === spec.listenAddress),
  );
  if (clash) throw new PortInUseError(exec.node, spec, `PortForward ${clash.spec.id}`);
  const mine = existing.filter((r) => r.spec.id === spec.id);
  if (mine.length && mine.every((r) => sameSpec(r.spec, spec)) && (await listForwards(exec)).find((f) => f.id === spec.id)?.complete) return spec;
  // One script, one transaction: the old rules go and the new ones come together.
  const script = [baseScript(), ...mine.map((r) => `delete rule ip ${TABLE} ${r.chain} handle ${r.handle}`), ...forwardRules(spec)];
  await runScript(exec, script.join('\n'));
  return spec;
}

/** Drops the provider's table when no forward is left in it (destroy leaves the node clean). */
export async function pruneTable(exec: Executor): Promise<void> {
  if ((await listRules(exec)).length === 0) await exec.run('nft', ['delete', 'table', 'ip', TABLE], { allowFailure: true });
}
