// IPv4 subnet arithmetic for the checks that need it (a gateway must sit in the pod's own subnet). Pure.
import { IPV4_CIDR_RE, IPV4_RE } from '../../host/names';

function toInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function toDotted(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** `10.3.0.10/24` → `{ network: '10.3.0.0', prefix: 24 }`; undefined when the text is not an IPv4 CIDR. */
export function subnetOf(cidr: string): { network: string; prefix: number; first: number; last: number } | undefined {
  if (!IPV4_CIDR_RE.test(cidr)) return undefined;
  const [ip, len] = cidr.split('/') as [string, string];
  const prefix = Number(len);
  const size = 2 ** (32 - prefix);
  const first = Math.floor(toInt(ip) / size) * size;
  return { network: toDotted(first), prefix, first, last: first + size - 1 };
}

/** Whether `address` lies inside the subnet of `cidr` (either an address with its prefix or a network). */
export function inSubnet(address: string, cidr: string): boolean {
  const net = subnetOf(cidr);
  if (!net || !IPV4_RE.test(address)) return false;
  const n = toInt(address);
  return n >= net.first && n <= net.last;
}

/**
 * Why `gateway` should not be the default route of a pod addressed `cidr`, or undefined when it is fine. An
 * off-subnet gateway is almost always a typo (a /24 copied into a /16 plan, the wrong third octet), and the issue
 * this check answers asks for it to fail the preview. PVE itself can route to one: its distro setup
 * (pve-container src/PVE/LXC/Setup/*.pm) adds a host route to the gateway when `is_ip_in_cidr` says it is outside,
 * and sets `needsroute` for that; /31 and /32 addresses (point-to-point by nature) are therefore accepted here.
 */
export function gatewayProblem(cidr: string, gateway: string): string | undefined {
  const net = subnetOf(cidr);
  if (!net || !IPV4_RE.test(gateway) || net.prefix >= 31) return undefined;
  if (inSubnet(gateway, cidr)) return undefined;
  const hint = toDotted(net.first + 1);
  return `gateway ${gateway} is outside the pod's subnet ${net.network}/${net.prefix} (from ${cidr}); use an address in that subnet such as ${hint}, or change the address's prefix`;
}
