// The DeploymentBridge kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts)
// and the lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { deploymentBridgeDefinition } from './definition';
import { createDeploymentBridge, deleteDeploymentBridge, readDeploymentBridge, updateDeploymentBridge } from './lifecycle';
import { deploymentBridgePreflight } from './preflight';
import { deploymentBridgeInputsSchema, type DeploymentBridgeInputs, type DeploymentBridgeOutputs } from './schema';

export const deploymentBridgeModule = defineKind<DeploymentBridgeInputs, DeploymentBridgeOutputs>({
  schema: deploymentBridgeInputsSchema,
  definition: deploymentBridgeDefinition,
  preflight: deploymentBridgePreflight,
  create: (inputs) => createDeploymentBridge(inputs),
  read: (id, props) => readDeploymentBridge(id, props),
  update: (_id, olds, news) => updateDeploymentBridge(olds, news),
  delete: (_id, props) => deleteDeploymentBridge(props),
});
