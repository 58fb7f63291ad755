// /nodes/{node}/network…: host interfaces with PVE's pending copy (interfaces.new), apply and revert.
import type { Iface, NodeState } from '../cluster';
import { fail } from '../errors';
import { Ctx, paramError, Reply, Route, startTask } from '../core';
import { bool, int, nodeProp, ParamSchema, str } from '../params';
import { isIpv4, isIpv4Cidr } from '../property-string';

const TYPES = ['bridge', 'bond', 'eth', 'alias', 'vlan', 'fabric', 'OVSBridge', 'OVSBond', 'OVSPort', 'OVSIntPort', 'vnet', 'unknown'] as const;
const ifaceProp = { type: 'string' as const, format: (v: string) => (/^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$/.test(v) ? undefined : 'invalid format - value does not look like a valid interface name') };

const editProps = {
  node: nodeProp,
  iface: ifaceProp,
  type: { type: 'string' as const, enum: TYPES },
  bridge_ports: str(), bridge_vlan_aware: bool(), bridge_vids: str(), mtu: int({ minimum: 1280, maximum: 65520 }), autostart: bool(),
  comments: str(), comments6: str(),
  cidr: str({ format: (v: string) => (isIpv4Cidr(v) ? undefined : 'invalid format - value does not look like a valid IPv4 network configuration') }),
  address: str({ format: (v: string) => (isIpv4(v) ? undefined : 'invalid format - value does not look like a valid IPv4 address') }),
  netmask: str(), gateway: str({ format: (v: string) => (isIpv4(v) ? undefined : 'invalid format - value does not look like a valid IPv4 address') }),
  cidr6: str(), address6: str(), netmask6: int({ minimum: 0, maximum: 128 }), gateway6: str(),
  slaves: str(), bond_mode: str({ enum: ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'] }),
  'bond-primary': str(), bond_xmit_hash_policy: str({ enum: ['layer2', 'layer2+3', 'layer3+4'] }), 'vlan-raw-device': str(), 'vlan-id': int({ minimum: 1, maximum: 4094 }),
};

const LIST_KEYS = ['bridge_ports', 'slaves'];

function current(n: NodeState): Iface[] {
  return n.network.pending ?? n.network.active;
}

/** Writes go to a copy of the pending file, made from the active one on first change. */
function pendingCopy(n: NodeState): Iface[] {
  n.network.pending ??= n.network.active.map((i) => ({ ...i }));
  return n.network.pending;
}

function interfacesText(list: Iface[]): string {
  const out: string[] = [];
  for (const i of [...list].sort((a, b) => Number(a['priority'] ?? 99) - Number(b['priority'] ?? 99) || a.iface.localeCompare(b.iface))) {
    if (i['autostart']) out.push(`auto ${i.iface}`);
    out.push(`iface ${i.iface} inet ${i['method'] ?? 'manual'}`);
    const attr = (k: string, name = k.replace(/_/g, '-')) => i[k] !== undefined && out.push(`\t${name} ${i[k]}`);
    attr('cidr', 'address');
    attr('gateway');
    attr('bridge_ports');
    if (i.type === 'bridge') {
      out.push(`\tbridge-stp ${i['bridge_stp'] ?? 'off'}`, `\tbridge-fd ${i['bridge_fd'] ?? '0'}`);
      if (i['bridge_vlan_aware']) out.push('\tbridge-vlan-aware yes', `\tbridge-vids ${i['bridge_vids'] ?? '2-4094'}`);
    }
    attr('slaves', 'bond-slaves');
    attr('bond_mode', 'bond-mode');
    attr('vlan-raw-device');
    attr('vlan-id');
    attr('mtu');
    if (i['comments'] !== undefined) out.push(`#${String(i['comments']).replace(/\n+$/, '')}`);
    out.push('');
  }
  return out.join('\n');
}

/** A unified-style line diff of the active and pending files (what PVE shows in `changes`). */
export function lineDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const lines = ['--- /etc/network/interfaces', '+++ /etc/network/interfaces.new', `@@ -1,${x.length} +1,${y.length} @@`];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      lines.push(` ${x[i]}`);
      i++;
      j++;
    } else if (j < y.length && (i >= x.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) lines.push(`+${y[j++]}`);
    else lines.push(`-${x[i++]}`);
  }
  return `${lines.join('\n')}\n`;
}

function index(ctx: Ctx): Reply {
  const n = ctx.core.state.node(String(ctx.params['node']));
  const type = ctx.params['type'];
  const list = current(n).filter((i) => type === undefined || i.type === type || (type === 'any_bridge' && (i.type === 'bridge' || i.type === 'OVSBridge')));
  const extra: Record<string, unknown> = {};
  if (n.network.pending) extra['changes'] = lineDiff(interfacesText(n.network.active), interfacesText(n.network.pending));
  return new Reply(list.map((i) => ({ ...i })), extra);
}

function applyFields(ctx: Ctx, list: Iface[], target: Iface): void {
  const p = ctx.params;
  for (const [k, v] of Object.entries(p)) if (k !== 'node' && k !== 'iface' && k !== 'delete') target[k] = v;
  if (p['cidr'] !== undefined && p['address'] !== undefined) paramError('address', 'address conflicts with cidr');
  if (p['address'] !== undefined && p['netmask'] !== undefined) {
    target['cidr'] = `${p['address']}/${p['netmask']}`;
  } else if (typeof target['cidr'] === 'string') {
    const [addr, mask] = target['cidr'].split('/');
    target['address'] = addr!;
    target['netmask'] = mask!;
  }
  if (p['gateway'] !== undefined) {
    const other = list.find((i) => i !== target && i['gateway'] !== undefined);
    if (other) paramError('gateway', `Default gateway already exists on interface '${other.iface}'.`);
  }
  for (const key of LIST_KEYS) {
    if (typeof target[key] !== 'string') continue;
    for (const port of String(target[key]).split(/[\s,;]+/).filter(Boolean)) {
      const user = list.find((i) => i !== target && LIST_KEYS.some((k) => String(i[k] ?? '').split(/[\s,;]+/).includes(port)));
      if (user) fail(`${port} is already used on interface '${user.iface}'`);
    }
  }
  target['method'] = target['cidr'] !== undefined ? 'static' : 'manual';
  target['method6'] = target['cidr6'] !== undefined ? 'static' : 'manual';
  target['families'] = ['inet'];
}

function create(ctx: Ctx): null {
  const n = ctx.core.state.node(String(ctx.params['node']));
  const iface = String(ctx.params['iface']);
  if (current(n).some((i) => i.iface === iface)) paramError('iface', 'interface already exists');
  const list = pendingCopy(n);
  const entry: Iface = { iface, type: String(ctx.params['type']), active: 0, priority: 10 + list.length };
  applyFields(ctx, list, entry);
  list.push(entry);
  return null;
}

function update(ctx: Ctx): null {
  const n = ctx.core.state.node(String(ctx.params['node']));
  const iface = String(ctx.params['iface']);
  if (!current(n).some((i) => i.iface === iface)) paramError('iface', 'interface does not exist');
  const list = pendingCopy(n);
  const entry = list.find((i) => i.iface === iface)!;
  for (const k of String(ctx.params['delete'] ?? '').split(/[,;\s]+/).filter(Boolean)) delete entry[k];
  applyFields(ctx, list, entry);
  return null;
}

function remove(ctx: Ctx): null {
  const n = ctx.core.state.node(String(ctx.params['node']));
  const iface = String(ctx.params['iface']);
  if (!current(n).some((i) => i.iface === iface)) paramError('iface', 'interface does not exist');
  const list = pendingCopy(n);
  list.splice(list.findIndex((i) => i.iface === iface), 1);
  return null;
}

/** Per node, the end of the last network apply: applies take turns (see apply). */
const applying = new WeakMap<object, Promise<unknown>>();

function apply(ctx: Ctx): string {
  const node = String(ctx.params['node']);
  const n = ctx.core.state.node(node);
  return startTask(ctx, node, 'srvreload', 'networking', async (t) => {
    await t.sleep();
    // pve-manager `PVE/API2/Network.pm` `reload_network_config` renames interfaces.new into place and runs
    // `ifreload -a`, which brings the host to the whole file. The host backends here apply a difference instead, so
    // applies take turns (two at once would each diff against a config the other is changing), and an edit made
    // while one runs stays pending for the next, as a new interfaces.new would on PVE.
    const previous = applying.get(n) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(async () => {
      if (!n.network.pending) return;
      const taken = JSON.stringify(n.network.pending);
      const before = n.network.active;
      const after = n.network.pending.map((i) => ({ ...i, active: 1 }));
      // ifreload applies to the host first; a failure leaves the pending change in place.
      await ctx.core.opts.hostBackend?.applyNetwork?.(node, before, after);
      n.network.active = after;
      if (JSON.stringify(n.network.pending) === taken) n.network.pending = null;
    });
    applying.set(n, mine);
    await mine;
    t.log('ifreload -a');
  });
}

function revert(ctx: Ctx): null {
  ctx.core.state.node(String(ctx.params['node'])).network.pending = null;
  return null;
}

const oneIface: ParamSchema = { props: { node: nodeProp, iface: ifaceProp } };
export const networkRoutes: Route[] = [
  { method: 'GET', path: '/nodes/{node}/network', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Audit']], schema: { props: { node: nodeProp, type: str({ enum: [...TYPES, 'any_bridge', 'any_local_bridge', 'include_sdn'] }) } }, handler: index },
  { method: 'POST', path: '/nodes/{node}/network', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Modify']], schema: { props: editProps }, handler: create },
  { method: 'PUT', path: '/nodes/{node}/network', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Modify']], schema: { props: { node: nodeProp, 'regenerate-frr': bool() } }, handler: apply },
  { method: 'DELETE', path: '/nodes/{node}/network', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Modify']], schema: { props: { node: nodeProp } }, handler: revert },
  {
    method: 'GET', path: '/nodes/{node}/network/{iface}', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Audit']], schema: oneIface,
    handler: (ctx) => {
      const found = current(ctx.core.state.node(String(ctx.params['node']))).find((i) => i.iface === ctx.params['iface']);
      if (!found) paramError('iface', 'interface does not exist');
      return { ...found };
    },
  },
  { method: 'PUT', path: '/nodes/{node}/network/{iface}', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Modify']], schema: { props: { ...editProps, delete: str() } }, handler: update },
  { method: 'DELETE', path: '/nodes/{node}/network/{iface}', perms: (p) => [[`/nodes/${p['node']}`, 'Sys.Modify']], schema: oneIface, handler: remove },
];
