// Pure planning for a Pod beyond its diff (definition.ts): the restart an update will make (check() records it for the
// preview), and the outputs that follow from the inputs alone.
import { containsUnknown } from '../common/unknowns';
import { planChange } from '../common/definition';
import { podDefinition } from './definition';
import { hostnameFor, type PodInputs, type PodOutputs } from './schema';

/** Human-readable reason that check() records in `restartPlanned`, or undefined when no restart is needed. */
export function restartReason(olds: PodInputs | undefined, news: PodInputs): string | undefined {
  if (!olds || olds.image === undefined) return undefined;
  const plan = planChange(podDefinition, olds, news);
  if (plan.replace.length || !plan.restart.length) return undefined;
  if (!news.running || olds.running === false) return undefined;
  return `restart to apply ${plan.restart.join(', ')} (PVE applies ${plan.restart.length > 1 ? 'them' : 'it'} only at start)`;
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
