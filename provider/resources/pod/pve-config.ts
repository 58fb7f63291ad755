// Pure mapping between a Pod's inputs and a PVE container config, both ways. The provider's own metadata (the logical
// name and the image) rides in the description as an HTML comment (hidden in the PVE UI) plus a marker tag, so that
// refresh and adoption can rebuild the inputs from the container alone.
import { parseMount, parseNet, printMount, printNet, printTags, normalizeTags, parseEnv, printEnv } from '../../proxmox/properties';
import type { ContainerConfig } from '../../proxmox/schemas';
import { ownerId, ownerTag, OWNER_TAG_RE, type OwnerKey } from '../common/owner';
import { hostnameFor, templateOf, type PodImage, type PodInputs, type PodNetwork } from './schema';
import { applyOciParity } from './oci-config';

export const MANAGED_TAG = 'proxmox-pods';
const META_RE = /\n*<!-- proxmox-pods (\{.*\}) -->\n*$/s;
const PVE_DESCRIPTION_MAX = 8192;

export interface PodMeta {
  v: 1;
  kind: string;
  name: string;
  image: PodImage;
  entrypoint?: string[];
  /** Extra identity data other resources keep here (e.g. a StatefulSet's ordinal). */
  extra?: Record<string, unknown>;
  /** The owner key (common/owner.ts ownerId): project, stack, kind and resource name. Absent on legacy pods. */
  owner?: string;
  /** Set at create on the ZFS-clone path until the disk has been swapped for the clone (see zfs-rootfs.ts). */
  clonePending?: true;
  /** Inputs the user pinned that the provider would otherwise choose (`node`, `vmid`): refresh rebuilds inputs with them. */
  pinned?: string[];
}

export function renderDescription(user: string | undefined, meta: PodMeta): string {
  let m: PodMeta = meta;
  let text = `${user ?? ''}\n\n<!-- proxmox-pods ${JSON.stringify(m)} -->`;
  if (text.length > PVE_DESCRIPTION_MAX && typeof meta.image !== 'string') {
    // Large image defaults (env, cmd) are re-derivable from the image; keep identity only.
    const { template, reference, digest, zfsSnapshot } = meta.image;
    m = { ...meta, image: { template, reference, digest, ...(zfsSnapshot ? { zfsSnapshot } : {}) } };
    text = `${user ?? ''}\n\n<!-- proxmox-pods ${JSON.stringify(m)} -->`;
  }
  return text;
}

export function parseDescription(description: string | undefined): { user?: string; meta?: PodMeta; corrupt?: string } {
  if (!description) return {};
  const m = META_RE.exec(description);
  if (!m) return { user: description.replace(/\n$/, '') || undefined };
  const user = description.slice(0, m.index).replace(/\n+$/, '') || undefined;
  try {
    const meta = JSON.parse(m[1]!) as PodMeta;
    if (!meta || typeof meta !== 'object' || typeof meta.name !== 'string') return { user, corrupt: 'it has no pod name' };
    return { user, meta };
  } catch (err) {
    // Someone edited the comment by hand: say so (ownership.ts refuses to guess whose container it is).
    return { user, corrupt: (err as Error).message };
  }
}

/** POSIX shell quoting: PVE joins the OCI Entrypoint+Cmd the same way and runs the string as lxc.init.cmd. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_\-+=:,./@%]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The inverse of shellJoin, and of PVE::Tools::cmd2string (which quotes with '...'); "..." is read too. */
export function shellSplit(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let word = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const inner = text.slice(i + 1, end < 0 ? undefined : end);
      cur += c === '"' ? inner.replace(/\\(["\\$`])/g, '$1') : inner;
      i = end < 0 ? text.length : end;
      word = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      word = true;
    } else if (c === ' ' || c === '\t') {
      if (word) out.push(cur);
      cur = '';
      word = false;
    } else {
      cur += c;
      word = true;
    }
  }
  if (word) out.push(cur);
  return out;
}

export function effectiveEnv(inputs: Pick<PodInputs, 'env' | 'image'>): Record<string, string> {
  const base = typeof inputs.image === 'string' ? {} : (inputs.image.env ?? {});
  return { ...base, ...(inputs.env ?? {}) };
}

export function effectiveEntrypoint(inputs: Pick<PodInputs, 'entrypoint' | 'image'>): string[] | undefined {
  if (inputs.entrypoint) return inputs.entrypoint;
  if (typeof inputs.image === 'string') return undefined;
  const argv = [...(inputs.image.entrypoint ?? []), ...(inputs.image.cmd ?? [])];
  return argv.length ? argv : undefined;
}

export function netParam(net: PodNetwork, hwaddr?: string): string {
  return printNet({
    name: 'eth0',
    bridge: net.bridge,
    hwaddr: net.mac?.toUpperCase() ?? hwaddr,
    ip: net.ip,
    gw: net.gateway,
    tag: net.vlan,
    mtu: net.mtu,
    firewall: net.firewall,
    rate: net.rateMbps,
  });
}

/** What other resources (StatefulSetPod) record about the pods they make. */
export interface PodIdentity {
  kind?: string;
  extra?: Record<string, unknown>;
  /** The owner key's resource name when it is not the pod's `name` (a StatefulSetPod's `<namespace>/<pod>`). */
  ownerName?: string;
}

/** The config keys a Pod manages, as PVE expects them in POST/PUT bodies. */
export function managedConfig(inputs: PodInputs, identity: PodIdentity = {}, owner?: OwnerKey, opts: { clonePending?: boolean } = {}): Record<string, string | number> {
  const cfg: Record<string, string | number> = {
    hostname: hostnameFor(inputs),
    cores: inputs.cores,
    memory: inputs.memory,
    swap: inputs.swap,
    tags: printTags([...(inputs.tags ?? []), MANAGED_TAG, ...(owner ? [ownerTag(owner)] : [])]),
    description: renderDescription(inputs.description, {
      v: 1,
      kind: identity.kind ?? 'Pod',
      name: inputs.name,
      image: inputs.image,
      entrypoint: inputs.entrypoint,
      ...(inputs.node !== undefined || inputs.vmid !== undefined ? { pinned: [...(inputs.node !== undefined ? ['node'] : []), ...(inputs.vmid !== undefined ? ['vmid'] : [])] } : {}),
      ...(identity.extra ? { extra: identity.extra } : {}),
      ...(owner ? { owner: ownerId(owner) } : {}),
      ...(opts.clonePending ? { clonePending: true as const } : {}),
    }),
  };
  if (inputs.network) cfg.net0 = netParam(inputs.network);
  inputs.mounts?.forEach((m, i) => {
    cfg[`mp${i}`] = printMount({ volume: m.source, mp: m.path, ro: m.readOnly, backup: m.backup });
  });
  if (inputs.nameserver?.length) cfg.nameserver = inputs.nameserver.join(' ');
  if (inputs.searchdomain) cfg.searchdomain = inputs.searchdomain;
  if (inputs.onboot !== undefined) cfg.onboot = inputs.onboot ? 1 : 0;
  if (inputs.nesting !== undefined) cfg.features = `nesting=${inputs.nesting ? 1 : 0}`;
  const env = effectiveEnv(inputs);
  if (Object.keys(env).length) cfg.env = printEnv(env);
  const entry = effectiveEntrypoint(inputs);
  if (entry) cfg.entrypoint = shellJoin(entry);
  return applyOciParity(cfg, inputs);
}

/** Keys that, when absent from the desired config, must be deleted from the live one. */
export const OPTIONAL_KEYS = ['net0', 'nameserver', 'searchdomain', 'onboot', 'features', 'env', 'entrypoint', ...Array.from({ length: 10 }, (_, i) => `mp${i}`)] as const;

export function createParams(inputs: PodInputs, storage: string, identity: PodIdentity = {}, owner?: OwnerKey, opts: { clonePending?: boolean } = {}): Record<string, string | number> {
  return {
    ...managedConfig(inputs, identity, owner, opts),
    ostemplate: templateOf(inputs.image),
    ...(typeof inputs.image !== 'string' && inputs.image.arch ? { arch: inputs.image.arch } : {}),
    rootfs: `${inputs.rootfs.storage ?? storage}:${inputs.rootfs.sizeGiB}`,
    unprivileged: inputs.unprivileged ? 1 : 0,
    start: 0,
  };
}

/** The PUT body that moves `live` to `desired`: changed keys, plus deletions of keys the inputs no longer set. */
export function configUpdate(live: ContainerConfig, desired: Record<string, string | number>): { set: Record<string, string | number>; del: string[] } {
  const set: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(desired)) {
    if (k === 'net0' && live.net0 !== undefined) {
      // PVE fills in hwaddr and type; compare what we manage.
      const a = parseNet(live.net0);
      const b = parseNet(String(v));
      const keep = { ...b, hwaddr: b.hwaddr ?? a.hwaddr, type: a.type };
      if (printNet(keep) !== printNet(a)) set[k] = printNet(keep);
      continue;
    }
    if (k === 'tags' && normalizeTags(String(live.tags ?? '')).join(';') === String(v)) continue;
    if (k === 'description' && String(live.description ?? '').replace(/\n$/, '') === String(v).replace(/\n$/, '')) continue;
    if (String(live[k] ?? '') !== String(v)) set[k] = v;
  }
  const del = OPTIONAL_KEYS.filter((k) => desired[k] === undefined && live[k] !== undefined && live[k] !== '');
  return { set, del };
}

/** Rebuilds a Pod's inputs from a live container (refresh and adoption). */
export function inputsFromConfig(cfg: ContainerConfig, base: Partial<PodInputs>): PodInputs {
  const { user, meta } = parseDescription(cfg.description);
  const image = meta?.image ?? base.image ?? 'unknown:vztmpl/unknown';
  const rootfs = cfg.rootfs !== undefined ? parseMount(cfg.rootfs) : undefined;
  const inputs: PodInputs = {
    name: meta?.name ?? base.name ?? String(cfg.hostname ?? 'pod'),
    image,
    cores: Number(cfg.cores ?? 1),
    memory: Number(cfg.memory ?? 512),
    swap: Number(cfg.swap ?? 512),
    rootfs: { storage: rootfs?.volume.split(':')[0] ?? base.rootfs?.storage, sizeGiB: Math.round(rootfs?.size ?? base.rootfs?.sizeGiB ?? 4) },
    running: base.running ?? true,
    unprivileged: cfg.unprivileged === undefined ? true : Number(cfg.unprivileged) === 1,
  };
  if (base.node !== undefined) inputs.node = base.node;
  if (base.vmid !== undefined) inputs.vmid = base.vmid;
  if (base.timeouts) inputs.timeouts = base.timeouts;
  if (base.adopt) inputs.adopt = base.adopt;
  const hostname = String(cfg.hostname ?? '');
  if (hostname && hostname !== hostnameFor({ name: inputs.name })) inputs.hostname = hostname;
  const tags = userTags(cfg.tags, base.tags);
  if (tags.length) inputs.tags = tags;
  if (user) inputs.description = user;
  if (cfg.net0 !== undefined) {
    const n = parseNet(cfg.net0);
    const net: PodNetwork = { bridge: n.bridge ?? 'vmbr0', ip: n.ip ?? 'dhcp' };
    if (n.gw) net.gateway = n.gw;
    if (n.tag !== undefined) net.vlan = n.tag;
    if (n.mtu !== undefined) net.mtu = n.mtu;
    if (base.network?.mac && n.hwaddr) net.mac = n.hwaddr;
    if (n.firewall !== undefined) net.firewall = n.firewall;
    if (n.rate !== undefined) net.rateMbps = n.rate;
    if (base.network?.hostManaged !== undefined && n['host-managed'] !== undefined) net.hostManaged = n['host-managed'];
    // The provider's own setting (no PVE key): kept from the prior state, as long as a gateway is there to judge.
    if (base.network?.gatewayOnLink !== undefined && n.gw) net.gatewayOnLink = base.network.gatewayOnLink;
    inputs.network = net;
  }
  const mounts = Array.from({ length: 10 }, (_, i) => cfg[`mp${i}`])
    .filter((v): v is string => typeof v === 'string')
    .map((text) => {
      const m = parseMount(text);
      return { source: m.volume, path: m.mp ?? '/', ...(m.ro !== undefined ? { readOnly: m.ro } : {}), ...(m.backup !== undefined ? { backup: m.backup } : {}) };
    });
  if (mounts.length) inputs.mounts = mounts;
  if (cfg.nameserver) inputs.nameserver = cfg.nameserver.split(/\s+/);
  if (cfg.searchdomain) inputs.searchdomain = cfg.searchdomain;
  if (cfg.onboot !== undefined) inputs.onboot = Number(cfg.onboot) === 1;
  if (cfg.features !== undefined && /nesting=(1|on|yes|true)/.test(cfg.features)) inputs.nesting = true;
  else if (base.nesting !== undefined && cfg.features !== undefined) inputs.nesting = false;
  // env: what the container has beyond the image's defaults is the pod's own.
  if (cfg.env) {
    const live = parseEnv(cfg.env);
    const imageEnv = typeof image === 'string' ? {} : (image.env ?? {});
    const own = Object.fromEntries(Object.entries(live).filter(([k, v]) => imageEnv[k] !== v));
    if (Object.keys(own).length) inputs.env = own;
  }
  if (cfg.entrypoint) {
    const argv = shellSplit(cfg.entrypoint);
    const fromImage = effectiveEntrypoint({ image });
    if (meta?.entrypoint || !fromImage || shellJoin(fromImage) !== cfg.entrypoint) inputs.entrypoint = argv;
  }
  return inputs;
}


/**
 * The user's tags on a live container: PVE lowercases and sorts them and we add our own (the marker and the owner
 * tag). When they are the same set as `previous`, the user's own order and spelling are kept, so a program whose tags
 * are not sorted shows no drift.
 */
export function userTags(live: unknown, previous?: readonly string[]): string[] {
  const tags = normalizeTags(typeof live === 'string' ? live : '').filter((t) => t !== MANAGED_TAG && !OWNER_TAG_RE.test(t));
  if (previous && normalizeTags(previous).join(';') === tags.join(';')) return [...previous];
  return tags;
}
