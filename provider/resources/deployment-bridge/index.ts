// The DeploymentBridge kind, wired: check (schema), diff (definition.ts), the preview's cluster checks (preflight.ts)
// and the lifecycle (lifecycle.ts).
import { checkWithSchema } from '../common/check';
import { declaredDiff } from '../common/definition';
import type { ResourceModule } from '../types';
import { deploymentBridgeDefinition } from './definition';
import { createDeploymentBridge, deleteDeploymentBridge, readDeploymentBridge, updateDeploymentBridge } from './lifecycle';
import { deploymentBridgePreflight } from './preflight';
import { deploymentBridgeInputsSchema, type DeploymentBridgeInputs, type DeploymentBridgeOutputs } from './schema';

export const deploymentBridgeModule: ResourceModule<DeploymentBridgeInputs, DeploymentBridgeOutputs> = {
  kind: 'DeploymentBridge',
  schema: deploymentBridgeInputsSchema,
  check: (_olds, news) => checkWithSchema(deploymentBridgeInputsSchema, news),
  diff: (_id, olds, news) => declaredDiff(deploymentBridgeDefinition, olds, news),
  preflight: deploymentBridgePreflight,
  create: (inputs) => createDeploymentBridge(inputs),
  read: (id, props) => readDeploymentBridge(id, props),
  update: (_id, olds, news) => updateDeploymentBridge(olds, news),
  delete: (_id, props) => deleteDeploymentBridge(props),
};
