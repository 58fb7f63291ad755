// How a StatefulSetPod's inputs apply. Its identity inputs make another member of another set; the fields it shares
// with a Pod are judged by the Pod's definition on the translated inputs (its base), so here they are `derived`.
// Pure; common/definition.ts turns it into the diff.
import { basedOn, type ResourceDefinition } from '../common/definition';
import { podDefinition } from '../pod/definition';
import type { StatefulSetPodInputs, StatefulSetPodOutputs } from './schema';
import { toPodInputs, toPodOutputs } from './translate';

export const statefulSetPodDefinition: ResourceDefinition<StatefulSetPodInputs, StatefulSetPodOutputs> = {
  kind: 'StatefulSetPod',
  fields: {
    set: 'replace', ordinal: 'replace', namespace: 'replace',
    service: 'state', domain: 'state', timeouts: 'state',
    image: 'derived', node: 'derived', cores: 'derived', memory: 'derived', swap: 'derived', rootfs: 'derived', network: 'derived',
    volume: 'derived', nameserver: 'derived', searchdomain: 'derived', env: 'derived', entrypoint: 'derived', tags: 'derived',
    description: 'derived', running: 'derived', onboot: 'derived', unprivileged: 'derived', nesting: 'derived', owner: 'derived',
    restartPlanned: 'derived',
  },
  // The member's pod fields apply as a Pod's do: the prior outputs and the new inputs, translated into a Pod's.
  base: basedOn(podDefinition, toPodOutputs, toPodInputs),
  // A member's identity (name, MAC, address, volume) exists once: the old member always goes first.
  deleteBeforeReplace: true,
};
