export { Pod, type PodArgs, type PodImageSource } from './pod';
export { StatefulSetPod, type StatefulSetPodArgs } from './statefulset-pod';
export { PersistentVolume, type PersistentVolumeArgs } from './persistent-volume';
