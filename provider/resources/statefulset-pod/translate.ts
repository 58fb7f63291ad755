// A StatefulSetPod is a Pod whose identity-bearing inputs are derived: this maps one onto the other. Pure.
import type { PodInputs, PodOutputs } from '../pod/schema';
import { addressFor, fqdn, podName, stableMac } from './identity';
import type { StatefulSetPodInputs, StatefulSetPodOutputs } from './schema';

const SHARED = ['image', 'cores', 'memory', 'swap', 'rootfs', 'nameserver', 'searchdomain', 'env', 'entrypoint', 'tags', 'description', 'running', 'onboot', 'unprivileged', 'nesting', 'timeouts', 'owner'] as const;

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function toPodInputs(s: StatefulSetPodInputs): PodInputs {
  const name = podName(s);
  const net = s.network;
  const addr = net.cidr ? addressFor(net.cidr, net.offset, s.ordinal) : undefined;
  const shared = Object.fromEntries(SHARED.map((k) => [k, s[k]]));
  return defined({
    ...(shared as Pick<PodInputs, (typeof SHARED)[number]>),
    name,
    hostname: name,
    node: s.node ?? s.volume?.node,
    network: defined({
      bridge: net.bridge,
      ip: addr ? `${addr.ip}/${addr.prefix}` : 'dhcp',
      gateway: net.gateway,
      gatewayOnLink: net.gatewayOnLink,
      vlan: net.vlan,
      mtu: net.mtu,
      firewall: net.firewall,
      mac: stableMac({ namespace: s.namespace, set: s.set, ordinal: s.ordinal }),
    }),
    mounts: s.volume ? [{ source: s.volume.hostPath, path: s.volume.path }] : undefined,
  }) as PodInputs;
}

export function toPodOutputs(o: StatefulSetPodOutputs): PodOutputs {
  return { ...toPodInputs(o), node: o.node, vmid: o.vmid, hostname: o.hostname, status: o.status, ip: o.ip, mac: o.mac };
}

export function toStatefulOutputs(s: StatefulSetPodInputs, pod: PodOutputs): StatefulSetPodOutputs {
  const name = podName(s);
  const { restartPlanned: _derived, ...inputs } = s;
  return defined({ ...inputs, vmid: pod.vmid, node: pod.node, hostname: pod.hostname, status: pod.status, ip: pod.ip, mac: pod.mac, podName: name, fqdn: fqdn(name, s.service, s.namespace, s.domain) });
}

/** Carries drift the Pod's read found back onto the StatefulSetPod's own inputs. */
export function statefulInputsFromPod(base: StatefulSetPodInputs, live: PodInputs | PodOutputs): StatefulSetPodInputs {
  const out: StatefulSetPodInputs = { ...base };
  for (const k of SHARED) (out as Record<string, unknown>)[k] = live[k];
  return defined(out);
}
