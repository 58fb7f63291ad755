// Which host executor reaches a PVE node's shell: `proxmox-pods:hosts` (JSON, one entry per node: local, ssh, or a
// network namespace in tests), else PROXMOX_PODS_HOSTS. Resources that touch a node's host tooling (bridges,
// nftables, dnsmasq, zfs) get their executor here.
import { executorFor, parseHostsConfig } from '../../host/config';
import type { Executor } from '../../host/executor';
import { InputError } from '../../errors';
import { stackSetting } from './connection';

const cache = new Map<string, Executor>();

export async function hostExecutor(node: string): Promise<Executor> {
  const raw = stackSetting('hosts') ?? process.env.PROXMOX_PODS_HOSTS;
  if (!raw) {
    throw new InputError('proxmox-pods:hosts', `no host access is configured for node ${node}`, `set it, e.g. pulumi config set proxmox-pods:hosts '{"${node}":{"ssh":{"host":"${node}.lan","user":"root"}}}'`);
  }
  const key = `${node}\0${raw}`;
  let exec = cache.get(key);
  if (!exec) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new InputError('proxmox-pods:hosts', 'is not valid JSON', 'give an object such as {"pve1":{"local":true}}');
    }
    exec = executorFor(node, parseHostsConfig(parsed));
    cache.set(key, exec);
  }
  return exec;
}
