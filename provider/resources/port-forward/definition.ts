// How a PortForward's inputs apply: its rules are rewritten in place (one nft transaction); its name and node identify
// them, so another name or node is another forward. Pure; common/definition.ts turns it into the diff.
import type { ResourceDefinition } from '../common/definition';
import type { PortForwardInputs, PortForwardOutputs } from './schema';

export const portForwardDefinition: ResourceDefinition<PortForwardInputs, PortForwardOutputs> = {
  kind: 'PortForward',
  fields: {
    name: 'replace', node: { apply: 'replace', chosenWhenUnset: true },
    listenAddress: 'live', listenPort: 'live', protocol: 'live', targetIp: 'live', targetPort: 'live', masquerade: 'live',
    owner: 'live', timeouts: 'state',
  },
  // A rule removed by hand (refresh reads `complete: false`) is put back by an update.
  repairs: { complete: (olds) => olds.complete === false },
  // The listen address and port can be forwarded once: the old rules go first.
  deleteBeforeReplace: true,
};
