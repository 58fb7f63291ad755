// The Pod's I/O: create, read, update and delete against PVE. Planning is pure (plan.ts, pve-config.ts, drift.ts);
// this module only sequences API calls, enforces the resource's deadlines and never loses, duplicates or takes over a
// container. Every container carries its owner key (ownership.ts): create is find-or-create by that key, and read,
// update and delete act only on a container whose key is this pod's.
import type { PveClient } from '../../proxmox/client';
import { InputError, ProxmoxPodsError } from '../../errors';
import { CreateOutcomeUnknownError, CreateTaskError, TaskFailedError } from '../../proxmox/errors';
import { sleep } from '../../proxmox/retry';
import { parseMount } from '../../proxmox/properties';
import { Deadline, timeoutMs } from '../common/duration';
import { defaultStorage, pveClient } from '../common/connection';
import { PartialCreateError } from '../common/partial';
import { reapplyPortIsolation } from '../common/isolation';
import { describeOwner, type OwnerKey } from '../common/owner';
import { mayRetry, retryDelay, retryTransient } from '../common/transient';
import { configLockState, configLockOf, describeTask, LockHeldError } from './config-lock';
import type { TaskListEntry } from '../../proxmox/schemas';
import { prepareZfsRootfs, type ZfsRootfs } from './zfs-rootfs';
import { configUpdate, createParams, inputsFromConfig, managedConfig, parseDescription, type PodIdentity } from './pve-config';
import { findOwned, findOwnedSettled, locateOwned, locateVmid, ownerOfConfig, ownershipOf, podOwner, waitCreateEnded, type FoundContainer } from './ownership';
import { inputsAfterDrift, observedOutputs, observe, pinnedOf } from './observe';
import { hostnameFor, type PodInputs, type PodOutputs } from './schema';
import { noteToUser } from '../common/notes';
import type { ReadOutcome } from '../types';

export interface PodContext {
  pve: PveClient;
  /** Identity other resources (StatefulSetPod) keep in the container's metadata. */
  identity: PodIdentity;
  /** Where notes for the user go (retries, adoption after a crash). */
  note: (message: string) => void;
}

function ctxOrDefault(ctx?: Partial<PodContext>): PodContext {
  return { pve: ctx?.pve ?? pveClient(), identity: ctx?.identity ?? {}, note: ctx?.note ?? noteToUser };
}

function ownerFor(ctx: PodContext, inputs: Pick<PodInputs, 'name' | 'owner'>): OwnerKey | undefined {
  const key = podOwner(inputs, ctx.identity);
  return key && ctx.identity.ownerName ? { ...key, name: ctx.identity.ownerName } : key;
}

async function outputsFor(pve: PveClient, inputs: PodInputs, node: string, vmid: number): Promise<PodOutputs> {
  const config = (await pve.containerConfig(node, vmid)) ?? {};
  // restartPlanned explains one preview; it is not a property of the pod and must not linger in its state.
  const { restartPlanned: _derived, ...own } = inputs;
  return { ...own, node, vmid, hostname: hostnameFor(inputs), ...(await observe(pve, node, vmid, config)) };
}

/** PVE writes sizes with any unit (`size=1T`, `size=512G`, `size=8G`): compare in GiB. */
function liveRootfsGiB(rootfs: unknown): number | undefined {
  if (typeof rootfs !== 'string') return undefined;
  return parseMount(rootfs).size;
}

/** Brings an existing container's config and power state to the inputs. Shared by create, adopt and update. */
async function converge(ctx: PodContext, node: string, vmid: number, inputs: PodInputs, deadline: Deadline): Promise<void> {
  const { pve } = ctx;
  const live = await pve.containerConfig(node, vmid);
  if (!live) throw new ProxmoxPodsError(`CT ${vmid} is gone from node ${node}; run \`pulumi refresh\` so Pulumi forgets it, then \`pulumi up\``, 'E_GONE');
  const desired = managedConfig(inputs, ctx.identity, ownerFor(ctx, inputs));
  const { set, del } = configUpdate(live, desired);
  if (Object.keys(set).length || del.length) {
    deadline.check();
    await pve.updateContainerConfig(node, vmid, set, { digest: live.digest, delete: del });
  }
  const liveSize = liveRootfsGiB(live.rootfs);
  if (liveSize !== undefined && inputs.rootfs.sizeGiB > liveSize) {
    deadline.check();
    await pve.resizeContainerDisk(node, vmid, 'rootfs', `${inputs.rootfs.sizeGiB}G`, { deadlineMs: deadline.remaining() });
  }
  const status = (await pve.containerStatus(node, vmid))?.status;
  deadline.check();
  if (inputs.running) {
    let started = false;
    if (status !== 'running') {
      await pve.startContainer(node, vmid, { deadlineMs: deadline.remaining() });
      started = true;
    } else if ((await pve.pendingConfig(node, vmid)).some((p) => p.pending !== undefined || p.delete !== undefined)) {
      // env, entrypoint, nameserver... stay pending on a running CT; an API reboot applies them.
      await pve.rebootContainer(node, vmid, { deadlineMs: deadline.remaining() });
      started = true;
    }
    // A start makes a new veth: an isolating DeploymentBridge needs the flag set on it again.
    if (started && inputs.network) await reapplyPortIsolation(pve, node, inputs.network.bridge);
  } else if (status === 'running') {
    await pve.shutdownContainer(node, vmid, { timeout: 30, forceStop: true, deadlineMs: deadline.remaining() });
  }
}

/** Converge with retries of what PVE reports as transient; converge reads the live state first, so it can repeat. */
function convergeRetrying(ctx: PodContext, node: string, vmid: number, inputs: PodInputs, deadline: Deadline): Promise<void> {
  return retryOnCt(ctx, node, vmid, deadline, `pod ${inputs.name}: CT ${vmid}`, () => converge(ctx, node, vmid, inputs, deadline));
}

/**
 * retryTransient for a step on one CT. A config lock outlives the attempt limit only while a running task holds it
 * (config-lock.ts): then the step waits for that task until the deadline and, if time runs out, says which task it
 * was. A lock no task holds fails at its first refusal with what to do about it.
 */
async function retryOnCt<T>(ctx: PodContext, node: string, vmid: number, deadline: Deadline, what: string, step: () => Promise<T>): Promise<T> {
  let holder: TaskListEntry | undefined;
  try {
    return await retryTransient(deadline, step, {
      onRetry: (err, n) => ctx.note(`${what}: retrying after a transient failure (attempt ${n}): ${(err as Error).message}`),
      outlast: async (err) => {
        const state = await configLockState(ctx.pve, node, vmid, err);
        if (state === undefined) return false;
        if ('released' in state) return true;
        if (state.held.upid !== holder?.upid) ctx.note(`${what}: locked by the running task ${describeTask(state.held)}; waiting for it to end`);
        holder = state.held;
        return true;
      },
    });
  } catch (err) {
    const lock = configLockOf(err);
    if (holder && lock !== undefined) throw new LockHeldError(node, vmid, lock, holder, { cause: err });
    throw err;
  }
}

/**
 * Finishes a create on a container that exists and is ours: swap in the ZFS clone if the create stopped before it
 * did, then converge. A failure from here on leaves a container, which Pulumi must record (PartialCreateError).
 */
async function finishCreate(ctx: PodContext, inputs: PodInputs, found: FoundContainer, clone: ZfsRootfs | undefined, deadline: Deadline): Promise<{ id: string; outs: PodOutputs }> {
  const { pve } = ctx;
  const { node, vmid } = found;
  try {
    const { meta } = parseDescription(found.config.description);
    if (clone && meta?.clonePending) {
      // Never started yet (the converge below clears the flag), so nothing on the scaffold disk can be lost.
      await clone.swap(String(found.config.rootfs ?? ''));
    }
    await convergeRetrying(ctx, node, vmid, inputs, deadline);
    return { id: String(vmid), outs: await outputsFor(pve, inputs, node, vmid) };
  } catch (err) {
    const outs = await outputsFor(pve, inputs, node, vmid).catch((readErr: unknown) => {
      // The container exists and must be recorded even if we cannot read it now; the error below says why.
      ctx.note(`pod ${inputs.name}: could not read CT ${vmid} after a failed create: ${(readErr as Error).message}`);
      return { ...inputs, node, vmid, hostname: hostnameFor(inputs), status: 'unknown' };
    });
    throw new PartialCreateError(err, String(vmid), outs);
  }
}

/** One owned container, or none; more than one (never made by this version) is reported, not guessed between. */
function single(found: FoundContainer[], owner: OwnerKey): FoundContainer | undefined {
  if (found.length > 1) {
    throw new ProxmoxPodsError(
      `${describeOwner(owner)} owns ${found.length} containers (${found.map((f) => `CT ${f.vmid} on ${f.node}`).join(', ')}); ` +
        'keep one: destroy the others with `pct destroy` on their nodes, then run `pulumi up` again',
      'E_DUPLICATE_OWNER',
    );
  }
  return found[0];
}

export async function createPod(inputs: PodInputs, ctxIn?: Partial<PodContext>): Promise<{ id: string; outs: PodOutputs }> {
  const ctx = ctxOrDefault(ctxIn);
  const { pve } = ctx;
  const deadline = new Deadline(`create pod ${inputs.name}`, timeoutMs(inputs.timeouts, 'create'));
  if (inputs.adopt) return adoptPod(ctx, inputs, deadline);
  const owner = ownerFor(ctx, inputs);
  const node = inputs.node ?? (await pve.defaultNode());
  const storage = defaultStorage();
  // Checks that can fail before anything exists come first (storage, snapshot, scaffold upload).
  const clone = await prepareZfsRootfs(pve, inputs, node, storage, deadline);
  const params = { ...createParams(inputs, storage, ctx.identity, owner, { clonePending: !!clone }), ...clone?.createOverrides };
  if (!owner) return createUnowned(ctx, inputs, node, params, clone, deadline);

  // Find: a create of this pod that a killed or crashed run started may have made its container already.
  const existing = single(await findOwnedSettled(pve, owner, deadline), owner);
  if (existing) {
    ctx.note(`pod ${inputs.name}: adopting CT ${existing.vmid} on ${existing.node}, made for it by an earlier, interrupted run`);
    return finishCreate(ctx, inputs, existing, clone, deadline);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const { vmid } = await pve.createContainerAndWait(node, params, { vmid: inputs.vmid, deadlineMs: deadline.remaining() });
      return await finishCreate(ctx, inputs, await justCreated(pve, node, vmid), clone, deadline);
    } catch (thrown) {
      if (thrown instanceof PartialCreateError) throw thrown;
      const err = thrown instanceof CreateTaskError ? thrown.cause : thrown;
      // The answer may be lost although PVE acted, or our create task may still run: let that create end, then
      // decide by owner key, not by vmid. If it does not end in time, the container is there: record it.
      if (thrown instanceof CreateOutcomeUnknownError || (thrown instanceof CreateTaskError && !(err instanceof TaskFailedError))) {
        const { node: at, vmid } = thrown;
        try {
          await waitCreateEnded(pve, at, vmid, deadline);
        } catch (waitErr) {
          if (thrown instanceof CreateTaskError) throw new PartialCreateError(err, String(vmid), { ...inputs, node: at, vmid, hostname: hostnameFor(inputs), status: 'unknown' });
          throw waitErr;
        }
      }
      const made = single(await findOwnedSettled(pve, owner, deadline), owner);
      if (made) return finishCreate(ctx, inputs, made, clone, deadline);
      // Nothing exists: a new attempt cannot duplicate anything.
      if (!mayRetry(err, attempt)) throw err;
      const delay = retryDelay(err, attempt);
      if (deadline.remaining() <= delay + 1000) throw err;
      ctx.note(`pod ${inputs.name}: create failed (${(err as Error).message}); nothing was left behind, creating again (attempt ${attempt + 1})`);
      await sleep(delay);
    }
  }
}

/**
 * Pods without an owner key (made through the provider API directly, without the SDK): no lookup by owner is
 * possible, so an ambiguous create is resolved by vmid, as far as that is safe, and never retried.
 */
async function createUnowned(ctx: PodContext, inputs: PodInputs, node: string, params: Record<string, string | number>, clone: ZfsRootfs | undefined, deadline: Deadline): Promise<{ id: string; outs: PodOutputs }> {
  const { pve } = ctx;
  let vmid: number;
  try {
    vmid = (await pve.createContainerAndWait(node, params, { vmid: inputs.vmid, deadlineMs: deadline.remaining() })).vmid;
  } catch (err) {
    if (err instanceof CreateTaskError && !(err.cause instanceof TaskFailedError)) {
      // Our create task has not ended within the deadline: its container exists, so Pulumi must record it.
      throw new PartialCreateError(err.cause, String(err.vmid), { ...inputs, node: err.node, vmid: err.vmid, hostname: hostnameFor(inputs), status: 'unknown' });
    }
    if (err instanceof CreateOutcomeUnknownError) {
      await waitCreateEnded(pve, err.node, err.vmid, deadline);
      const there = await locateVmid(pve, err.vmid, err.node);
      if (there && ownershipOf(there.config, inputs.name, undefined) === 'legacy') return finishCreate(ctx, inputs, there, clone, deadline);
    }
    throw err instanceof CreateTaskError ? err.cause : err;
  }
  return finishCreate(ctx, inputs, await justCreated(pve, node, vmid), clone, deadline);
}

/** The container a create task just made; gone already is an error, not an absence (the task said it succeeded). */
async function justCreated(pve: PveClient, node: string, vmid: number): Promise<FoundContainer> {
  const config = await pve.containerConfig(node, vmid);
  if (!config) throw new ProxmoxPodsError(`CT ${vmid} vanished right after its create task succeeded`, 'E_GONE');
  return { node, vmid, config };
}

async function adoptPod(ctx: PodContext, inputs: PodInputs, deadline: Deadline): Promise<{ id: string; outs: PodOutputs }> {
  const vmid = inputs.vmid!;
  const found = await locateVmid(ctx.pve, vmid, inputs.node);
  if (!found) throw new InputError('vmid', `no container ${vmid} exists${inputs.node ? ` on node ${inputs.node}` : ' in the cluster'}`, 'check the vmid, or remove adopt to create a new pod');
  if (inputs.node && found.node !== inputs.node) throw new InputError('node', `container ${vmid} runs on ${found.node}, not ${inputs.node}`, `set node to "${found.node}"`);
  if (found.config.template !== undefined && Number(found.config.template) === 1) throw new InputError('vmid', `container ${vmid} is a template`, 'adopt a regular container');
  // A locked container is not refused here: converging it meets the lock, and retryOnCt waits for the task that holds
  // it or says that none does (config-lock.ts), as for any pod step.
  const owner = ownerFor(ctx, inputs);
  const ownership = ownershipOf(found.config, inputs.name, owner);
  if (ownership === 'foreign') {
    const other = ownerOfConfig(found.config);
    const { meta } = parseDescription(found.config.description);
    throw new InputError('vmid', `container ${vmid} is already managed by proxmox-pods as "${meta?.name}"${other ? ` (${describeOwner(other)})` : ''}`, 'adopt only unmanaged containers or the one with this name; proxmox-pods never takes over a container another pod owns');
  }
  await convergeRetrying(ctx, found.node, vmid, inputs, deadline);
  return { id: String(vmid), outs: await outputsFor(ctx.pve, inputs, found.node, vmid) };
}

/**
 * Refresh: the prior outputs with exactly what drifted on the container replaced by its live value, so an untouched
 * pod reads back unchanged and a change made behind Pulumi's back shows as that one property. Gone (or taken over by
 * another owner's container at this vmid) is `undefined`. Without prior state (Resource.get) the inputs are rebuilt
 * from the container.
 */
export async function readPod(id: string, props: PodOutputs, ctxIn?: Partial<PodContext>): Promise<ReadOutcome<PodInputs, PodOutputs>> {
  const ctx = ctxOrDefault(ctxIn);
  const vmid = Number(id);
  const prior = props.image !== undefined;
  const owner = prior ? ownerFor(ctx, props) : undefined;
  const found = prior ? await locateOwned(ctx.pve, vmid, props.node, props.name, owner) : await locateVmid(ctx.pve, vmid, props.node);
  if (!found) return undefined;
  if (!prior) {
    // Resource.get: no state to keep, everything comes from the container.
    const inputs = inputsFromConfig(found.config, {});
    const outs: PodOutputs = { ...inputs, node: found.node, vmid: found.vmid, hostname: String(found.config.hostname ?? hostnameFor(inputs)), ...(await observe(ctx.pve, found.node, found.vmid, found.config)) };
    return { id: String(found.vmid), props: outs, inputs };
  }
  const { outs, drifted } = await observedOutputs(ctx.pve, props, found, ctx.identity, owner);
  // Inputs only when something drifted: then the next preview shows that property; otherwise Pulumi keeps its own.
  return { id: String(found.vmid), props: outs, ...(drifted ? { inputs: inputsAfterDrift(outs, pinnedOf(found.config)) } : {}) };
}

export async function updatePod(id: string, olds: PodOutputs, news: PodInputs, ctxIn?: Partial<PodContext>): Promise<{ outs: PodOutputs }> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`update pod ${news.name}`, timeoutMs(news.timeouts, 'update'));
  // The container carries the owner key it was made with; a changed key (a renamed stack) is rewritten by converge.
  const found = await locateOwned(ctx.pve, olds.vmid ?? Number(id), olds.node, olds.name ?? news.name, ownerFor(ctx, olds.owner ? olds : news));
  if (!found) {
    if (olds.status === 'unknown' && news.owner) {
      // A partial create whose container never came to be (or was cleaned up by PVE): finish the create.
      return { outs: (await createPod(news, ctx)).outs };
    }
    throw new ProxmoxPodsError(`pod ${news.name} (CT ${olds.vmid ?? id}) no longer exists; run \`pulumi refresh\` and then \`pulumi up\` to recreate it`, 'E_GONE');
  }
  await convergeRetrying(ctx, found.node, found.vmid, news, deadline);
  return { outs: await outputsFor(ctx.pve, news, found.node, found.vmid) };
}

export async function deletePod(id: string, props: PodOutputs, ctxIn?: Partial<PodContext>): Promise<void> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`delete pod ${props.name ?? id}`, timeoutMs(props.timeouts, 'delete'));
  const owner = props.name ? ownerFor(ctx, props) : undefined;
  const vmid = props.vmid ?? Number(id);
  const targets: FoundContainer[] = [];
  const at = props.name ? await locateOwned(ctx.pve, vmid, props.node, props.name, owner) : undefined;
  if (at) targets.push(at);
  // Every container that carries this pod's owner key goes with it (normally the one above).
  if (owner) for (const f of await findOwned(ctx.pve, owner)) if (!targets.some((t) => t.vmid === f.vmid)) targets.push(f);
  for (const t of targets) {
    await retryOnCt(ctx, t.node, t.vmid, deadline, `pod ${props.name ?? id}: destroying CT ${t.vmid}`, async () => {
      const status = (await ctx.pve.containerStatus(t.node, t.vmid))?.status;
      if (status === undefined) return; // gone meanwhile: that is what we wanted
      if (status === 'running') await ctx.pve.stopContainer(t.node, t.vmid, { deadlineMs: deadline.remaining() });
      deadline.check();
      await ctx.pve.destroyContainer(t.node, t.vmid, { purge: true, deadlineMs: deadline.remaining() });
    });
  }
}
