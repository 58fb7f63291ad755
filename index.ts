// Quickstart: an OCI image run as a pod, next to a pod from a PVE template. `npm run demo` runs this against the
// embedded emulator (with an OCI layout it builds on the spot); against a real cluster, set proxmox-pods:endpoint /
// apiToken (see README) and run `pulumi up`.
import * as pulumi from '@pulumi/pulumi';
import { OciImage, Pod } from './sdk';

const config = new pulumi.Config();
const template = config.get('template') ?? 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const bridge = config.get('bridge') ?? 'vmbr0';
const imageStore = config.get('imageStore');

// Any OCI reference: a registry image, `oci-layout:<dir>:<tag>` or `oci-archive:<file.tar>`. Pulled and verified on
// the machine running Pulumi, uploaded to the node as a template; a moved tag shows as a replacement in the preview.
const app = new OciImage('app', {
  reference: config.get('image') ?? 'docker.io/library/nginx:1.27-alpine',
  ...(imageStore ? { store: imageStore } : {}),
});

// Entrypoint, cmd and env default to the image's config; the pod's env is merged over it.
const web = new Pod('web', {
  image: app,
  cores: 1,
  memory: 256,
  swap: 0,
  rootfs: { sizeGiB: 2 },
  network: { bridge, ip: '10.10.0.11/24', gateway: '10.10.0.1' },
  env: { PORT: '8080' },
  tags: ['quickstart', 'web'],
  description: 'Quickstart web pod',
});

const worker = new Pod('worker', {
  image: template,
  memory: 256,
  swap: 0,
  rootfs: { sizeGiB: 2 },
  network: { bridge, ip: 'dhcp' },
  env: { ROLE: 'worker', WEB_URL: pulumi.interpolate`http://${web.ip}:8080` },
  tags: ['quickstart'],
});

export const imageDigest = app.digest;
export const imageTemplate = app.templateVolid;
export const webVmid = web.vmid;
export const webIp = web.ip;
export const webStatus = web.status;
export const workerVmid = worker.vmid;
export const workerIp = worker.ip;
export const workerNode = worker.node;
