// An e2e program for two stacks of one project sharing an image: an OciImage from a local registry (its content store
// per stack, as on two machines or fresh CI runners) and a Pod running it.
import * as pulumi from '@pulumi/pulumi';
import { OciImage, Pod } from '../../../sdk';

const cfg = new pulumi.Config();
const image = new OciImage('app', {
  reference: cfg.require('reference'),
  insecureRegistries: [cfg.require('registry')],
  store: cfg.require('store'),
});
const pod = new Pod('web', {
  image,
  memory: 128,
  network: { ip: cfg.require('ip'), gateway: '10.3.0.1' },
});

export const templateVolid = image.templateVolid;
export const podVmid = pod.vmid;
