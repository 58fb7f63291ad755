// What a node can do: which host tools exist and which kernel features work. Kernel features are probed by trying
// them in a throwaway network namespace (`unshare --net`): nothing becomes visible on the node, and "the kernel
// accepts it" is the only reliable test (a bridge reports vlan_filtering 0 in netlink even when the kernel has no
// CONFIG_BRIDGE_VLAN_FILTERING; only setting it fails). Results are cached per executor: they change only with a
// package install or a reboot, and `refresh` re-probes.
import { z } from 'zod';
import { CapabilityError } from '../errors';
import type { Executor } from './executor';

export const TOOLS = ['ip', 'bridge', 'nft', 'dnsmasq', 'zfs', 'zpool', 'tar', 'zstd', 'unshare'] as const;
export const FEATURES = ['bridgeVlanFiltering', 'multicastSnooping', 'portIsolation', 'nftablesNat'] as const;
export type Tool = (typeof TOOLS)[number];
export type Feature = (typeof FEATURES)[number];
export type CapabilityName = Tool | Feature;

export const hostCapabilitiesSchema = z.object({
  node: z.string(),
  tools: z.object(Object.fromEntries(TOOLS.map((t) => [t, z.boolean()])) as Record<Tool, z.ZodBoolean>),
  features: z.object(Object.fromEntries(FEATURES.map((f) => [f, z.boolean()])) as Record<Feature, z.ZodBoolean>),
  /** Why kernel features could not be probed at all (then every feature is false). */
  probeError: z.string().optional(),
});
export type HostCapabilities = z.infer<typeof hostCapabilitiesSchema>;

// Constant scripts; tool names come in as positional parameters, never spliced into the text.
const TOOL_SCRIPT = 'for t; do if command -v "$t" >/dev/null 2>&1; then echo "$t 1"; else echo "$t 0"; fi; done';

const KERNEL_SCRIPT = [
  'ip link add ppcapbr0 type bridge 2>/dev/null || { echo "bridge 0"; exit 0; }',
  'ok() { if "$@" >/dev/null 2>&1; then echo 1; else echo 0; fi; }',
  'echo "bridgeVlanFiltering $(ok sh -c \'ip link set ppcapbr0 type bridge vlan_filtering 1 && ip -d link show ppcapbr0 | grep -q "vlan_filtering 1"\')"',
  'echo "multicastSnooping $(ok sh -c \'ip link set ppcapbr0 type bridge mcast_snooping 1 && ip -d link show ppcapbr0 | grep -q "mcast_snooping 1"\')"',
  'echo "portIsolation $(ok sh -c \'ip link add ppcapv0 type veth peer name ppcapv1 && ip link set ppcapv0 master ppcapbr0 && bridge link set dev ppcapv0 isolated on && bridge -d link show dev ppcapv0 | grep -q "isolated on"\')"',
  'echo "nftablesNat $(ok sh -c \'printf "%s\\n" "table ip ppcap { chain p { type nat hook prerouting priority -100; }; chain q { type nat hook postrouting priority 100; masquerade; }; }" | nft -f -\')"',
].join('\n');

/** `name 0|1` lines → a map; unknown names are ignored. Pure. */
export function parseProbeLines(text: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+) ([01])$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2] === '1');
  }
  return out;
}

async function probe(exec: Executor): Promise<HostCapabilities> {
  const t = parseProbeLines((await exec.run('sh', ['-c', TOOL_SCRIPT, 'sh', ...TOOLS])).stdout);
  const tools = Object.fromEntries(TOOLS.map((n) => [n, t.get(n) ?? false])) as Record<Tool, boolean>;
  let probeError: string | undefined;
  let k = new Map<string, boolean>();
  if (!tools.unshare || !tools.ip) {
    probeError = `cannot probe kernel features without ${!tools.unshare ? 'unshare (util-linux)' : 'ip (iproute2)'}`;
  } else {
    const r = await exec.run('unshare', ['--net', '--', 'sh', '-c', KERNEL_SCRIPT], { allowFailure: true, timeoutMs: 30_000 });
    k = parseProbeLines(r.stdout);
    if (r.exitCode !== 0) probeError = `kernel probe failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').pop() ?? ''}`;
    else if (k.get('bridge') === false) probeError = 'the kernel cannot create bridges (bridge module missing)';
  }
  // A feature that needs a tool is only usable with that tool.
  const features: Record<Feature, boolean> = {
    bridgeVlanFiltering: (k.get('bridgeVlanFiltering') ?? false) && tools.ip,
    multicastSnooping: (k.get('multicastSnooping') ?? false) && tools.ip,
    portIsolation: (k.get('portIsolation') ?? false) && tools.bridge,
    nftablesNat: (k.get('nftablesNat') ?? false) && tools.nft,
  };
  return hostCapabilitiesSchema.parse({ node: exec.node, tools, features, ...(probeError ? { probeError } : {}) });
}

const cache = new WeakMap<Executor, Promise<HostCapabilities>>();

export function detectCapabilities(exec: Executor, opts: { refresh?: boolean } = {}): Promise<HostCapabilities> {
  let p = opts.refresh ? undefined : cache.get(exec);
  if (!p) {
    p = probe(exec);
    cache.set(exec, p);
    // A failed probe (node unreachable) must not stick. The error itself reaches the caller through `p`.
    p.catch(() => {
      if (cache.get(exec) === p) cache.delete(exec);
    });
  }
  return p;
}

const DESCRIBE: Record<CapabilityName, { what: string; fix: string }> = {
  ip: { what: 'ip (iproute2)', fix: 'install iproute2 on the node (apt-get install iproute2)' },
  bridge: { what: 'bridge (iproute2)', fix: 'install iproute2 on the node (apt-get install iproute2)' },
  nft: { what: 'nft (nftables)', fix: 'install nftables on the node (apt-get install nftables)' },
  dnsmasq: { what: 'dnsmasq', fix: 'install dnsmasq on the node (apt-get install dnsmasq-base)' },
  zfs: { what: 'zfs', fix: 'install the ZFS utilities on the node (apt-get install zfsutils-linux)' },
  zpool: { what: 'zpool', fix: 'install the ZFS utilities on the node (apt-get install zfsutils-linux)' },
  tar: { what: 'tar', fix: 'install GNU tar on the node (apt-get install tar)' },
  zstd: { what: 'zstd', fix: 'install zstd on the node (apt-get install zstd)' },
  unshare: { what: 'unshare (util-linux)', fix: 'install util-linux on the node (apt-get install util-linux)' },
  bridgeVlanFiltering: {
    what: 'bridge VLAN filtering',
    fix: 'boot a kernel built with CONFIG_BRIDGE_VLAN_FILTERING (every Proxmox VE kernel has it), or set vlanFiltering: "if-supported" to run the bridge without VLAN filtering',
  },
  multicastSnooping: { what: 'bridge multicast snooping', fix: 'boot a kernel built with CONFIG_BRIDGE_IGMP_SNOOPING, or set multicastSnooping: false' },
  portIsolation: { what: 'bridge port isolation', fix: 'use Linux ≥ 4.18 and iproute2 ≥ 4.18 on the node, or set isolatePorts: false' },
  nftablesNat: { what: 'nftables NAT (nft_chain_nat, nft_nat, nft_masq)', fix: 'load the nftables NAT modules (modprobe nft_chain_nat nft_nat nft_masq) or use a kernel that has them' },
};

export function hasCapability(caps: HostCapabilities, name: CapabilityName): boolean {
  return (TOOLS as readonly string[]).includes(name) ? caps.tools[name as Tool] : caps.features[name as Feature];
}

/** Throws CapabilityError naming what is missing on which node and how to get it. */
export function requireCapability(caps: HostCapabilities, name: CapabilityName): void {
  if (hasCapability(caps, name)) return;
  const d = DESCRIBE[name];
  const probeNote = caps.probeError && (FEATURES as readonly string[]).includes(name) ? ` (${caps.probeError})` : '';
  throw new CapabilityError(caps.node, `${d.what}${probeNote}`, d.fix);
}
