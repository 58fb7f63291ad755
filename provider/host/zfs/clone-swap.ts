// The pod rootfs swap: a container disk PVE has just allocated (and that nothing uses yet) is replaced by a clone of
// an image's `@ready` snapshot under the same name, keeping what PVE set on it. Clone beside it, rename the disk away,
// rename the clone in, destroy the old disk: each step before the last is undone if the next one fails, so a failure
// leaves the disk as it was; an undo that fails too is part of the error, with what is left where.
import { InputError } from '../../errors';
import { messageOf, warn } from '../../diagnostics';
import { ZfsError, type Zfs } from './command';
import { poolOf, validateDataset, validateSnapshot } from './names';

/**
 * Properties PVE sets on a container disk that its replacement must keep: pve-storage ZFSPoolPlugin.pm
 * `zfs_create_subvol` creates it with acltype=posixacl, xattr=sa and refquota=<size>k (zfs-fuse has no acltype).
 */
export const CLONE_KEPT_PROPERTIES = ['refquota', 'acltype', 'xattr'] as const;

/** The names the swap uses beside `target`; ours alone, so leftovers of a dead attempt can be cleaned. */
export const swapNames = (target: string) => ({ incoming: `${target}-pods-in`, outgoing: `${target}-pods-out` });

export async function replaceWithClone(zfs: Zfs, snapshot: string, target: string): Promise<void> {
  validateSnapshot(snapshot, 'image.zfsSnapshot');
  validateDataset(target, 'rootfs');
  if (poolOf(snapshot) !== poolOf(target)) {
    throw new InputError('rootfs.storage', `${target} is in pool ${poolOf(target)}, the image's snapshot ${snapshot} in pool ${poolOf(snapshot)}`, 'ZFS clones only within a pool: use a storage on the image\'s pool');
  }
  if (!(await zfs.exists(snapshot, 'snapshot'))) throw new ZfsError(zfs.node, `${snapshot} does not exist on this node; build the OciImage (zfs) on the pod's node`);
  const { incoming, outgoing } = swapNames(target);
  await cleanLeftovers(zfs, target);

  const props: Record<string, string> = {};
  for (const [name, { value, source }] of await zfs.knownProperties(target, CLONE_KEPT_PROPERTIES)) {
    if (source !== 'local') continue;
    // PVE's values are plain words and sizes; anything else is not what PVE set, and a clone without it would be
    // silently different (no quota): refuse.
    if (!/^[\w.:-]+$/.test(value)) throw new ZfsError(zfs.node, `${target} has ${name}=${JSON.stringify(value)}, which the clone cannot take over`);
    props[name] = value;
  }
  await zfs.clone(snapshot, incoming, props);
  try {
    await renameUnmounted(zfs, target, outgoing, false);
  } catch (err) {
    return undo(zfs, err, [[`destroy ${incoming}`, () => zfs.destroy(incoming, { force: true })]]);
  }
  try {
    await renameUnmounted(zfs, incoming, target, true);
  } catch (err) {
    return undo(zfs, err, [
      [`rename ${outgoing} back to ${target}`, () => renameUnmounted(zfs, outgoing, target, true)],
      [`destroy ${incoming}`, () => zfs.destroy(incoming, { force: true })],
    ]);
  }
  // The swap is done and the pod's disk is right; the old empty disk left over is only space.
  await zfs.destroy(outgoing, { force: true }).catch((err: unknown) => {
    warn(`the empty disk PVE allocated was kept as ${outgoing} on ${zfs.node}: destroying it failed (${messageOf(err)}); remove it with \`zfs destroy -r ${outgoing}\``);
  });
}

/**
 * What an attempt that died midway left (the names are ours alone): a clone not yet renamed in goes; a disk renamed
 * away while the target is missing comes back, because it is the disk PVE's config names.
 */
async function cleanLeftovers(zfs: Zfs, target: string): Promise<void> {
  const { incoming, outgoing } = swapNames(target);
  await zfs.destroy(incoming, { force: true });
  if (await zfs.exists(outgoing, 'filesystem')) {
    if (await zfs.exists(target, 'filesystem')) await zfs.destroy(outgoing, { force: true });
    else await renameUnmounted(zfs, outgoing, target, true);
  }
}

/**
 * Unmount, rename, and mount again if wanted. zfs-fuse cannot rename a mounted dataset ("dataset is busy"); OpenZFS
 * can, but doing it unmounted works on both and nothing uses the datasets renamed here.
 */
async function renameUnmounted(zfs: Zfs, from: string, to: string, mount: boolean): Promise<void> {
  const wasMounted = await zfs.unmount(from);
  try {
    await zfs.rename(from, to);
  } catch (err) {
    if (!wasMounted) throw err;
    return undo(zfs, err, [[`mount ${from} again`, () => zfs.mount(from)]]);
  }
  if (mount) await zfs.mount(to);
}

/** Runs every undo step, then throws `cause`, or, when a step failed, a ZfsError that says what is left undone. */
async function undo(zfs: Zfs, cause: unknown, steps: ReadonlyArray<readonly [string, () => Promise<unknown>]>): Promise<never> {
  const failed: string[] = [];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (err) {
      failed.push(`${what}: ${reasonOf(err)}`);
    }
  }
  if (failed.length === 0) throw cause;
  throw new ZfsError(zfs.node, `${reasonOf(cause)}; undoing it failed too, fix by hand: ${failed.join('; ')}`, { cause });
}

/** A ZfsError without its `node …: zfs:` prefix (the combined error carries it once). */
const reasonOf = (err: unknown): string => (err instanceof ZfsError ? err.reason : messageOf(err));
