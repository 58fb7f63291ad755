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
 * Why `gateway` should not be the default route of a pod addressed `cidr`, or undefined when it is fine.
 *
 * An off-subnet gateway is almost always a typo (a /24 copied into a /16 plan, the wrong third octet), so it fails the
 * preview by default. PVE itself accepts and routes it: the API checks only that `gw` is an IPv4 address, and every
 * distro setup adds an on-link host route to a gateway that `PVE::Network::is_ip_in_cidr` puts outside the address's
 * subnet before the default route (pve-container src/PVE/LXC/Setup/Debian.pm setup_network `needsroute` →
 * make_gateway_scripts `ip route add <gw> dev <if>`; Base.pm setup_systemd_networkd `[Route] Scope = link`; the same in
 * Redhat/SUSE/Gentoo.pm; src/PVE/LXC.pm update_ipconfig for a running container). So the refusal names the way to
 * say "on purpose": `gatewayOnLink`. /31 and /32 addresses (point-to-point by nature) are accepted as they are.
 */
export function gatewayProblem(cidr: string, gateway: string): string | undefined {
  const net = subnetOf(cidr);
  if (!net || !IPV4_RE.test(gateway) || net.prefix >= 31) return undefined;
  if (inSubnet(gateway, cidr)) return undefined;
  const hint = toDotted(net.first + 1);
  return `gateway ${gateway} is outside the pod's subnet ${net.network}/${net.prefix} (from ${cidr}); use an address in that subnet such as ${hint}, or change the address's prefix; if the gateway is on the link outside the subnet on purpose, set network.gatewayOnLink: true (PVE then adds the route to it)`;
}
