// Pure change planning for a Pod: which properties changed, and for each whether PVE applies it live, whether the
// provider must restart the container to apply it, or whether it forces a replacement.
import { containsUnknown } from '../common/unknowns';
import type { DiffResult } from '../types';
import { diffFromPlan, planChange, type ChangePlan, type ResourceDefinition } from '../common/definition';
import { templateOf, zfsSnapshotOf, type PodInputs, type PodOutputs } from './schema';

export type PodPlan = ChangePlan;

/** How each of the Pod's inputs applies (PVE hot-plugs the live ones; the restart ones wait for the next start). */
export const podDefinition: ResourceDefinition<PodInputs> = {
  kind: 'Pod',
  fields: {
    // The logical name is in the owner key and the metadata: a rename rewrites them on the container.
    name: 'live',
    owner: 'live',
    image: {
      // Another rootfs source (template, digest, or the ZFS chain it is cloned from) is another container; the same
      // rootfs with other image defaults (entrypoint, env) only needs a restart.
      apply: (olds, news) => {
        if (containsUnknown(news.image)) return 'replace';
        const od = typeof olds.image === 'string' ? undefined : olds.image.digest;
        const nd = typeof news.image === 'string' ? undefined : news.image.digest;
        return templateOf(olds.image) !== templateOf(news.image) || od !== nd || zfsSnapshotOf(olds.image) !== zfsSnapshotOf(news.image) ? 'replace' : 'restart';
      },
    },
    node: { apply: 'replace', chosenWhenUnset: true },
    vmid: { apply: 'replace', chosenWhenUnset: true },
    unprivileged: 'replace',
    rootfs: {
      // Disks grow in place; shrinking or another storage needs a new disk, so a new container.
      apply: (olds, news) => {
        const o = olds.rootfs ?? { sizeGiB: 4 };
        const n = news.rootfs ?? { sizeGiB: 4 };
        if (containsUnknown(n)) return 'replace';
        if ((n.storage ?? o.storage) !== o.storage) return 'replace';
        return n.sizeGiB < o.sizeGiB ? 'replace' : 'live';
      },
    },
    hostname: { apply: 'live', compared: (i) => hostnameFor(i) },
    cores: 'live',
    memory: 'live',
    swap: 'live',
    tags: 'live',
    description: 'live',
    onboot: 'live',
    network: 'live',
    running: 'live',
    env: 'restart',
    entrypoint: 'restart',
    nameserver: 'restart',
    searchdomain: 'restart',
    nesting: 'restart',
    mounts: 'restart',
    adopt: 'state',
    timeouts: 'state',
    restartPlanned: 'derived',
  },
  // What cannot exist twice (a pinned vmid, a fixed address or MAC, an adopted container) must leave with the old
  // container before the new one is created, or two containers would hold it at once.
  deleteBeforeReplace: (news) => {
    const fixedAddress = !!news.network && !containsUnknown(news.network) && (news.network.ip !== 'dhcp' || news.network.mac !== undefined);
    return news.vmid !== undefined || news.adopt === true || fixedAddress;
  },
};

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

export function planPodChange(olds: PodOutputs | (PodInputs & { hostname?: string }), news: PodInputs): PodPlan {
  return planChange(podDefinition, olds as PodInputs, news);
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
  return diffFromPlan(planPodChange(olds, news));
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
