// Pure change planning for a Pod: which properties changed, and for each whether PVE applies it live, whether the
// provider must restart the container to apply it, or whether it forces a replacement.
import { containsUnknown } from '../common/unknowns';
import type { DiffResult } from '../types';
import { templateOf, zfsSnapshotOf, type PodInputs, type PodOutputs } from './schema';

export type ChangeClass = 'live' | 'restart' | 'replace';

export interface PodPlan {
  changed: string[];
  live: string[];
  restart: string[];
  replace: string[];
  deleteBeforeReplace: boolean;
}

/** Inputs that describe the provider's behaviour, not the container. Changing them updates state only. */
const STATE_ONLY = new Set(['timeouts', 'restartPlanned', 'adopt', 'name']);

/** PVE applies these on a running CT right away (fastplug or hotplug). */
const LIVE = new Set(['hostname', 'cores', 'memory', 'swap', 'tags', 'description', 'onboot', 'network', 'running', 'owner']);
/** PVE keeps these pending until the next start; the provider reboots the pod to apply them. */
const RESTART = new Set(['env', 'entrypoint', 'nameserver', 'searchdomain', 'nesting', 'mounts']);
/** A different container: a new rootfs from another image, another node, another id, another storage. */
const REPLACE = new Set(['image', 'node', 'vmid', 'unprivileged']);

export function hostnameFor(inputs: Pick<PodInputs, 'hostname' | 'name'>): string {
  if (inputs.hostname) return inputs.hostname;
  const h = inputs.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h || 'pod';
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function differs(a: unknown, b: unknown): boolean {
  return containsUnknown(b) || canonical(a) !== canonical(b);
}

function classify(key: string, olds: PodInputs, news: PodInputs): ChangeClass {
  if (key === 'rootfs') {
    const o = olds.rootfs ?? { sizeGiB: 4 };
    const n = news.rootfs ?? { sizeGiB: 4 };
    if (containsUnknown(n)) return 'replace';
    if ((n.storage ?? o.storage) !== o.storage) return 'replace';
    return n.sizeGiB < o.sizeGiB ? 'replace' : 'live';
  }
  if (key === 'image') {
    // Same template (and digest) but other image defaults (entrypoint/env) only needs a restart.
    const o = olds.image;
    const n = news.image;
    if (containsUnknown(n)) return 'replace';
    const od = typeof o === 'string' ? undefined : o.digest;
    const nd = typeof n === 'string' ? undefined : n.digest;
    // Another rootfs source (template, digest, or the ZFS chain it is cloned from) is another container.
    return templateOf(o) !== templateOf(n) || od !== nd || zfsSnapshotOf(o) !== zfsSnapshotOf(n) ? 'replace' : 'restart';
  }
  if (REPLACE.has(key)) return 'replace';
  if (RESTART.has(key)) return 'restart';
  if (LIVE.has(key)) return 'live';
  return 'replace';
}

export function planPodChange(olds: PodOutputs | (PodInputs & { hostname?: string }), news: PodInputs): PodPlan {
  const plan: PodPlan = { changed: [], live: [], restart: [], replace: [], deleteBeforeReplace: false };
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)].filter((k) => !k.startsWith('__')));
  const outputsOnly = new Set(['status', 'ip', 'mac']);
  for (const key of [...keys].sort()) {
    if (STATE_ONLY.has(key) || outputsOnly.has(key)) continue;
    let before: unknown = (olds as unknown as Record<string, unknown>)[key];
    let after: unknown = (news as unknown as Record<string, unknown>)[key];
    if (key === 'node' || key === 'vmid') {
      // Chosen by the provider at create time unless the user pins them: unpinned is not a change.
      if (after === undefined) continue;
    }
    if (key === 'hostname') {
      before = olds.hostname ?? hostnameFor(olds);
      after = containsUnknown(news.name) ? news.name : hostnameFor(news);
    }
    if (!differs(before, after)) continue;
    plan.changed.push(key);
    plan[classify(key, olds, news)].push(key);
  }
  // What cannot exist twice (a pinned vmid, a fixed address or MAC) must leave with the old container before the new
  // one is created, or two containers would hold it at once.
  const fixedAddress = !!news.network && !containsUnknown(news.network) && (news.network.ip !== 'dhcp' || news.network.mac !== undefined);
  plan.deleteBeforeReplace = plan.replace.length > 0 && (news.vmid !== undefined || news.adopt === true || fixedAddress);
  return plan;
}

/** Human-readable reason that check() records in `restartPlanned`, or undefined when no restart is needed. */
export function restartReason(olds: PodInputs | undefined, news: PodInputs): string | undefined {
  if (!olds || olds.image === undefined) return undefined;
  const plan = planPodChange(olds as PodOutputs, news);
  if (plan.replace.length || !plan.restart.length) return undefined;
  if (!news.running || olds.running === false) return undefined;
  return `restart to apply ${plan.restart.join(', ')} (PVE applies ${plan.restart.length > 1 ? 'them' : 'it'} only at start)`;
}

export function podDiff(olds: PodOutputs, news: PodInputs): DiffResult {
  const plan = planPodChange(olds, news);
  // Changes to provider-only inputs still need an update so that state records them.
  const stateOnly = [...STATE_ONLY].filter((k) => k !== 'restartPlanned' && differs((olds as any)[k], (news as any)[k]));
  return {
    changes: plan.changed.length > 0 || stateOnly.length > 0,
    replaces: plan.replace,
    changed: [...plan.changed, ...stateOnly],
    deleteBeforeReplace: plan.deleteBeforeReplace,
  };
}

/**
 * Outputs that follow from the inputs alone. check() returns them with the inputs: the dynamic-provider host does not
 * support provider previews, so during a preview the engine takes an updated resource's inputs as its outputs, and an
 * output missing there reads as unknown to every dependent (a worker's env built from `web.ip` would show a change
 * although `up` leaves it alone). Only values that cannot differ after `up` are derived; a DHCP address stays unknown.
 */
export function derivedOutputs(inputs: PodInputs): Partial<PodOutputs> {
  const out: Partial<PodOutputs> = {};
  if (!containsUnknown(inputs.name) && !containsUnknown(inputs.hostname)) out.hostname = hostnameFor(inputs);
  const net = inputs.network;
  if (net && !containsUnknown(net.ip) && net.ip !== 'dhcp') out.ip = net.ip.split('/')[0];
  if (net?.mac && !containsUnknown(net.mac)) out.mac = net.mac.toUpperCase();
  return out;
}
