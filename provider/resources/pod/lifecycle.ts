// The Pod's I/O: create, read, update and delete against PVE. Planning is pure (plan.ts, pve-config.ts); this module
// only sequences API calls, enforces the resource's deadlines and never loses a container it created.
import type { PveClient } from '../../proxmox/client';
import { InputError, ProxmoxPodsError } from '../../errors';
import { CreateOutcomeUnknownError } from '../../proxmox/errors';
import { Deadline, timeoutMs } from '../common/duration';
import { defaultStorage, pveClient } from '../common/connection';
import { PartialCreateError } from '../common/partial';
import { reapplyPortIsolation } from '../common/isolation';
import { hostnameFor } from './plan';
import { prepareZfsRootfs } from './zfs-rootfs';
import { configUpdate, createParams, inputsFromConfig, managedConfig, MANAGED_TAG, parseDescription, type PodIdentity } from './pve-config';
import type { PodInputs, PodOutputs } from './schema';
import { normalizeTags, parseNet } from '../../proxmox/properties';

export interface PodContext {
  pve: PveClient;
  /** Identity other resources (StatefulSetPod) keep in the container's metadata. */
  identity: PodIdentity;
}

function ctxOrDefault(ctx?: Partial<PodContext>): PodContext {
  return { pve: ctx?.pve ?? pveClient(), identity: ctx?.identity ?? {} };
}

/** Where is this vmid now? The recorded node first (cheap), then the cluster (it may have migrated). */
async function locate(pve: PveClient, vmid: number, node?: string): Promise<{ node: string; config: Record<string, unknown> } | undefined> {
  if (node) {
    const config = await pve.containerConfig(node, vmid);
    if (config) return { node, config };
  }
  const found = await pve.findGuest(vmid);
  if (!found || found.type !== 'lxc') return undefined;
  const config = await pve.containerConfig(found.node, vmid);
  return config ? { node: found.node, config } : undefined;
}

/** Is the container at this vmid the one this resource manages? Never touch someone else's container. */
function isOurs(config: Record<string, unknown>, name: string): boolean {
  const { meta } = parseDescription(typeof config.description === 'string' ? config.description : undefined);
  const tagged = normalizeTags(typeof config.tags === 'string' ? config.tags : '').includes(MANAGED_TAG);
  return tagged && meta?.name === name;
}

async function observe(pve: PveClient, node: string, vmid: number, config: Record<string, unknown>): Promise<Pick<PodOutputs, 'status' | 'ip' | 'mac'>> {
  const status = (await pve.containerStatus(node, vmid))?.status ?? 'unknown';
  const net = typeof config.net0 === 'string' ? parseNet(config.net0) : undefined;
  let ip = net?.ip && net.ip !== 'dhcp' && net.ip !== 'manual' ? net.ip.split('/')[0] : undefined;
  let mac = net?.hwaddr;
  if (status === 'running') {
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

async function outputsFor(pve: PveClient, inputs: PodInputs, node: string, vmid: number): Promise<PodOutputs> {
  const config = (await pve.containerConfig(node, vmid)) ?? {};
  return { ...inputs, node, vmid, hostname: hostnameFor(inputs), ...(await observe(pve, node, vmid, config)) };
}

/** Brings an existing container's config and power state to the inputs. Shared by create, adopt and update. */
async function converge(ctx: PodContext, node: string, vmid: number, inputs: PodInputs, deadline: Deadline): Promise<void> {
  const { pve } = ctx;
  const live = await pve.containerConfig(node, vmid);
  if (!live) throw new ProxmoxPodsError(`CT ${vmid} is gone from node ${node}; run \`pulumi refresh\` so Pulumi forgets it, then \`pulumi up\``, 'E_GONE');
  const desired = managedConfig(inputs, ctx.identity);
  const { set, del } = configUpdate(live, desired);
  if (Object.keys(set).length || del.length) {
    deadline.check();
    await pve.updateContainerConfig(node, vmid, set, { digest: typeof live.digest === 'string' ? live.digest : undefined, delete: del });
  }
  const liveSize = typeof live.rootfs === 'string' ? /size=(\d+(?:\.\d+)?)G/.exec(live.rootfs)?.[1] : undefined;
  if (liveSize !== undefined && inputs.rootfs.sizeGiB > Number(liveSize)) {
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

export async function createPod(inputs: PodInputs, ctxIn?: Partial<PodContext>): Promise<{ id: string; outs: PodOutputs }> {
  const ctx = ctxOrDefault(ctxIn);
  const { pve } = ctx;
  const deadline = new Deadline(`create pod ${inputs.name}`, timeoutMs(inputs.timeouts, 'create'));
  if (inputs.adopt) return adoptPod(ctx, inputs, deadline);
  const node = inputs.node ?? (await pve.defaultNode());
  const partial = (err: unknown, vmid: number) => new PartialCreateError(err, String(vmid), { ...inputs, node, vmid, hostname: hostnameFor(inputs), status: 'unknown' });
  const storage = defaultStorage();
  const clone = await prepareZfsRootfs(pve, inputs, node, storage, deadline);
  const params = { ...createParams(inputs, storage, ctx.identity), ...clone?.createOverrides };
  let created: { vmid: number; upid: string };
  try {
    created = await pve.createContainer(node, params, { vmid: inputs.vmid, deadlineMs: deadline.remaining() });
  } catch (err) {
    // No definite answer (596, lost connection): if the container is there, keep it in state rather than leak it.
    if (err instanceof CreateOutcomeUnknownError && (await pve.containerConfig(err.node, err.vmid).catch(() => undefined))) throw partial(err, err.vmid);
    throw err;
  }
  const { vmid, upid } = created;
  try {
    // A failed create task removes its own config (PVE); anything after this point leaves a container behind.
    await pve.waitTask(node, upid, { deadlineMs: deadline.remaining() });
  } catch (err) {
    if (await pve.containerConfig(node, vmid).catch(() => undefined)) throw partial(err, vmid);
    throw err;
  }
  try {
    if (clone) {
      const rootfs = (await pve.containerConfig(node, vmid))?.rootfs;
      await clone.swap(String(rootfs ?? ''));
    }
    await converge(ctx, node, vmid, inputs, deadline);
    return { id: String(vmid), outs: await outputsFor(pve, inputs, node, vmid) };
  } catch (err) {
    const outs = await outputsFor(pve, inputs, node, vmid).catch(() => ({ ...inputs, node, vmid, hostname: hostnameFor(inputs), status: 'unknown' }));
    throw new PartialCreateError(err, String(vmid), outs);
  }
}

async function adoptPod(ctx: PodContext, inputs: PodInputs, deadline: Deadline): Promise<{ id: string; outs: PodOutputs }> {
  const vmid = inputs.vmid!;
  const found = await locate(ctx.pve, vmid, inputs.node);
  if (!found) throw new InputError('vmid', `no container ${vmid} exists${inputs.node ? ` on node ${inputs.node}` : ' in the cluster'}`, 'check the vmid, or remove adopt to create a new pod');
  if (inputs.node && found.node !== inputs.node) throw new InputError('node', `container ${vmid} runs on ${found.node}, not ${inputs.node}`, `set node to "${found.node}"`);
  if (found.config.template !== undefined && Number(found.config.template) === 1) throw new InputError('vmid', `container ${vmid} is a template`, 'adopt a regular container');
  if (typeof found.config.lock === 'string') throw new InputError('vmid', `container ${vmid} is locked (${found.config.lock})`, 'wait for the running task or run `pct unlock` on the node');
  const { meta } = parseDescription(typeof found.config.description === 'string' ? found.config.description : undefined);
  if (meta && meta.name !== inputs.name) throw new InputError('vmid', `container ${vmid} is already managed by proxmox-pods as "${meta.name}"`, 'adopt only unmanaged containers or the one with this name');
  await converge(ctx, found.node, vmid, inputs, deadline);
  return { id: String(vmid), outs: await outputsFor(ctx.pve, inputs, found.node, vmid) };
}

export async function readPod(id: string, props: PodOutputs, ctxIn?: Partial<PodContext>): Promise<{ id: string; props: PodOutputs | Record<string, never>; inputs?: PodInputs }> {
  const ctx = ctxOrDefault(ctxIn);
  const vmid = Number(id);
  const found = await locate(ctx.pve, vmid, props.node);
  // Gone, or the vmid now belongs to another container: the pod no longer exists.
  if (!found || (props.name && !isOurs(found.config, props.name))) return { id: '', props: {} };
  const base: Partial<PodInputs> = { ...props };
  const inputs = inputsFromConfig(found.config, base);
  const observed = await observe(ctx.pve, found.node, vmid, found.config);
  inputs.running = observed.status === 'running';
  if (props.node !== undefined && (props as Partial<PodInputs>).node === undefined) delete inputs.node;
  const outs: PodOutputs = { ...inputs, node: found.node, vmid, hostname: String(found.config.hostname ?? hostnameFor(inputs)), ...observed };
  return { id, props: outs, inputs };
}

export async function updatePod(id: string, olds: PodOutputs, news: PodInputs, ctxIn?: Partial<PodContext>): Promise<{ outs: PodOutputs }> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`update pod ${news.name}`, timeoutMs(news.timeouts, 'update'));
  const vmid = Number(id);
  const found = await locate(ctx.pve, vmid, olds.node);
  if (!found) throw new ProxmoxPodsError(`pod ${news.name} (CT ${vmid}) no longer exists; run \`pulumi refresh\` and then \`pulumi up\` to recreate it`, 'E_GONE');
  await converge(ctx, found.node, vmid, news, deadline);
  return { outs: await outputsFor(ctx.pve, news, found.node, vmid) };
}

export async function deletePod(id: string, props: PodOutputs, ctxIn?: Partial<PodContext>): Promise<void> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`delete pod ${props.name ?? id}`, timeoutMs(props.timeouts, 'delete'));
  const vmid = Number(id);
  const found = await locate(ctx.pve, vmid, props.node);
  if (!found) return; // already gone is success
  if (props.name && !isOurs(found.config, props.name)) return; // the vmid was reused by another container
  const status = (await ctx.pve.containerStatus(found.node, vmid))?.status;
  if (status === 'running') await ctx.pve.stopContainer(found.node, vmid, { deadlineMs: deadline.remaining() });
  deadline.check();
  await ctx.pve.destroyContainer(found.node, vmid, { purge: true, deadlineMs: deadline.remaining() });
}
