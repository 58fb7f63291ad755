// How each of the Pod's inputs applies: PVE hot-plugs the live ones, the restart ones wait for the next start (the
// provider restarts the container), the replace ones make another container. Pure; common/definition.ts turns it
// into the diff.
import { containsUnknown } from '../common/unknowns';
import { differs, type ResourceDefinition } from '../common/definition';
import { hostnameFor, templateOf, zfsSnapshotOf, type PodInputs } from './schema';

/** The network as PVE sees it: without the provider's own gatewayOnLink (an unknown value stays as it is). */
const withoutOnLink = (n: unknown) => (n && typeof n === 'object' ? { ...n, gatewayOnLink: undefined } : n);

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
    network: {
      // PVE hot-plugs eth0's changes (pve-container src/PVE/LXC.pm update_net, update_ipconfig). gatewayOnLink only
      // changes what the provider accepts, nothing on the container: alone, it is recorded in state.
      apply: (olds, news) => (differs(withoutOnLink(olds.network), withoutOnLink(news.network)) ? 'live' : 'state'),
    },
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
  // The old container always goes first. Its replacement carries the same owner key, so a create-before-delete
  // replacement would find the old container and adopt it (then the engine would delete it); and what cannot exist
  // twice (a pinned vmid, a fixed address or MAC, a StatefulSet identity) must leave first anyway.
  deleteBeforeReplace: true,
};
