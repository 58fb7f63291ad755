// The PVE connection a provider process uses. Pulumi hands the stack's configuration to the dynamic provider's
// configure(); the environment (PROXMOX_VE_*) fills what the stack does not set. Nothing here is stored in state.
import { CONFIG_KEYS as CONNECTION_KEYS, resolveConnectionConfig } from '../../proxmox/config';
import { PveClient } from '../../proxmox/client';
import { assertEngineAlive } from '../../engine-liveness';

/** Every stack config key the provider reads (`proxmox-pods:<key>`). */
export const CONFIG_KEYS = [...Object.keys(CONNECTION_KEYS), 'storage', 'hosts', 'volumeDataset', 'dnsStateDir', 'offlinePreview'] as const;

let stackConfig: Record<string, string | undefined> = {};
let client: PveClient | undefined;

export function setStackConfig(values: Record<string, string | undefined>): void {
  stackConfig = { ...values };
  client = undefined;
}

export function pveClient(): PveClient {
  // Once the Pulumi engine is gone nothing would record what a change did: no new change is sent.
  client ??= PveClient.create(resolveConnectionConfig(stackConfig, process.env), { beforeMutation: assertEngineAlive });
  return client;
}

/** The cluster's online nodes, for spreading replicas. */
export async function onlineNodes(pve: PveClient): Promise<string[]> {
  return (await pve.nodes()).filter((n) => !n.status || n.status === 'online').map((n) => n.node);
}

/** A provider setting from the stack (`proxmox-pods:<key>`). */
export function stackSetting(key: (typeof CONFIG_KEYS)[number]): string | undefined {
  return stackConfig[`proxmox-pods:${key}`];
}

/** Rootfs storage when a pod does not name one: proxmox-pods:storage, PROXMOX_VE_STORAGE, else local-lvm. */
export function defaultStorage(): string {
  return stackConfig['proxmox-pods:storage'] ?? process.env.PROXMOX_VE_STORAGE ?? 'local-lvm';
}
