import { checkWithSchema } from '../common/check';
import { onlineNodes, pveClient } from '../common/connection';
import { InputError } from '../../errors';
import type { CheckFailure, ResourceModule } from '../types';
import { planChange, type ResourceDefinition } from '../common/definition';
import { createPod, deletePod, readPod, updatePod } from '../pod/lifecycle';
import type { PodOutputs } from '../pod/schema';
import { derivedOutputs, planPodChange, restartReason } from '../pod/plan';
import { fqdn, podName, spreadNode } from './identity';
import { containsUnknown } from '../common/unknowns';
import { statefulSetPodInputsSchema, type StatefulSetPodInputs } from './schema';
import { statefulInputsFromPod, toPodInputs, toPodOutputs, toStatefulOutputs, type StatefulSetPodOutputs } from './translate';

/**
 * How a StatefulSetPod's own inputs apply. Identity inputs make another member of another set; the fields it shares
 * with a Pod are judged by the Pod's definition on the translated inputs, so here they are `derived`.
 */
const statefulSetPodDefinition: ResourceDefinition<StatefulSetPodInputs> = {
  kind: 'StatefulSetPod',
  fields: {
    set: 'replace', ordinal: 'replace', namespace: 'replace',
    service: 'state', domain: 'state', timeouts: 'state',
    image: 'derived', node: 'derived', cores: 'derived', memory: 'derived', swap: 'derived', rootfs: 'derived', network: 'derived',
    volume: 'derived', nameserver: 'derived', searchdomain: 'derived', env: 'derived', entrypoint: 'derived', tags: 'derived',
    description: 'derived', running: 'derived', onboot: 'derived', unprivileged: 'derived', nesting: 'derived', owner: 'derived',
    restartPlanned: 'derived',
  },
  deleteBeforeReplace: true,
};

// The owner key's name is the member's identity, `<namespace>/<set>-<ordinal>`: unique in a stack, and the same for
// the member that replaces it.
const identityOf = (s: StatefulSetPodInputs) => ({ kind: 'StatefulSetPod', extra: { set: s.set, ordinal: s.ordinal, namespace: s.namespace }, ownerName: `${s.namespace}/${podName(s)}` });

function derivationFailures(s: StatefulSetPodInputs): CheckFailure[] {
  try {
    toPodInputs(s);
    if (s.network.gateway && !s.network.cidr) return [{ property: 'network.gateway', reason: 'a gateway needs network.cidr (static addresses); remove it for DHCP' }];
    if (s.node && s.volume?.node && s.node !== s.volume.node) return [{ property: 'node', reason: `the volume lives on ${s.volume.node}; pin the pod there or leave node unset` }];
    return [];
  } catch (err) {
    if (err instanceof InputError) return [{ property: err.field, reason: err.message.slice(err.field.length + 2) }];
    throw err;
  }
}

/** What check() derives for a member (hostname, static ip, MAC, pod name, DNS name): known during a preview. */
function statefulDerived(s: StatefulSetPodInputs): Record<string, unknown> {
  const name = podName(s);
  return { ...derivedOutputs(toPodInputs(s)), podName: name, ...(s.service ? { fqdn: fqdn(name, s.service, s.namespace, s.domain) } : {}) };
}

export const statefulSetPodModule: ResourceModule<StatefulSetPodInputs, StatefulSetPodOutputs> = {
  kind: 'StatefulSetPod',
  schema: statefulSetPodInputsSchema,
  check(olds, news) {
    const result = checkWithSchema(statefulSetPodInputsSchema, news, derivationFailures);
    if (result.failures || !result.inputs) return result;
    const { restartPlanned: _previous, ...inputs } = result.inputs;
    const hasOlds = Object.keys(olds).some((k) => !k.startsWith('__'));
    let reason: string | undefined;
    if (hasOlds) {
      // Old inputs carry the derived outputs check() added; judge only the schema's own fields.
      const own = Object.fromEntries(Object.entries(olds).filter(([k]) => k in statefulSetPodInputsSchema.shape));
      const parsedOld = statefulSetPodInputsSchema.safeParse(own);
      if (parsedOld.success) reason = restartReason(toPodInputs(parsedOld.data), toPodInputs(inputs as StatefulSetPodInputs));
    }
    // The member's identity outputs follow from its inputs: keep them known during a preview (see derivedOutputs).
    const derived = containsUnknown(inputs) ? {} : statefulDerived(inputs as StatefulSetPodInputs);
    return { inputs: { ...inputs, ...derived, ...(reason ? { restartPlanned: reason } : {}) } as StatefulSetPodInputs };
  },
  diff(_id, olds, news) {
    // The member's pod fields apply as a Pod's do (on the translated inputs); its own fields as declared here.
    const pod = planPodChange(toPodOutputs(olds), toPodInputs(news));
    const own = planChange(statefulSetPodDefinition, olds as StatefulSetPodInputs, news);
    const replaces = [...new Set([...own.replace, ...pod.replace])].sort();
    const changed = [...new Set([...own.changed, ...pod.changed])].sort();
    // A member's identity (name, MAC, address, volume) exists once: the old member always goes first.
    return { changes: changed.length > 0, replaces, changed, deleteBeforeReplace: replaces.length > 0 };
  },
  async create(inputs) {
    const pve = pveClient();
    const pod = toPodInputs(inputs);
    if (!pod.node) pod.node = spreadNode(await onlineNodes(pve), inputs.ordinal);
    const { id, outs } = await createPod(pod, { pve, identity: identityOf(inputs) });
    return { id, outs: toStatefulOutputs(inputs, outs) };
  },
  async read(id, props) {
    // Refresh keeps the member's own inputs and carries only what drifted on its container back onto them.
    const r = await readPod(id, toPodOutputs(props), { identity: identityOf(props) });
    if (!r.id) return { id: '', props: {} as StatefulSetPodOutputs };
    const pod = r.props as PodOutputs;
    const outs = toStatefulOutputs(statefulInputsFromPod(props, pod), pod);
    if (!r.inputs) return { id: r.id, props: outs };
    // Something drifted: the inputs Pulumi recorded, with the drift, so the next preview shows that property.
    const { vmid: _v, status: _s, node, ip: _ip, mac: _mac, hostname: _h, podName: _p, fqdn: _f, ...own } = outs;
    const inputs = { ...own, ...(r.inputs.node !== undefined ? { node } : {}) } as StatefulSetPodInputs;
    return { id: r.id, props: outs, inputs: { ...inputs, ...statefulDerived(inputs) } as StatefulSetPodInputs };
  },
  async update(id, olds, news) {
    const { outs } = await updatePod(id, toPodOutputs(olds), { ...toPodInputs(news), node: olds.node }, { identity: identityOf(news) });
    return { outs: toStatefulOutputs(news, outs) };
  },
  delete: (id, props) => deletePod(id, toPodOutputs(props), { identity: identityOf(props) }),
};
