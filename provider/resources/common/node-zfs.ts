// ZFS layer chains on a PVE node, their `zfs` commands run through the node's host executor (local, namespace or
// SSH). Applying a layer writes through the provider process's own file system, so callers that apply layers ask
// for a local executor; reading and cloning are plain `zfs` commands and work over SSH too.
import { InputError } from '../../errors';
import { SshExecutor } from '../../host/ssh';
import { ZfsChains } from '../../oci/convert/zfs';
import { hostExecutor } from './hosts';

/** Chains of unprivileged pods are uid-shifted 0 → 100000; the suffix keeps them apart from unshifted ones. */
export const UNPRIVILEGED_VARIANT = 'u100000';

export async function nodeChains(node: string, parent: string, opts: { localOnly?: boolean } = {}): Promise<ZfsChains> {
  const exec = await hostExecutor(node);
  if (opts.localOnly && exec instanceof SshExecutor) {
    throw new InputError('zfs', `layers are applied by the provider process, which does not run on ${node}`, `run Pulumi on the node (proxmox-pods:hosts.${node} = {"local": true}) or leave zfs unset and use the template`);
  }
  return new ZfsChains(parent, (cmd, args) => exec.run(cmd, args), UNPRIVILEGED_VARIANT);
}
