// Every resource kind the provider serves, by the name the SDK uses in its type token.
import { ociImageModule } from './oci-image';
import { podModule } from './pod';
import { statefulSetPodModule } from './statefulset-pod';
import { persistentVolumeModule } from './persistent-volume';
import { headlessServiceModule } from './headless-service';
import { deploymentBridgeModule } from './deployment-bridge';
import { portForwardModule } from './port-forward';
import type { ResourceModule } from './types';

export const resourceModules: Record<string, ResourceModule> = {
  [podModule.kind]: podModule,
  [statefulSetPodModule.kind]: statefulSetPodModule,
  [persistentVolumeModule.kind]: persistentVolumeModule,
  [headlessServiceModule.kind]: headlessServiceModule,
  [deploymentBridgeModule.kind]: deploymentBridgeModule,
  [portForwardModule.kind]: portForwardModule,
  [ociImageModule.kind]: ociImageModule,
};
