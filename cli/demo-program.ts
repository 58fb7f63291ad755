// The program `npm run demo` runs on the emulator's lxc runtime: the demo image as a real pod on vmbr0, and a port
// forward from the node's port 8080 to it.
import * as pulumi from '@pulumi/pulumi';
import { OciImage, Pod, PortForward } from '../sdk';

const config = new pulumi.Config();
const app = new OciImage('app', { reference: config.require('image'), store: config.require('imageStore') });
const web = new Pod('web', {
  image: app,
  memory: 128,
  swap: 0,
  rootfs: { sizeGiB: 1 },
  network: { bridge: 'vmbr0', ip: '192.168.100.50/24', gateway: '192.168.100.1' },
  env: { GREETING: 'hello from proxmox-pods' },
});
const http = new PortForward('web-http', { listenPort: 8080, protocol: 'tcp', targetIp: web.ip.apply((ip) => ip ?? '0.0.0.0'), targetPort: 8080 });

export const imageDigest = app.digest;
export const webVmid = web.vmid;
export const webIp = web.ip;
export const forward = http.listen;
