// An e2e program: an OciImage from a (local, insecure, password-protected) registry and a Pod running it.
import * as pulumi from '@pulumi/pulumi';
import { OciImage, Pod } from '../../../sdk';

const cfg = new pulumi.Config();
const registry = cfg.require('registry');
const image = new OciImage('app', {
  reference: cfg.require('reference'),
  insecureRegistries: [registry],
  store: cfg.require('store'),
  credentials: { username: cfg.require('username'), password: cfg.requireSecret('password') },
  // With a parent dataset the image also gets ZFS layer chains and the pod's rootfs is a clone of the top one.
  ...(cfg.get('zfsParent') ? { zfs: { parentDataset: cfg.require('zfsParent') } } : {}),
});
const pod = new Pod('web', {
  image,
  memory: 256,
  rootfs: { storage: 'local-zfs', sizeGiB: 2 },
  network: { ip: '10.3.0.10/24', gateway: '10.3.0.1' },
  env: { MODE: 'e2e' },
});

export const digest = image.digest;
export const templateVolid = image.templateVolid;
export const imageEnv = image.env;
export const podVmid = pod.vmid;
export const zfsSnapshot = image.zfsSnapshot;
