// A web tier with stable identity: its own bridge, a StatefulSet of pods (each with a persistent volume) behind a
// headless service (DNS on the node), and a port forward from the node to the first pod.
//   pulumi config set replicas 3
//   pulumi config set proxmox-pods:hosts '{"pve1":{"ssh":{"host":"pve1.lan"}}}'
//   pulumi config set proxmox-pods:volumeDataset rpool/data/proxmox-pods
import * as pulumi from '@pulumi/pulumi';
import { DeploymentBridge, PortForward, StatefulSet } from '../../sdk';

const config = new pulumi.Config();
const replicas = config.getNumber('replicas') ?? 3;
const node = config.get('node');
const template = config.get('template') ?? 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

const net = new DeploymentBridge('web-net', {
  name: config.get('bridge') ?? 'vmbr10',
  node,
  cidr: '10.60.0.1/24',
  isolatePorts: true,
  multicastSnooping: true,
});

const web = new StatefulSet('web', {
  replicas,
  template: {
    image: template,
    node,
    memory: 256,
    swap: 0,
    rootfs: { storage: config.get('storage') ?? 'local-zfs', sizeGiB: 2 },
    network: { bridge: net.bridge, cidr: '10.60.0.0/24', gateway: '10.60.0.1' },
    nameserver: ['10.60.0.1'],
    env: { ROLE: 'web' },
  },
  volume: { sizeGiB: 1, reclaimPolicy: 'Retain', path: '/data' },
  service: { node, listen: { address: '10.60.0.1', port: 53 }, ports: [{ name: 'http', port: 80 }] },
});

const http = new PortForward('web-http', {
  node,
  listenPort: 8080,
  protocol: 'tcp',
  targetIp: web.pods[0]!.ip.apply((ip) => ip ?? '0.0.0.0'),
  targetPort: 80,
});

export const bridge = net.bridge;
export const pods = web.pods.map((p) => p.fqdn);
export const addresses = web.pods.map((p) => p.ip);
export const zone = web.service!.zone;
export const forward = http.listen;
