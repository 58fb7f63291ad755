// Path handling for the unpacker. Every path is a *byte string* (latin1: one char per byte) so names that
// are not UTF-8 survive byte-exact; `fsPath` turns one into the Buffer the fs calls take. Parents are
// resolved inside the rootfs the way securejoin does: symlinks are followed but re-rooted at the rootfs
// and `..` clamps there, so absolute links (usr-merge) keep working and nothing resolves to the host.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
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

/** lstat(2) of a byte-string path; undefined when it does not exist. Synchronous: see apply-layer.ts. */
export function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(fsPath(path), { throwIfNoEntry: false });
}

const MAX_SYMLINK_HOPS = 40;

/**
 * Resolves parent directories inside one rootfs, remembering which relative paths are real directories.
 *
 * The cache holds *real* relative paths ('a/b', no symlink in any prefix) that were seen to be directories
 * (lstat) or were created here. Every prefix of a cached path is therefore a real directory too, so a
 * parent whose literal path is cached resolves to itself without a system call. The owner must call
 * invalidate() whenever it removes or replaces a directory (rm of an existing directory, a whiteout of one,
 * an opaque prune that removed one): a cached path could otherwise name a symlink or a file created in its
 * place, and writes through it would follow that link. Nothing else can turn a real directory into
 * something else: only this layer's own steps write to the tree (see apply-layer.ts).
 */
export class RootResolver {
  private readonly realDirs = new Set<string>();

  constructor(readonly root: string, private readonly createDir: (rel: string) => void, private readonly layer?: string) {}

  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Forget cached directories: something was removed or replaced, and a cached dir may now be a symlink. */
  invalidate(): void {
    this.realDirs.clear();
  }

  /** True when `rel` is cached as a real directory (every component a directory, none a symlink). */
  isKnownDir(rel: string): boolean {
    return rel === '' || this.realDirs.has(rel);
  }

  /**
   * Real relative path of the directory `parts` names, following symlinks inside the root. Missing
   * directories are created when `create` is set, otherwise undefined is returned.
   */
  resolveDir(parts: readonly string[], create: boolean, shownAs: string): string | undefined {
    if (parts.length === 0) return '';
    // Fast path: the literal path is a cached real directory (the common case: siblings in one directory).
    const literal = parts.length === 1 ? parts[0]! : parts.join('/');
    if (this.realDirs.has(literal)) return literal;
    let cur: string[] = [];
    let curPath = '';
    const queue = [...parts].reverse(); // a stack: the next component is at the end
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.pop()!;
      if (part === '' || part === '.') continue;
      if (part === '..') { cur.pop(); curPath = cur.join('/'); continue; }
      const next = curPath === '' ? part : `${curPath}/${part}`;
      if (this.realDirs.has(next)) { cur.push(part); curPath = next; continue; }
      const st = lstatOrUndefined(this.abs(next));
      if (!st) {
        if (!create) return undefined;
        this.createDir(next);
        this.realDirs.add(next);
        cur.push(part);
        curPath = next;
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeLayerError(this.layer, shownAs, 'too many levels of symbolic links in its parent path');
        const target = readlinkSync(fsPath(this.abs(next)), { encoding: 'buffer' }).toString('latin1');
        if (target.startsWith('/')) { cur = []; curPath = ''; }
        for (const t of target.split('/').reverse()) queue.push(t);
      } else if (st.isDirectory()) {
        this.realDirs.add(next);
        cur.push(part);
        curPath = next;
      } else {
        throw new UnsafeLayerError(this.layer, shownAs, `its parent ${JSON.stringify(next)} is not a directory`);
      }
    }
    return curPath;
  }

  /** True when no component of `rel`'s parent is a symlink (nothing was swapped since it was resolved). */
  isCanonical(rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    if (slash === -1 || this.realDirs.has(rel.slice(0, slash))) return true;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const st = lstatOrUndefined(this.abs(parts.slice(0, i).join('/')));
      if (!st || !st.isDirectory()) return false;
    }
    return true;
  }
}
