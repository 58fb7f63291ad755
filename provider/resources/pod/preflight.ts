// The Pod's preview checks against the cluster (read-only; see common/preflight.ts): the node, the rootfs
// storage (exists and holds "rootdir" content), the template (on its storage) and the bridge (on the node).
// The gateway-in-subnet check needs no cluster and lives in the schema.
import { bridgeFailure, known, resolveNode, storageFailure, templateFailure, type ClusterView, type PreflightContext } from '../common/preflight';
import { defaultStorage } from '../common/connection';
import type { CheckFailure } from '../types';
import type { PodInputs } from './schema';

/** The fields a pod-like resource places on a node, and the input paths to blame for each. */
export interface Placement {
  storage?: { value: unknown; field: string };
  template?: { value: unknown; field: string };
  bridge?: { value: unknown; field: string };
}

/** Storage, template and bridge checks on one node; unknown values are skipped. */
export async function placementFailures(cluster: ClusterView, node: string, p: Placement): Promise<CheckFailure[]> {
  const checks: Array<Promise<CheckFailure[]>> = [];
  if (p.storage && known(p.storage.value)) {
    const explicit = p.storage.value !== DEFAULT;
    const storage = explicit ? String(p.storage.value) : defaultStorage();
    checks.push(storageFailure(cluster, node, storage, 'rootdir', p.storage.field, explicit ? '' : ' (the default: proxmox-pods:storage, PROXMOX_VE_STORAGE, else local-lvm)'));
  }
  if (p.template && known(p.template.value)) checks.push(templateFailure(cluster, node, String(p.template.value), p.template.field));
  if (p.bridge && known(p.bridge.value)) checks.push(bridgeFailure(cluster, node, String(p.bridge.value), p.bridge.field));
  return (await Promise.all(checks)).flat();
}

/** Marks "no storage given: the provider's default applies". */
export const DEFAULT = Symbol('default storage');

/** The template a pod's `image` names, and the input path to blame (`image` or `image.template`). */
export function templateField(image: unknown): { value: unknown; field: string } | undefined {
  if (typeof image === 'string') return { value: image, field: 'image' };
  if (image && typeof image === 'object' && 'template' in image) return { value: (image as { template: unknown }).template, field: 'image.template' };
  return undefined;
}

/** The rootfs storage to check: the given one, the provider's default when none is given, nothing while unknown. */
export function storagePlacement(rootfs: unknown): Pick<Placement, 'storage'> {
  if (rootfs !== undefined && (typeof rootfs !== 'object' || rootfs === null)) return {}; // unknown as a whole
  const storage = (rootfs as { storage?: unknown } | undefined)?.storage;
  return { storage: { value: storage ?? DEFAULT, field: 'rootfs.storage' } };
}

export async function podPreflight(inputs: PodInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  if (!ctx.cluster) return [];
  const { node, failures } = await resolveNode(ctx.cluster, inputs.node, 'node');
  if (!node) return failures;
  return placementFailures(ctx.cluster, node, {
    ...storagePlacement(inputs.rootfs),
    ...(templateField(inputs.image) ? { template: templateField(inputs.image)! } : {}),
    ...(inputs.network ? { bridge: { value: inputs.network.bridge, field: 'network.bridge' } } : {}),
  });
}
