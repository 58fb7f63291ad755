// ZFS on a PVE node, its `zfs` commands run through the node's host executor (local, namespace or SSH). Applying a
// layer writes through the provider process's own file system, so callers that apply layers ask for a local
// executor; reading and cloning are plain `zfs` commands and work over SSH too.
import { InputError } from '../../errors';
import { SshExecutor } from '../../host/ssh';
import { Zfs, ZfsChains } from '../../host/zfs';
import { hostExecutor } from './hosts';

/** Chains of unprivileged pods are uid-shifted 0 → 100000; the suffix keeps them apart from unshifted ones. */
export const UNPRIVILEGED_VARIANT = 'u100000';

export async function nodeZfs(node: string, opts: { localOnly?: boolean } = {}): Promise<Zfs> {
  const exec = await hostExecutor(node);
  if (opts.localOnly && exec instanceof SshExecutor) {
    throw new InputError('zfs', `layers are applied by the provider process, which does not run on ${node}`, `run Pulumi on the node (proxmox-pods:hosts.${node} = {"local": true}) or leave zfs unset and use the template`);
  }
  return new Zfs(exec);
}

export async function nodeChains(node: string, parent: string, opts: { localOnly?: boolean } = {}): Promise<ZfsChains> {
  return new ZfsChains(await nodeZfs(node, opts), parent, UNPRIVILEGED_VARIANT);
}
