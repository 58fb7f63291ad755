// An e2e program for round trips of the kinds besides pods: DeploymentBridge, PersistentVolume, HeadlessService,
// PortForward and OciImage, each from stack config (`bridges`, `volumes`, `services`, `forwards`, `images`: JSON maps
// of name → args), so a test can generate many valid inputs and "edit the program" by setting config. `pods` adds
// pods whose `image` may name one of the images (`"image:<name>"`), for previews of pods running an OciImage.
import * as pulumi from '@pulumi/pulumi';
import {
  DeploymentBridge, HeadlessService, OciImage, Pod, PersistentVolume, PortForward,
  type DeploymentBridgeArgs, type HeadlessServiceArgs, type OciImageArgs, type PersistentVolumeArgs, type PodArgs, type PortForwardArgs,
} from '../../../sdk';

const cfg = new pulumi.Config();
const map = <T>(key: string) => Object.entries(JSON.parse(cfg.get(key) ?? '{}') as Record<string, T>);
const out: Record<string, pulumi.Output<unknown>> = {};

for (const [name, args] of map<DeploymentBridgeArgs>('bridges')) out[`bridge-${name}`] = new DeploymentBridge(name, args).bridge;
for (const [name, args] of map<PersistentVolumeArgs>('volumes')) out[`volume-${name}`] = new PersistentVolume(name, args).hostPath;
for (const [name, args] of map<HeadlessServiceArgs>('services')) out[`service-${name}`] = new HeadlessService(name, args).zone;
for (const [name, args] of map<PortForwardArgs>('forwards')) out[`forward-${name}`] = new PortForward(name, args).listen;
const images: Record<string, OciImage> = {};
for (const [name, args] of map<OciImageArgs>('images')) {
  images[name] = new OciImage(name, args);
  out[`image-${name}`] = images[name].pinnedReference;
  out[`template-${name}`] = images[name].templateVolid;
}
for (const [name, { image, ...args }] of map<PodArgs & { image: string }>('pods')) {
  const source = image.startsWith('image:') ? images[image.slice('image:'.length)]! : image;
  out[`pod-${name}`] = new Pod(name, { ...args, image: source }).vmid;
}
export const values = out;
