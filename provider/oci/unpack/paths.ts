// Path handling for the unpacker. Every path is a *byte string* (latin1: one char per byte) so names that
// are not UTF-8 survive byte-exact; `fsPath` turns one into the Buffer the fs calls take. Parents are
// resolved inside the rootfs the way securejoin does: symlinks are followed but re-rooted at the rootfs
// and `..` clamps there, so absolute links (usr-merge) keep working and nothing resolves to the host.
import { lstat, mkdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { UnsafeLayerError } from './errors';

export function fsPath(bytePath: string): Buffer {
  return Buffer.from(bytePath, 'latin1');
}

/** Byte-string form of a path given as an ordinary (UTF-8) string. */
export function toBytePath(path: string): string {
  return Buffer.from(path, 'utf8').toString('latin1');
}

/**
 * Components of an entry name relative to the rootfs: leading `/` and `./` stripped (all of them),
 * empty and `.` components dropped; NUL or any `..` component is refused rather than clamped, because
 * an archive that says `..` is hostile or broken. [] is the root itself.
 */
export function entryComponents(name: string, layer?: string): string[] {
  if (name.includes('\0')) throw new UnsafeLayerError(layer, name, 'the name contains a NUL byte');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeLayerError(layer, name, 'the name has a ".." component that would leave the rootfs');
  return parts;
}

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(fsPath(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const MAX_SYMLINK_HOPS = 40;

/** Resolves parent directories inside one rootfs, remembering which relative paths are real directories. */
export class RootResolver {
  /** Relative paths ('a/b') known to be real directories, not symlinks. Cleared whenever a directory is removed. */
  private readonly realDirs = new Set<string>();

  constructor(readonly root: string, private readonly createDir: (rel: string) => Promise<void>, private readonly layer?: string) {}

  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Forget cached directories: something was removed or replaced, and a cached dir may now be a symlink. */
  invalidate(): void {
    this.realDirs.clear();
  }

  /**
   * Real relative path of the directory `parts` names, following symlinks inside the root. Missing
   * directories are created when `create` is set, otherwise undefined is returned.
   */
  async resolveDir(parts: readonly string[], create: boolean, shownAs: string): Promise<string | undefined> {
    let cur: string[] = [];
    const queue = [...parts].reverse(); // a stack: the next component is at the end
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.pop()!;
      if (part === '' || part === '.') continue;
      if (part === '..') { cur.pop(); continue; }
      const next = cur.length === 0 ? part : `${cur.join('/')}/${part}`;
      if (this.realDirs.has(next)) { cur.push(part); continue; }
      const st = await lstatOrUndefined(this.abs(next));
      if (!st) {
        if (!create) return undefined;
        await this.createDir(next);
        this.realDirs.add(next);
        cur.push(part);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeLayerError(this.layer, shownAs, 'too many levels of symbolic links in its parent path');
        const target = (await readlink(fsPath(this.abs(next)), { encoding: 'buffer' })).toString('latin1');
        if (target.startsWith('/')) cur = [];
        for (const t of target.split('/').reverse()) queue.push(t);
      } else if (st.isDirectory()) {
        this.realDirs.add(next);
        cur.push(part);
      } else {
        throw new UnsafeLayerError(this.layer, shownAs, `its parent ${JSON.stringify(next)} is not a directory`);
      }
    }
    return cur.join('/');
  }

  /** True when no component of `rel`'s parent is a symlink (nothing was swapped since it was resolved). */
  async isCanonical(rel: string): Promise<boolean> {
    const parts = rel === '' ? [] : rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const st = await lstatOrUndefined(this.abs(parts.slice(0, i).join('/')));
      if (!st || !st.isDirectory()) return false;
    }
    return true;
  }
}
