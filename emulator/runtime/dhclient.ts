// DHCP for host-managed NICs, as pve-container does it: the host runs ISC dhclient in the CT's network (and UTS)
// namespace after the start, with LXC's dhclient-script, which configures the address and routes there and writes the
// CT's resolv.conf through /proc/<pid>/root.
//  - pve-container src/PVE/LXC.pm `vm_start`: after `systemctl start pve-container@<vmid>` and the post-start
//    hookscript, every `netN` (sorted keys) with `host-managed` set collects its name when `ip=dhcp` (v4) and when
//    `ip6=dhcp` (v6); each gets `manage_dhclient('start', …)`, a failure is only `log_warn("DHCP failed - $@")`.
//    (`ip6=auto` never gets here: on a host-managed NIC update_lxc_config dies "SLAAC is not supported for
//    host-managed network configuration", lxc-config.ts.)
//  - `manage_dhclient`: `lxc-attach -n <vmid> -s NETWORK|UTSNAME -- aa-exec -p unconfined /sbin/dhclient -1|-r -<4|6>
//    -pf /var/lib/lxc/<vmid>/hook/dhclient<v>-<eth>.pid -lf …/dhclient<v>-<eth>.leases -e ROOTFS=<rootdir>
//    -sf /usr/share/lxc/hooks/dhclient-script <eth>`, rootdir `/proc/<pid>/root`.
//  - `kill_dhclients` (from `vm_stop_cleanup`, and per NIC from Config.pm's hot-unplug): SIGKILL to the pid in each
//    `dhclient*-<eth>.pid`, the file removed.
// Differences here: no `aa-exec` (this machine has no AppArmor); the hook directory is under the emulator's own LXC
// path (`<lxc path>/<vmid>/hook`), and lxc-attach runs inside the node's namespace with `-P`, as every lxc-* call of
// this runtime does (lxc-runtime.ts). Debian's isc-dhcp-client is the same dhclient PVE depends on (debian/control).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ConfigValues } from '../cluster';
import { parseKey } from '../lxc-config';

export const DHCLIENT = '/sbin/dhclient';
export const DHCLIENT_SCRIPT = '/usr/share/lxc/hooks/dhclient-script';

export interface DhcpNic {
  version: 4 | 6;
  eth: string;
}

/** vm_start's selection: host-managed NICs with `ip=dhcp` (v4 list first) and `ip6=dhcp`, in sorted key order. Pure. */
export function managedDhcpNics(conf: ConfigValues): DhcpNic[] {
  const v4: DhcpNic[] = [];
  const v6: DhcpNic[] = [];
  // Perl's `sort keys %$conf`: a string sort (net10 before net2).
  for (const key of Object.keys(conf).filter((k) => /^net\d+$/.test(k)).sort()) {
    const d = parseKey(key, String(conf[key]));
    if (!Number(d['host-managed'] ?? 0)) continue;
    const eth = String(d['name'] ?? '');
    if (d['ip'] === 'dhcp') v4.push({ version: 4, eth });
    if (d['ip6'] === 'dhcp') v6.push({ version: 6, eth });
  }
  return [...v4, ...v6];
}

const hookDir = (ctDir: string) => path.join(ctDir, 'hook');

/** manage_dhclient's argv after `lxc-attach … --` (without aa-exec). Pure. */
export function dhclientArgv(action: 'start' | 'stop', nic: DhcpNic, ctDir: string, rootdir: string): string[] {
  const base = path.join(hookDir(ctDir), `dhclient${nic.version}-${nic.eth}`);
  return [DHCLIENT, action === 'start' ? '-1' : '-r', `-${nic.version}`, '-pf', `${base}.pid`, '-lf', `${base}.leases`, '-e', `ROOTFS=${rootdir}`, '-sf', DHCLIENT_SCRIPT, nic.eth];
}

/** The hook directory exists before dhclient writes its pid and lease files there (manage_dhclient's make_path). */
export async function prepareHookDir(ctDir: string): Promise<void> {
  await fs.mkdir(hookDir(ctDir), { recursive: true, mode: 0o755 });
}

/** LXC.pm `kill_dhclients`: SIGKILL every dhclient recorded for the CT (or for one NIC), removing its pid file. */
export async function killDhclients(ctDir: string, eth?: string, warn: (m: string) => void = () => undefined): Promise<void> {
  const names = await fs.readdir(hookDir(ctDir)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  for (const name of names) {
    const m = /^dhclient[46]-(.+)\.pid$/.exec(name);
    if (!m || (eth !== undefined && m[1] !== eth)) continue;
    const file = path.join(hookDir(ctDir), name);
    const text = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
    // PVE skips a pid file it cannot read or that holds no number; so do we.
    if (/^\d+$/.test(text)) {
      try {
        process.kill(Number(text), 'SIGKILL');
      } catch (err) {
        // ESRCH: it ended already (the CT's cgroup went with its init) — the state PVE wants too.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    await fs.unlink(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') warn(`failed to unlink PID file '${file}' - ${e.message}`);
    });
  }
}
