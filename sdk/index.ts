export { Pod, type PodArgs, type PodImageSource } from './pod';
export { StatefulSetPod, type StatefulSetPodArgs } from './statefulset-pod';
export { PersistentVolume, type PersistentVolumeArgs } from './persistent-volume';
export { HeadlessService, type HeadlessServiceArgs } from './headless-service';
export { StatefulSet, type StatefulSetArgs } from './statefulset';
export { OciImage, type OciImageArgs } from './oci-image';
export { DeploymentBridge, type DeploymentBridgeArgs } from './deployment-bridge';
export { PortForward, type PortForwardArgs } from './port-forward';
