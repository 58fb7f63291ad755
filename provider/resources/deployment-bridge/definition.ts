// How a DeploymentBridge's inputs apply: the bridge name (on its node) is its identity; its settings change in place
// through the PVE network API and the host. Pure; common/definition.ts turns it into the diff.
import type { ResourceDefinition } from '../common/definition';
import type { DeploymentBridgeInputs, DeploymentBridgeOutputs } from './schema';

export const deploymentBridgeDefinition: ResourceDefinition<DeploymentBridgeInputs, DeploymentBridgeOutputs> = {
  kind: 'DeploymentBridge',
  fields: {
    name: 'replace', node: { apply: 'replace', chosenWhenUnset: true },
    cidr: 'live', mtu: 'live', stp: 'live', multicastSnooping: 'live', isolatePorts: 'live', vlanAware: 'live', vlanFallback: 'live',
    owner: 'live', timeouts: 'state',
  },
  // The bridge name is unique on its node: a replacement deletes first.
  deleteBeforeReplace: true,
};
