// What refresh reports for a pod: the container's power state, address and MAC, and, for the inputs, exactly what
// drifted. The prior outputs are kept wherever the container still matches them (PVE's own spellings, sorted tags,
// the storage PVE chose, unpinned node and vmid must not read as changes); a config key that differs from what the
// pod's inputs produce replaces just the inputs it comes from.
import type { PveClient } from '../../proxmox/client';
import type { ContainerConfig } from '../../proxmox/schemas';
import { parseMount, parseNet } from '../../proxmox/properties';
import type { OwnerKey } from '../common/owner';
import { configUpdate, inputsFromConfig, managedConfig, parseDescription, type PodIdentity } from './pve-config';
import type { FoundContainer } from './ownership';
import { derivedOutputs } from './plan';
import type { PodInputs, PodOutputs } from './schema';

export async function observe(pve: PveClient, node: string, vmid: number, config: ContainerConfig): Promise<Pick<PodOutputs, 'status' | 'ip' | 'mac'>> {
  const status = (await pve.containerStatus(node, vmid))?.status ?? 'unknown';
  const net = config.net0 !== undefined ? parseNet(config.net0) : undefined;
  let ip = net?.ip && net.ip !== 'dhcp' && net.ip !== 'manual' ? net.ip.split('/')[0] : undefined;
  let mac = net?.hwaddr;
  if (status === 'running') {
    // The interfaces call needs the container's network namespace; a container that just stopped has none. The
    // configured address and MAC above stay the answer then, so ignoring this failure loses nothing.
    const ifaces = await pve.containerInterfaces(node, vmid).catch(() => []);
    const eth0 = ifaces.find((i) => i.name === 'eth0');
    if (eth0?.inet) ip = String(eth0.inet).split('/')[0];
    if (eth0?.hwaddr) mac = String(eth0.hwaddr).toUpperCase();
  }
  const out: Pick<PodOutputs, 'status' | 'ip' | 'mac'> = { status };
  if (ip) out.ip = ip;
  if (mac) out.mac = mac;
  return out;
}

/** Which inputs a config key comes from (managedConfig's keys). */
function inputOfKey(key: string): keyof PodInputs | undefined {
  if (/^mp\d+$/.test(key)) return 'mounts';
  const map: Record<string, keyof PodInputs> = {
    hostname: 'hostname', cores: 'cores', memory: 'memory', swap: 'swap', tags: 'tags', description: 'description',
    net0: 'network', nameserver: 'nameserver', searchdomain: 'searchdomain', onboot: 'onboot', features: 'nesting',
    env: 'env', entrypoint: 'entrypoint',
  };
  return map[key];
}

/** Pure: the drifted inputs of `props` given the live config (the config keys that differ from what props produce). */
export function driftedInputs(props: PodOutputs, config: ContainerConfig, identity: PodIdentity, owner: OwnerKey | undefined): Partial<PodInputs> {
  const { set, del } = configUpdate(config, managedConfig(props, identity, owner));
  const live = inputsFromConfig(config, props);
  const drift: Partial<PodInputs> = {};
  for (const key of [...Object.keys(set), ...del]) {
    const field = inputOfKey(key);
    if (!field) continue;
    if (field === 'description') {
      // The metadata part (owner, image, flags) is ours to rewrite; only the user's text is an input.
      const { user } = parseDescription(config.description);
      if ((user ?? undefined) === (props.description ?? undefined)) continue;
    }
    if (field === 'hostname') {
      (drift as Record<string, unknown>).hostname = String(config.hostname ?? '');
      continue;
    }
    (drift as Record<string, unknown>)[field] = live[field];
  }
  const size = config.rootfs !== undefined ? parseMount(config.rootfs).size : undefined;
  if (size !== undefined && Math.abs(size - props.rootfs.sizeGiB) > 1e-9) drift.rootfs = { ...props.rootfs, sizeGiB: Math.round(size * 1000) / 1000 };
  return drift;
}

/**
 * The inputs Pulumi recorded, rebuilt from prior outputs with the drift applied: outputs carry every input check()
 * returned, except that `node` and `vmid` are outputs too (inputs only when pinned, which the metadata records) and
 * `ip`/`mac` are inputs only where check() derived them. Returned by refresh only when something drifted, so the next
 * preview shows the drifted property (`~ memory: 1024 => 384`); untouched pods keep Pulumi's inputs as they are.
 */
export function inputsAfterDrift(outs: PodOutputs, pinned: readonly string[]): PodInputs {
  const { status: _s, node, vmid, ip: _ip, mac: _mac, ...rest } = outs;
  const inputs: PodInputs = { ...(rest as PodInputs) };
  if (pinned.includes('node')) inputs.node = node;
  if (pinned.includes('vmid')) inputs.vmid = vmid;
  return { ...inputs, ...derivedOutputs(inputs) } as PodInputs;
}

export function pinnedOf(config: ContainerConfig): string[] {
  return parseDescription(config.description).meta?.pinned ?? [];
}

/** The refreshed outputs, and whether anything drifted (then refresh also hands back inputs, see inputsAfterDrift). */
export async function observedOutputs(pve: PveClient, props: PodOutputs, found: FoundContainer, identity: PodIdentity, owner: OwnerKey | undefined): Promise<{ outs: PodOutputs; drifted: boolean }> {
  const observed = await observe(pve, found.node, found.vmid, found.config);
  const outs: Record<string, unknown> = { ...props, node: found.node, vmid: found.vmid };
  delete outs.ip;
  delete outs.mac;
  delete outs.restartPlanned;
  Object.assign(outs, observed);
  const drift = driftedInputs(props, found.config, identity, owner);
  for (const [k, v] of Object.entries(drift)) {
    if (v === undefined) delete outs[k];
    else outs[k] = v;
  }
  if (observed.status === 'running' || observed.status === 'stopped') outs.running = observed.status === 'running';
  return { outs: outs as unknown as PodOutputs, drifted: Object.keys(drift).length > 0 || outs.running !== props.running };
}
