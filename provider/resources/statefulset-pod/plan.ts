// Pure planning for a StatefulSetPod beyond its diff (definition.ts): what check() derives for a member (its
// identity outputs, the restart an update makes) and the inputs whose derivation fails.
import { InputError } from '../../errors';
import { derivedOutputs, restartReason } from '../pod/plan';
import type { CheckFailure } from '../types';
import { fqdn, podName } from './identity';
import { statefulSetPodInputsSchema, type StatefulSetPodInputs } from './schema';
import { toPodInputs } from './translate';

/** Inputs the schema accepts but a member cannot be made of (an address outside the subnet, a volume elsewhere). */
export function derivationFailures(s: StatefulSetPodInputs): CheckFailure[] {
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
export function statefulDerived(s: StatefulSetPodInputs): Record<string, unknown> {
  const name = podName(s);
  return { ...derivedOutputs(toPodInputs(s)), podName: name, ...(s.service ? { fqdn: fqdn(name, s.service, s.namespace, s.domain) } : {}) };
}

/** The restart an update makes (check() records it), judged as the member's Pod. */
export function statefulRestartReason(olds: Record<string, unknown>, news: StatefulSetPodInputs): string | undefined {
  // Old inputs carry the derived outputs check() added; judge only the schema's own fields.
  const own = Object.fromEntries(Object.entries(olds).filter(([k]) => k in statefulSetPodInputsSchema.shape));
  const parsedOld = statefulSetPodInputsSchema.safeParse(own);
  return parsedOld.success ? restartReason(toPodInputs(parsedOld.data), toPodInputs(news)) : undefined;
}
