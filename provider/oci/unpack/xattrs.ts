// Extended attributes: Node has no xattr API, so they are applied in one `setfattr -h --restore=-` run per
// layer (one process instead of one per attribute). The dump is bytes: paths are octal-escaped the way
// getfattr writes them, values hex, so binary values (security.capability) and non-UTF-8 names survive.
import { execa } from 'execa';

export interface PendingXattr { path: string; name: string; value: Buffer }

/** Namespaces worth carrying into a container rootfs; overlay bookkeeping never is (umoci 0.4.7). */
export function xattrWanted(name: string): boolean {
  if (name.startsWith('trusted.overlay.')) return false;
  return /^(user|security|trusted|system)\.[^\0=\s]+$/.test(name);
}

function escapeBytes(bytePath: string): string {
  let out = '';
  for (let i = 0; i < bytePath.length; i++) {
    const c = bytePath.charCodeAt(i);
    out += c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d ? `\\${c.toString(8).padStart(3, '0')}` : bytePath[i];
  }
  return out;
}

/** The `setfattr --restore` input for `items` (paths as byte strings), as raw bytes. */
export function restoreDump(items: readonly PendingXattr[]): Buffer {
  const byPath = new Map<string, PendingXattr[]>();
  for (const item of items) byPath.set(item.path, [...(byPath.get(item.path) ?? []), item]);
  let text = '';
  for (const [path, attrs] of byPath) {
    text += `# file: ${escapeBytes(path)}\n`;
    for (const a of attrs) text += `${a.name}=0x${a.value.toString('hex')}\n`;
    text += '\n';
  }
  return Buffer.from(text, 'latin1');
}

/** Applies the attributes without following symlinks; throws with setfattr's own message on failure. */
export async function applyXattrs(items: readonly PendingXattr[]): Promise<void> {
  if (items.length === 0) return;
  await execa('setfattr', ['-h', '--restore=-'], { input: restoreDump(items), timeout: 120_000 });
}
