// The e2e program for the emulator's lxc runtime: one image built offline, taken both ways (template: the plain
// Pod; ZFS clone: the StatefulSet), a StatefulSet of three on its own bridge behind a headless service, a port
// forward from the node to member 0, a plain Pod on vmbr0, and one addressed by DHCP there.
import * as pulumi from '@pulumi/pulumi';
import { DeploymentBridge, OciImage, Pod, PortForward, StatefulSet } from '../../../sdk';

const cfg = new pulumi.Config();
const store = cfg.require('store');
// Its own tag (another manifest): two OciImages of one manifest share the template, and with it its cleanup.
const appTpl = new OciImage('app-tpl', { reference: cfg.require('soloReference'), store });
const appZfs = new OciImage('app-zfs', { reference: cfg.get('setReference') ?? cfg.require('reference'), store, zfs: { parentDataset: cfg.require('zfsParent') } });

const net = new DeploymentBridge('app-net', { name: 'vmbr20', cidr: '10.61.0.1/24' });
const web = new StatefulSet('web', {
  replicas: 3,
  template: {
    image: appZfs,
    memory: 128,
    swap: 0,
    rootfs: { storage: 'local-zfs', sizeGiB: 1 },
    network: { bridge: net.bridge, cidr: '10.61.0.0/24', gateway: '10.61.0.1' },
    env: { ROLE: 'web', SETTING: cfg.get('setting') ?? 'one' },
  },
  volume: { sizeGiB: 1, reclaimPolicy: 'Delete', path: '/data' },
  service: { listen: { address: '10.61.0.1', port: 53 }, ports: [{ name: 'http', port: 8080 }] },
});
const http = new PortForward('web-http', {
  listenPort: 18080,
  protocol: 'tcp',
  targetIp: web.pods[0]!.ip.apply((ip) => ip ?? '0.0.0.0'),
  targetPort: 8080,
});
const solo = new Pod('solo', {
  image: appTpl,
  memory: 96,
  swap: 0,
  rootfs: { storage: 'local-lvm', sizeGiB: 1 },
  network: { bridge: 'vmbr0', ip: cfg.get('soloIp') ?? '192.168.100.60/24', gateway: '192.168.100.1' },
  env: { ROLE: 'solo' },
});

// Addressed by DHCP: PVE runs dhclient for a host-managed NIC (an OCI image's default) with ip=dhcp after the start.
const dhcp = new Pod('dhcp', {
  image: appTpl,
  memory: 96,
  swap: 0,
  rootfs: { storage: 'local-lvm', sizeGiB: 1 },
  network: { bridge: 'vmbr0', ip: 'dhcp' },
  env: { ROLE: 'dhcp' },
});

export const members = web.pods.map((p) => pulumi.all([p.podName, p.fqdn, p.ip, p.mac, p.vmid]).apply(([name, fqdn, ip, mac, vmid]) => ({ name, fqdn, ip, mac, vmid })));
export const volumes = web.volumes.map((v) => v.hostPath);
export const forward = http.listen;
export const soloVmid = solo.vmid;
export const soloIp = solo.ip;
export const dhcpIp = dhcp.ip;
export const templates = [appTpl.templateVolid, appZfs.templateVolid];
export const zfsSnapshot = appZfs.zfsSnapshot;
