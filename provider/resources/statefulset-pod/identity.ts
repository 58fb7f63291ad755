// Stable identity of a StatefulSet member: derived only from (namespace, set, ordinal), so a replacement pod gets the
// same name, hostname, MAC, IP and DNS name as the pod it replaces. Pure.
import { createHash } from 'node:crypto';
import { InputError } from '../../errors';

export interface IdentityKey {
  namespace: string;
  set: string;
  ordinal: number;
}

export function podName(k: Pick<IdentityKey, 'set' | 'ordinal'>): string {
  return `${k.set}-${k.ordinal}`;
}

/** A locally administered unicast MAC (02:…) from a hash of the identity: stable, and never a vendor's OUI. */
export function stableMac(k: IdentityKey): string {
  const h = createHash('sha256').update(`${k.namespace}/${k.set}/${k.ordinal}`).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':').toUpperCase();
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The ordinal's address in `cidr`: network + offset + ordinal, refusing the network/broadcast address and overflow. */
export function addressFor(cidr: string, offset: number, ordinal: number): { ip: string; prefix: number } {
  const [net, len] = cidr.split('/');
  const prefix = Number(len);
  const size = 2 ** (32 - prefix);
  const base = Math.floor(ipToInt(net!) / size) * size;
  const host = offset + ordinal;
  if (host <= 0 || host >= size - 1) {
    throw new InputError('network.cidr', `ordinal ${ordinal} with offset ${offset} falls outside ${cidr} (${size - 2} usable addresses)`, 'use a larger subnet or a smaller offset');
  }
  return { ip: intToIp(base + host), prefix };
}

export function fqdn(pod: string, service: string | undefined, namespace: string, domain: string): string | undefined {
  return service ? `${pod}.${service}.${namespace}.svc.${domain}` : undefined;
}

/** Replicas spread across the cluster: ordinal i lands on the i-th node (sorted), round robin. */
export function spreadNode(nodes: readonly string[], ordinal: number): string {
  const sorted = [...nodes].sort();
  if (!sorted.length) throw new InputError('node', 'the cluster reports no online node', 'check the cluster or pin node');
  return sorted[ordinal % sorted.length]!;
}
