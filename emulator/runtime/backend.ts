// The small hook interface routes/lxc.ts calls into: how a CT's template is restored at create, and (with a runtime)
// how it starts, stops, reports and goes. The in-memory backend only maps OCI archives (PVE's config result without
// extracting anything); the lxc backend extracts into real volumes and runs real containers.
import type { ClusterState, ConfigValues, Container, Volume } from '../cluster';
import { parseKey } from '../lxc-config';
import type { LxcRuntime } from './lxc-runtime';
import { applyOciConfig, etcFilesOf, isOciArchive, readOciImage, tarMembers, type LxcEntries } from './oci-archive';

export interface RuntimeBackend {
  readonly kind: 'memory' | 'lxc';
  /** Create task, disks allocated: API2/LXC.pm create_vm → restore_oci_archive or restore_archive. */
  restore(node: string, vmid: number, conf: ConfigValues, template: Volume, log: (line: string) => void): Promise<{ conf: ConfigValues; lxc?: LxcEntries }>;
  /** `warn`: what PVE's vm_start only warns about (a host-managed NIC's DHCP that failed), for the task log. */
  start?(ct: Container, warn?: (line: string) => void): Promise<void>;
  /** API stop: kill at once. */
  stop?(ct: Container): Promise<void>;
  /** API shutdown/reboot: the CT's halt signal, then wait `timeoutS`; kill afterwards only with `forceStop`. */
  shutdown?(ct: Container, timeoutS: number, forceStop: boolean): Promise<void>;
  /** The CT's real state: a running CT whose init exited is stopped (PVE reads lxc state the same way). */
  refresh?(ct: Container): Promise<void>;
  interfaces?(ct: Container): Promise<unknown>;
  /** A running CT's `netN` changed (`before`/`after` undefined: added/removed): LXC.pm update_net on the container. */
  updateNet?(ct: Container, key: string, before: string | undefined, after: string | undefined): Promise<void>;
  destroy?(ct: Container): Promise<void>;
  close?(): Promise<void>;
}

const fileName = (volid: string) => volid.replace(/^[^:]*:vztmpl\//, '');

async function ociOf(template: Volume) {
  if (!template.data || !fileName(template.volid).endsWith('.tar')) return undefined;
  const members = await tarMembers(template.data);
  return isOciArchive(fileName(template.volid), members) ? readOciImage(members) : undefined;
}

/** The in-memory default: no files, but an OCI archive still gives the CT the config PVE derives from it. */
export const memoryBackend: RuntimeBackend = {
  kind: 'memory',
  async restore(_node, _vmid, conf, template, log) {
    const image = await ociOf(template);
    if (!image) return { conf };
    log('Detected OCI archive');
    const mapped = applyOciConfig(conf, image.config, await etcFilesOf(image.layers));
    mapped.log.forEach(log);
    return { conf: mapped.conf, lxc: mapped.lxc };
  },
};

export function lxcBackend(rt: LxcRuntime, state: ClusterState): RuntimeBackend {
  const storageOf = (node: string, volid: string) => state.nodes.get(node)?.storages.get(volid.slice(0, volid.indexOf(':')))?.def;
  const volumePath = (node: string, volid: string) => rt.volumePath(node, storageOf(node, volid), volid);
  const rootfsOf = (node: string, conf: ConfigValues) => volumePath(node, String(parseKey('rootfs', String(conf['rootfs']))['volume']));
  const unprivileged = (conf: ConfigValues) => Number(conf['unprivileged'] ?? 0) === 1;
  return {
    kind: 'lxc',
    async restore(node, _vmid, conf, template, log) {
      if (!template.data) {
        throw new Error(`the lxc runtime has no bytes for '${template.volid}' (a seeded placeholder); upload a template first`);
      }
      const rootfs = await rootfsOf(node, conf);
      const image = await ociOf(template);
      if (image) {
        log('Detected OCI archive');
        const etc = await rt.extractOci(rootfs, image, unprivileged(conf));
        const mapped = applyOciConfig(conf, image.config, etc);
        mapped.log.forEach(log);
        for (const v of mapped.volumes) log(`creating base directory for volume at ${v}`);
        await rt.makeVolumeDirs(rootfs, mapped.volumes, unprivileged(conf));
        return { conf: mapped.conf, lxc: mapped.lxc };
      }
      log(`extracting archive '/var/lib/vz/template/cache/${fileName(template.volid)}'`);
      const totals = await rt.extractTar(rootfs, { filename: fileName(template.volid), data: template.data }, unprivileged(conf));
      if (totals) log(totals);
      return { conf };
    },
    async start(ct, warn) {
      ct.pid = await rt.start(ct, ct.lxc ?? [], await rootfsOf(ct.node, ct.conf), (v) => volumePath(ct.node, v), warn);
    },
    async stop(ct) {
      await rt.stop(ct, { kill: true });
      delete ct.pid;
    },
    async shutdown(ct, timeoutS, forceStop) {
      await rt.stop(ct, { kill: false, timeoutS, killAfterTimeout: forceStop });
      delete ct.pid;
    },
    async refresh(ct) {
      if (ct.status !== 'running') return;
      const pid = await rt.pid(ct);
      if (pid === undefined) {
        ct.status = 'stopped';
        delete ct.pid;
        delete ct.startedAt;
        await rt.stopCleanup(ct.vmid);
      } else ct.pid = pid;
    },
    interfaces: (ct) => rt.interfaces(ct),
    updateNet: (ct, key, before, after) => rt.updateNet(ct, Number(key.slice(3)), before === undefined ? undefined : parseKey(key, before), after === undefined ? undefined : parseKey(key, after)),
    destroy: (ct) => rt.destroy(ct),
    close: () => rt.close(),
  };
}
