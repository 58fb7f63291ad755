// PortForward on a node: node address:port → pod ip:port through nftables DNAT, in the provider's own table
// (`table ip proxmox_pods`) so that no other table or rule on the node is ever touched. Each forward's rules carry a
// comment with the resource id and the spec, which is how list/remove find them again (and how refresh sees drift).
// Scripts are built from schema-validated values only and fed to `nft -f -` on stdin: one script, one transaction.
import { z } from 'zod';
import { InputError, ProxmoxPodsError, CapabilityError } from '../errors';
import { detectCapabilities, requireCapability } from './capabilities';
import type { Executor } from './executor';
import { ipv4Schema, portSchema, validate } from './names';

export const TABLE = 'proxmox_pods';
type Chain = 'prerouting' | 'output' | 'postrouting';

export const forwardIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1–64 of [A-Za-z0-9_.:-]' });

export const forwardSpecSchema = z
  .object({
    id: forwardIdSchema,
    /** Absent: every address of the node (`fib daddr type local`). */
    listenAddress: ipv4Schema.optional(),
    /** The node's port clients connect to. */
    listenPort: portSchema,
    /** "tcp" or "udp". */
    protocol: z.enum(['tcp', 'udp'], { message: 'must be "tcp" or "udp"' }),
    /** Where connections go: the pod's IPv4 address. */
    targetIp: ipv4Schema,
    /** The pod's port. */
    targetPort: portSchema,
    /**
     * SNAT forwarded connections to the node so replies come back through it: needed when the pod's default route is
     * not this node, and for connections the node makes itself. Only connections this forward DNATed are masqueraded.
     * @default true
     */
    masquerade: z.boolean().default(true),
    /**
     * Whose forward this is: 8 hex digits of the owner's tag (provider/resources/common/owner.ts), so that forwards of
     * the same name from two stacks on one node are told apart. Absent on rules made before owner records.
     */
    owner: z.string().regex(/^[0-9a-f]{8}$/, { message: 'must be 8 hex digits' }).optional(),
  })
  .strict();
export type ForwardSpec = z.infer<typeof forwardSpecSchema>;
export type ForwardInput = z.input<typeof forwardSpecSchema>;
export type ForwardState = ForwardSpec & { complete: boolean };

export class PortInUseError extends ProxmoxPodsError {
  constructor(readonly node: string, spec: ForwardSpec, readonly owner: string, ownerTag?: string) {
    const whose = ownerTag ? ` of another stack (owner tag ${ownerTag}; its rules' comments in \`nft list table ip ${TABLE}\` end with it)` : '';
    super(`node ${node}: ${spec.protocol} port ${spec.listenAddress ?? '*'}:${spec.listenPort} is already forwarded by PortForward ${owner}${whose}; pick another listenPort or remove that forward`, 'E_PORT_IN_USE');
  }
}

export function parseForwardSpec(input: unknown): ForwardSpec {
  const r = forwardSpecSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new InputError(issue.path.join('.') || 'forward', issue.message);
  }
  return r.data;
}

/**
 * The comment every rule of a forward carries: `pp|<id>|<proto>|<addr or *>|<port>|<ip>|<port>|<m or ->[|<owner>]`.
 * nft takes at most 128 characters (NFTNL_UDATA_COMMENT_MAXLEN); the longest is 126, hence 8 hex digits of owner.
 */
export function encodeComment(s: ForwardSpec): string {
  return ['pp', s.id, s.protocol, s.listenAddress ?? '*', s.listenPort, s.targetIp, s.targetPort, s.masquerade ? 'm' : '-', ...(s.owner ? [s.owner] : [])].join('|');
}

export function decodeComment(comment: string): ForwardSpec | undefined {
  const p = comment.split('|');
  if ((p.length !== 8 && p.length !== 9) || p[0] !== 'pp') return undefined;
  const r = forwardSpecSchema.safeParse({
    id: p[1], protocol: p[2], listenAddress: p[3] === '*' ? undefined : p[3], listenPort: Number(p[4]), targetIp: p[5], targetPort: Number(p[6]), masquerade: p[7] === 'm',
    ...(p.length === 9 ? { owner: p[8] } : {}),
  });
  return r.success ? r.data : undefined;
}

/** A forward's identity on a node: its id and owner (none for rules made before owner records). */
const keyOf = (s: Pick<ForwardSpec, 'id' | 'owner'>) => `${s.owner ?? ''}/${s.id}`;
export const sameForward = (a: Pick<ForwardSpec, 'id' | 'owner'>, b: Pick<ForwardSpec, 'id' | 'owner'>) => keyOf(a) === keyOf(b);

/** Whether two forwards would answer the same packets. Pure. */
export function listensOverlap(a: ForwardSpec, b: ForwardSpec): boolean {
  return a.protocol === b.protocol && a.listenPort === b.listenPort && (!a.listenAddress || !b.listenAddress || a.listenAddress === b.listenAddress);
}

/** The table and chains, declared idempotently (a declaration merges with what exists). Pure. */
export function baseScript(): string[] {
  return [
    `table ip ${TABLE} {`,
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
    '  chain output { type nat hook output priority -100; policy accept; }',
    '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }',
    '}',
  ];
}

/** The rules of one forward. Pure; every value in them went through the schema. */
export function forwardRules(input: ForwardInput): string[] {
  const s = parseForwardSpec(input);
  const c = `comment "${encodeComment(s)}"`;
  const match = s.listenAddress ? `ip daddr ${s.listenAddress}` : 'fib daddr type local';
  const dnat = `${match} ${s.protocol} dport ${s.listenPort} dnat to ${s.targetIp}:${s.targetPort} ${c}`;
  const rules = [`add rule ip ${TABLE} prerouting ${dnat}`, `add rule ip ${TABLE} output ${dnat}`];
  if (s.masquerade) {
    rules.push(`add rule ip ${TABLE} postrouting ip daddr ${s.targetIp} ${s.protocol} dport ${s.targetPort} ct status dnat ct original proto-dst ${s.listenPort} masquerade ${c}`);
  }
  return rules;
}

const requiredChains = (s: ForwardSpec): Chain[] => (s.masquerade ? ['prerouting', 'output', 'postrouting'] : ['prerouting', 'output']);

const nftListSchema = z.object({
  nftables: z.array(z.object({ rule: z.object({ chain: z.string(), handle: z.number().int(), comment: z.string().optional(), expr: z.array(z.unknown()).optional() }).loose().optional() }).loose()),
});

// The two expression shapes of our DNAT rules in `nft -j` (libnftables-json(5)): a payload match and the dnat.
const payloadMatchSchema = z.object({
  match: z.object({ left: z.object({ payload: z.object({ protocol: z.string().optional(), field: z.string() }).loose() }).loose(), right: z.unknown() }).loose(),
}).loose();
const dnatSchema = z.object({ dnat: z.object({ addr: z.string(), port: z.number().int().optional() }).loose() }).loose();

/**
 * What a DNAT rule (prerouting/output) really does, read from its expressions in `nft -j` form (the address and
 * port it matches, where it sends them), laid over the spec its comment records: a rule edited by hand under our
 * comment then reads as the forward it now is, and refresh shows the changed field (`~ targetIp`). Pure.
 */
export function effectiveSpec(chain: string, spec: ForwardSpec, expr: readonly unknown[] | undefined): ForwardSpec {
  if (!expr || (chain !== 'prerouting' && chain !== 'output')) return spec;
  const out: ForwardSpec = { ...spec };
  let dnat = false;
  let daddr: string | undefined;
  for (const e of expr) {
    const match = payloadMatchSchema.safeParse(e);
    if (match.success) {
      const { left, right } = match.data.match;
      if (left.payload.field === 'daddr' && typeof right === 'string') daddr = right;
      if (left.payload.field === 'dport' && typeof right === 'number' && (left.payload.protocol === 'tcp' || left.payload.protocol === 'udp')) {
        out.protocol = left.payload.protocol;
        out.listenPort = right;
      }
    }
    const target = dnatSchema.safeParse(e);
    if (target.success) {
      dnat = true;
      out.targetIp = target.data.dnat.addr;
      if (target.data.dnat.port !== undefined) out.targetPort = target.data.dnat.port;
    }
  }
  out.listenAddress = daddr;
  // Not a DNAT rule any more (or not one we can read): judged by its comment alone.
  return dnat && forwardSpecSchema.safeParse(out).success ? out : spec;
}

interface RuleRef {
  chain: string;
  handle: number;
  spec?: ForwardSpec;
}

/** Every rule in our table (also rules without our comment, which count when deciding whether the table is empty). */
async function listRules(exec: Executor): Promise<RuleRef[] | undefined> {
  const r = await exec.run('nft', ['-j', 'list', 'table', 'ip', TABLE], { allowFailure: true });
  if (r.exitCode !== 0) {
    if (/No such file or directory|does not exist/i.test(r.stderr)) return undefined;
    throw new ProxmoxPodsError(`node ${exec.node}: nft list table ip ${TABLE} failed: ${r.stderr.trim()}`, 'E_HOST_COMMAND');
  }
  const doc = nftListSchema.parse(JSON.parse(r.stdout));
  return doc.nftables.flatMap((i) => {
    if (!i.rule) return [];
    const recorded = i.rule.comment ? decodeComment(i.rule.comment) : undefined;
    return [{ chain: i.rule.chain, handle: i.rule.handle, spec: recorded && effectiveSpec(i.rule.chain, recorded, i.rule.expr) }];
  });
}

/** Groups rules by forward id; `complete` is false when a rule was removed behind our back (drift). Pure. */
export function forwardsFromRules(rules: readonly RuleRef[]): ForwardState[] {
  const byId = new Map<string, { spec: ForwardSpec; chains: Set<string>; consistent: boolean }>();
  for (const r of rules) {
    if (!r.spec) continue;
    const e = byId.get(keyOf(r.spec));
    if (!e) byId.set(keyOf(r.spec), { spec: r.spec, chains: new Set([r.chain]), consistent: true });
    else {
      e.chains.add(r.chain);
      if (encodeComment(e.spec) !== encodeComment(r.spec)) e.consistent = false;
    }
  }
  return [...byId.values()]
    .map(({ spec, chains, consistent }) => ({ ...spec, complete: consistent && requiredChains(spec).every((c) => chains.has(c)) }))
    .sort((a, b) => a.id.localeCompare(b.id) || (a.owner ?? '').localeCompare(b.owner ?? ''));
}

/** Every forward on the node (for read/refresh). */
export async function listForwards(exec: Executor): Promise<ForwardState[]> {
  return forwardsFromRules((await listRules(exec)) ?? []);
}

async function runScript(exec: Executor, lines: string[]): Promise<void> {
  await exec.run('nft', ['-f', '-'], { input: `${lines.join('\n')}\n` });
}

// Check-then-change must not interleave for one node: Pulumi runs resources in parallel within one provider process.
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(exec: Executor, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(exec.node) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  // The caller gets `next` and its error; the queue only needs to know it settled.
  const tail = next.catch(() => undefined);
  queues.set(exec.node, tail);
  void tail.then(() => {
    if (queues.get(exec.node) === tail) queues.delete(exec.node);
  });
  return next;
}

async function requireNat(exec: Executor): Promise<void> {
  const caps = await detectCapabilities(exec);
  requireCapability(caps, 'nft');
  requireCapability(caps, 'nftablesNat');
  // A setting, not a capability: read it every time.
  const fwd = await exec.run('sysctl', ['-n', 'net.ipv4.ip_forward']);
  if (fwd.stdout.trim() !== '1') {
    throw new CapabilityError(exec.node, 'IPv4 forwarding (net.ipv4.ip_forward)', 'enable it with `sysctl -w net.ipv4.ip_forward=1` and persist it in /etc/sysctl.d (PVE nodes that route for their guests have it on)');
  }
}

/**
 * Idempotent: the same id and spec is a no-op; the same id with another spec (or with rules missing) is replaced in
 * one transaction. A different forward already listening on the same address/port/protocol is a PortInUseError.
 * Identity is id + owner: another stack's forward of the same name is never replaced. Rules of the same id made
 * before owner records (no owner) are taken over by an owner's forward, as older versions did.
 */
export async function addForward(exec: Executor, input: ForwardInput, opts: { previousOwner?: string } = {}): Promise<ForwardSpec> {
  const spec = parseForwardSpec(input);
  return serialized(exec, async () => {
    await requireNat(exec);
    const rules = (await listRules(exec)) ?? [];
    const current = forwardsFromRules(rules);
    // Also the same forward under its previous owner (a renamed stack): replaced in the same transaction.
    const ours = (f: Pick<ForwardSpec, 'id' | 'owner'>) =>
      sameForward(f, spec) || (f.id === spec.id && (!f.owner || (opts.previousOwner !== undefined && f.owner === opts.previousOwner)));
    const clash = current.find((f) => !ours(f) && listensOverlap(f, spec));
    if (clash) throw new PortInUseError(exec.node, spec, clash.id, clash.owner && clash.owner !== spec.owner ? clash.owner : undefined);
    const mine = current.find((f) => sameForward(f, spec));
    if (mine?.complete && encodeComment(mine) === encodeComment(spec)) return spec;
    const stale = rules.filter((r) => r.spec && ours(r.spec));
    await runScript(exec, [...baseScript(), ...stale.map((r) => `delete rule ip ${TABLE} ${r.chain} handle ${r.handle}`), ...forwardRules(spec)]);
    return spec;
  });
}

/**
 * Removes the forward's rules; idempotent (already gone = false). When no rule is left, the table goes too, so a
 * destroyed stack leaves the node's ruleset as it found it.
 */
export async function removeForward(exec: Executor, id: string, owner?: string): Promise<boolean> {
  validate(forwardIdSchema, 'id', id);
  return serialized(exec, async () => {
    const rules = await listRules(exec);
    if (!rules) return false;
    // Only this owner's rules (another stack's forward of the same name stays).
    const mine = rules.filter((r) => r.spec && sameForward(r.spec, { id, owner }));
    if (mine.length === rules.length) {
      await runScript(exec, [`delete table ip ${TABLE}`]);
      return mine.length > 0;
    }
    if (!mine.length) return false;
    await runScript(exec, mine.map((r) => `delete rule ip ${TABLE} ${r.chain} handle ${r.handle}`));
    return true;
  });
}

/** Drops the provider's table when no rule is left in it. */
export function pruneTable(exec: Executor): Promise<void> {
  return serialized(exec, async () => {
    const rules = await listRules(exec);
    if (rules && rules.length === 0) await runScript(exec, [`delete table ip ${TABLE}`]);
  });
}
