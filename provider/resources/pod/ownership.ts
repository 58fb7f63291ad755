// Which container belongs to which pod. A pod's container carries its owner key twice: as a PVE tag (`pp-<hash>`,
// written with the create request, so one GET /cluster/resources finds it on any node from the moment PVE makes
// it) and in the description's metadata (the full key, which the tag's hash only points at). A vmid alone never
// decides: after an ambiguous create the vmid may have gone to another pod.
import type { PveClient } from '../../proxmox/client';
import type { ContainerConfig } from '../../proxmox/schemas';
import { DeadlineError, ProxmoxPodsError } from '../../errors';
import { normalizeTags } from '../../proxmox/properties';
import { pollUntil, sleep as defaultSleep, type Deadline } from '../../proxmox/retry';
import { ownerId, ownerTag, parseOwnerId, type OwnerKey, type OwnerScope } from '../common/owner';
import { MANAGED_TAG, parseDescription, type PodIdentity } from './pve-config';
import type { PodInputs } from './schema';

export interface FoundContainer {
  node: string;
  vmid: number;
  config: ContainerConfig;
}

/** The owner key of a pod: its stack (from the SDK), kind and Pulumi name. Undefined for pods made without one. */
export function podOwner(inputs: Pick<PodInputs, 'name'> & { owner?: OwnerScope }, identity: PodIdentity = {}): OwnerKey | undefined {
  if (!inputs.owner) return undefined;
  return { project: inputs.owner.project, stack: inputs.owner.stack, kind: identity.kind ?? 'Pod', name: inputs.name };
}

export type Ownership = 'ours' | 'legacy' | 'foreign' | 'unmanaged';

/**
 * Pure: whose is this container? `ours` when its metadata names this owner; `legacy` when it was made by a version
 * that recorded no owner, under this pod's name (the next converge writes the owner); `foreign` when another pod,
 * stack or project owns it; `unmanaged` when proxmox-pods did not make it.
 */
export function ownershipOf(config: ContainerConfig, name: string, owner: OwnerKey | undefined): Ownership {
  const { meta, corrupt } = parseDescription(config.description);
  const tagged = normalizeTags(config.tags ?? '').includes(MANAGED_TAG);
  if (corrupt && tagged) {
    // Reading it as "not ours" would drop a running container from state without a word.
    throw new ProxmoxPodsError(
      `CT ${String(config.vmid ?? '')}${config.hostname ? ` (${String(config.hostname)})` : ''} carries proxmox-pods metadata that cannot be read (${corrupt}); ` +
        'restore the `<!-- proxmox-pods {...} -->` comment at the end of its description (PVE UI → Notes), or remove the proxmox-pods tag if it is not a pod',
      'E_CORRUPT_METADATA',
    );
  }
  if (!meta || !tagged) return 'unmanaged';
  if (meta.owner !== undefined) return owner && meta.owner === ownerId(owner) ? 'ours' : 'foreign';
  // Made before owners were recorded: the logical name is all there is to go by.
  return meta.name === name ? 'legacy' : 'foreign';
}

export function ownerOfConfig(config: ContainerConfig): OwnerKey | undefined {
  const { meta } = parseDescription(config.description);
  return meta?.owner ? parseOwnerId(meta.owner) : undefined;
}

/** Every container in the cluster whose tag and metadata name this owner (normally none or one). */
export async function findOwned(pve: PveClient, owner: OwnerKey): Promise<FoundContainer[]> {
  const tag = ownerTag(owner);
  const candidates = (await pve.clusterResources('vm')).filter(
    (r) => r.type === 'lxc' && r.node && r.vmid !== undefined && normalizeTags(typeof r.tags === 'string' ? r.tags : '').includes(tag),
  );
  const found: FoundContainer[] = [];
  for (const c of candidates) {
    const config = await pve.containerConfig(c.node!, c.vmid!);
    // Gone between the list and the read (a failed create cleaning up): absent is an answer, not an error.
    if (!config) continue;
    if (ownershipOf(config, owner.name, owner) === 'ours') found.push({ node: c.node!, vmid: c.vmid!, config });
  }
  return found.sort((a, b) => a.vmid - b.vmid);
}

/**
 * The owner's containers once no create task of someone else is under way. PVE writes a new container's config as
 * `lock: create` and nothing else (pve-container src/PVE/API2/LXC.pm, create_vm: create_and_lock_config), and only
 * when the create task ends writes the full config, tags and description included, or removes it when the task
 * fails. So a create that a crashed or killed run started is invisible to an owner lookup until its task ends: wait
 * for every create this process did not start itself to end (bounded by `maxWaitMs`), then look.
 */
export async function findOwnedSettled(pve: PveClient, owner: OwnerKey, deadline: Deadline, opts: { maxWaitMs?: number; sleep?: (ms: number) => Promise<void> } = {}): Promise<FoundContainer[]> {
  const until = Math.min(deadline.at - 1000, Date.now() + (opts.maxWaitMs ?? 120_000));
  // Timing out is not an error: the lookup then sees what it sees, and a create still running shows up as a
  // vmid that is taken, which allocation already handles.
  await pollUntil(
    async () => !(await pve.clusterResources('vm')).some((r) => r.type === 'lxc' && r.lock === 'create' && r.vmid !== undefined && !pve.isCreating(r.vmid)),
    until,
    opts.sleep,
  );
  return findOwned(pve, owner);
}

/** Waits until the config at this vmid is no longer locked `create` (the task ended) or is gone. */
export async function waitCreateEnded(pve: PveClient, node: string, vmid: number, deadline: Deadline, pause: (ms: number) => Promise<void> = defaultSleep): Promise<void> {
  const ended = await pollUntil(
    async () => {
      const config = await pve.containerConfig(node, vmid);
      return !config || config.lock !== 'create';
    },
    deadline.at - 500,
    pause,
  );
  if (!ended) throw new DeadlineError(`waiting for the create task of CT ${vmid} (lock: create) to end`, deadline.budgetMs);
}

/**
 * Where this pod's container is now: the recorded vmid if the container there is still ours, else wherever the
 * owner key points (a create that ended ambiguously may have recorded another vmid than the one PVE used).
 */
export async function locateOwned(pve: PveClient, vmid: number, node: string | undefined, name: string, owner: OwnerKey | undefined): Promise<(FoundContainer & { ownership: Ownership }) | undefined> {
  const atVmid = await locateVmid(pve, vmid, node);
  if (atVmid) {
    const ownership = ownershipOf(atVmid.config, name, owner);
    if (ownership === 'ours' || ownership === 'legacy') return { ...atVmid, ownership };
  }
  if (owner) {
    const [first] = await findOwned(pve, owner);
    if (first) return { ...first, ownership: 'ours' };
  }
  return undefined;
}

/** The container at this vmid: the recorded node first (cheap), then the cluster (it may have migrated). */
export async function locateVmid(pve: PveClient, vmid: number, node?: string): Promise<FoundContainer | undefined> {
  if (node) {
    const config = await pve.containerConfig(node, vmid);
    if (config) return { node, vmid, config };
  }
  const found = await pve.findGuest(vmid);
  if (!found || found.type !== 'lxc') return undefined;
  const config = await pve.containerConfig(found.node, vmid);
  return config ? { node: found.node, vmid, config } : undefined;
}
