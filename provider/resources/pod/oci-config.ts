// Parity with PVE 9.1's OCI create (pve-container src/PVE/LXC/Create.pm `restore_oci_archive`). The pod's image is
// an OCI archive, so PVE itself writes at create: `entrypoint` (Entrypoint+Cmd unless /sbin/init), `cmode: console`,
// `host-managed=1` on every NIC that does not set it, `env`, and the raw keys lxc.init.uid/gid/groups (User resolved
// against the image's /etc/passwd and /etc/group), lxc.init.cwd (WorkingDir) and lxc.signal.halt (StopSignal). The
// raw `lxc.*` keys cannot be set through the API (pve-container keeps them out of the config schema), so only the
// archive can carry them. What the API can set, the pod keeps equal to what PVE derived, with the pod's own inputs on
// top: this module says what that is, so that converge() never undoes PVE's mapping. Pure.
import { printNet, parseNet } from '../../proxmox/properties';
import type { PodInputs } from './schema';

/** Create.pm: an image whose Entrypoint+Cmd is empty or starts with /sbin/init keeps system-container behaviour. */
export function isApplicationImage(image: PodInputs['image']): boolean {
  if (typeof image === 'string') return false;
  const argv = [...(image.entrypoint ?? []), ...(image.cmd ?? [])];
  return argv.length > 0 && argv[0] !== '/sbin/init';
}

/** `network.hostManaged`, or PVE's default for the image (on for application images). */
export function hostManagedFor(inputs: Pick<PodInputs, 'image' | 'network'>): boolean | undefined {
  if (inputs.network?.hostManaged !== undefined) return inputs.network.hostManaged;
  return isApplicationImage(inputs.image) ? true : undefined;
}

/**
 * Applies the parity keys to a managed config (as managedConfig built it): `host-managed` on net0, `cmode: console`
 * for application images, and no `entrypoint` for system images unless the pod sets one (PVE writes none, and
 * /sbin/init is LXC's default anyway).
 */
export function applyOciParity(cfg: Record<string, string | number>, inputs: Pick<PodInputs, 'image' | 'network' | 'entrypoint'>): Record<string, string | number> {
  const hostManaged = hostManagedFor(inputs);
  if (typeof cfg.net0 === 'string' && hostManaged !== undefined) cfg.net0 = printNet({ ...parseNet(cfg.net0), 'host-managed': hostManaged });
  if (isApplicationImage(inputs.image)) cfg.cmode = 'console';
  else if (typeof inputs.image !== 'string' && !inputs.entrypoint) delete cfg.entrypoint;
  return cfg;
}
