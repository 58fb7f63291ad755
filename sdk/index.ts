export { Pod, type PodArgs, type PodImageSource } from './pod';
