// Choosing the emulator's runtime backend: in-memory records (default) or real LXC containers in node namespaces.
import { InputError } from '../../provider/errors';
import type { Core } from '../core';
import { lxcBackend, type RuntimeBackend } from './backend';
import { LxcRuntime, RuntimeUnavailableError } from './lxc-runtime';

export type RuntimeKind = 'memory' | 'lxc';
export { checkLxcHost, LxcRuntime, RuntimeUnavailableError } from './lxc-runtime';
export { memoryBackend, lxcBackend, type RuntimeBackend } from './backend';

export interface AttachedRuntime extends RuntimeBackend {
  hosts?: Record<string, { netns: string }>;
}

/**
 * With `runtime: 'lxc'`, starts the node namespaces and makes the core use the lxc backend; its host backend
 * (bridges on network apply, real volumes) runs first, a caller's own hostBackend hooks after it.
 */
export async function attachRuntime(core: Core, opts: { runtime?: RuntimeKind; runtimeDir?: string; zfsPool?: string }): Promise<AttachedRuntime | undefined> {
  const kind = opts.runtime ?? 'memory';
  if (kind === 'memory') return undefined;
  if (kind !== 'lxc') throw new InputError('runtime', `'${String(kind)}' is not a runtime`, "use 'memory' (default) or 'lxc'");
  let rt: LxcRuntime;
  try {
    rt = await LxcRuntime.start(
      [...core.state.nodes.values()].map((n) => ({ name: n.name, network: n.network.active })),
      { zfs: opts.zfsPool !== undefined, ...(opts.runtimeDir ? { stateDir: opts.runtimeDir } : {}) },
    );
  } catch (err) {
    if (err instanceof RuntimeUnavailableError) throw new InputError('runtime', err.message, 'run as root on a host with LXC, or leave runtime unset for the in-memory emulator');
    throw err;
  }
  const backend = lxcBackend(rt, core.state);
  const own = rt.hostBackend();
  const user = core.opts.hostBackend;
  core.opts.hostBackend = {
    applyNetwork: async (node, before, after) => {
      await own.applyNetwork(node, before, after);
      await user?.applyNetwork?.(node, before, after);
    },
    allocateVolume: async (node, storage, volid, bytes) => {
      await own.allocateVolume(node, storage, volid, bytes);
      await user?.allocateVolume?.(node, storage, volid, bytes);
    },
    freeVolume: async (node, storage, volid) => {
      await user?.freeVolume?.(node, storage, volid);
      await own.freeVolume(node, storage, volid);
    },
  };
  core.opts.runtime = backend;
  return { ...backend, hosts: rt.hosts() };
}
