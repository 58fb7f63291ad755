// Privilege checks. Users here are root@pam, and privsep=0 tokens inherit root's privileges; a
// privsep=1 token only has what its own ACL grants (PVE intersects it with the user's, which is all).
import type { Identity } from './auth';
import { ApiError } from './errors';

export interface AclEntry {
  /** `/`, `/vms/100`, `/storage/local`, `/nodes/pve` … — grants propagate to sub-paths. */
  path: string;
  privs: string[];
}

export class Permissions {
  /** Keyed by full token id `user@realm!id`; only privsep tokens appear here. */
  private readonly acls = new Map<string, AclEntry[]>();

  addPrivsepToken(fullId: string, acl: AclEntry[]): void {
    this.acls.set(fullId, acl);
  }

  can(who: Identity | undefined, path: string, priv: string): boolean {
    if (!who) return true; // unauthenticated routes have no checks
    const acl = this.acls.get(who.full);
    if (!acl) return true;
    return acl.some((e) => e.privs.includes(priv) && (e.path === '/' || path === e.path || path.startsWith(`${e.path}/`)));
  }

  /** PVE's `$rpcenv->check(...)`: 403 `Permission check failed (<path>, <priv>)`. */
  check(who: Identity | undefined, path: string, priv: string): void {
    if (!this.can(who, path, priv)) throw new ApiError(403, `Permission check failed (${path}, ${priv})`);
  }
}

/** The privilege PVE's check_ct_modify_config_perm wants for a config key. */
export function privForConfigKey(key: string): string {
  if (['cores', 'cpulimit', 'cpuunits'].includes(key)) return 'VM.Config.CPU';
  if (['memory', 'swap'].includes(key)) return 'VM.Config.Memory';
  if (/^net\d+$/.test(key)) return 'VM.Config.Network';
  if (key === 'rootfs' || /^(mp|unused)\d+$/.test(key)) return 'VM.Config.Disk';
  return 'VM.Config.Options';
}
