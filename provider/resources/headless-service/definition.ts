// How a HeadlessService's inputs apply: the zone's name (name, namespace, domain) and its node are its identity;
// records, ports and where dnsmasq listens change in place. Pure; common/definition.ts turns it into the diff.
import type { ResourceDefinition } from '../common/definition';
import type { HeadlessServiceInputs, HeadlessServiceOutputs } from './schema';

export const headlessServiceDefinition: ResourceDefinition<HeadlessServiceInputs, HeadlessServiceOutputs> = {
  kind: 'HeadlessService',
  fields: {
    name: 'replace', namespace: 'replace', domain: 'replace', node: { apply: 'replace', chosenWhenUnset: true },
    listen: 'live', ports: 'live', pods: 'live', srvTarget: 'live', owner: 'live', timeouts: 'state',
  },
  deleteBeforeReplace: false,
};
