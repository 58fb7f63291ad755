// The StatefulSetPod's I/O: a member is a Pod (pod/lifecycle.ts) made from the translated inputs, placed by its ordinal
// when no node is pinned, and owned under its identity `<namespace>/<set>-<ordinal>`.
import { onlineNodes, pveClient } from '../common/connection';
import { createPod, deletePod, readPod, updatePod } from '../pod/lifecycle';
import type { ReadOutcome } from '../types';
import { podName, spreadNode } from './identity';
import { statefulDerived } from './plan';
import type { StatefulSetPodInputs, StatefulSetPodOutputs } from './schema';
import { statefulInputsFromPod, toPodInputs, toPodOutputs, toStatefulOutputs } from './translate';

// The owner key's name is the member's identity, `<namespace>/<set>-<ordinal>`: unique in a stack, and the same for
// the member that replaces it.
const identityOf = (s: StatefulSetPodInputs) => ({ kind: 'StatefulSetPod', extra: { set: s.set, ordinal: s.ordinal, namespace: s.namespace }, ownerName: `${s.namespace}/${podName(s)}` });

export async function createStatefulSetPod(inputs: StatefulSetPodInputs): Promise<{ id: string; outs: StatefulSetPodOutputs }> {
  const pve = pveClient();
  const pod = toPodInputs(inputs);
  if (!pod.node) pod.node = spreadNode(await onlineNodes(pve), inputs.ordinal);
  const { id, outs } = await createPod(pod, { pve, identity: identityOf(inputs) });
  return { id, outs: toStatefulOutputs(inputs, outs) };
}

/** Refresh keeps the member's own inputs and carries only what drifted on its container back onto them. */
export async function readStatefulSetPod(id: string, props: StatefulSetPodOutputs): Promise<ReadOutcome<StatefulSetPodInputs, StatefulSetPodOutputs>> {
  const r = await readPod(id, toPodOutputs(props), { identity: identityOf(props) });
  if (!r) return undefined;
  const pod = r.props;
  const outs = toStatefulOutputs(statefulInputsFromPod(props, pod), pod);
  if (!r.inputs) return { id: r.id, props: outs };
  // Something drifted: the inputs Pulumi recorded, with the drift, so the next preview shows that property.
  const { vmid: _v, status: _s, node, ip: _ip, mac: _mac, hostname: _h, podName: _p, fqdn: _f, ...own } = outs;
  const inputs: StatefulSetPodInputs = { ...own, ...(r.inputs.node !== undefined ? { node } : {}) };
  return { id: r.id, props: outs, inputs: { ...inputs, ...statefulDerived(inputs) } };
}

export async function updateStatefulSetPod(id: string, olds: StatefulSetPodOutputs, news: StatefulSetPodInputs): Promise<{ outs: StatefulSetPodOutputs }> {
  const { outs } = await updatePod(id, toPodOutputs(olds), { ...toPodInputs(news), node: olds.node }, { identity: identityOf(news) });
  return { outs: toStatefulOutputs(news, outs) };
}

export function deleteStatefulSetPod(id: string, props: StatefulSetPodOutputs): Promise<void> {
  return deletePod(id, toPodOutputs(props), { identity: identityOf(props) });
}
