export { Pod, type PodArgs, type PodImageSource } from './pod';
export { StatefulSetPod, type StatefulSetPodArgs } from './statefulset-pod';
