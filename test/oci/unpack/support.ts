// Shared test support for the unpack/convert suites: temp dirs, tool checks (fail in CI, visible skip
// elsewhere) and an mtree-like walk used to compare trees.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function hasTool(name: string): boolean {
  try { execFileSync('which', [name], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** True when every tool is there. In CI a missing tool throws, so the suite fails instead of skipping. */
export function toolsPresent(suite: string, tools: string[]): boolean {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return true;
  const message = `${suite}: missing ${missing.join(', ')} (apt-get install -y zstd umoci attr zfs-fuse tar; see scripts/apt-packages.txt)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(message);
  console.warn(`SKIPPED ${message}`);
  return false;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

const made: string[] = [];
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pods-${tag}-${process.pid}-`));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface TreeNode { type: string; mode: number; uid: number; gid: number; size?: number; sha256?: string; link?: string; xattrs?: string }

/** Type, permission bits, owner, size, content hash, link target and (optionally) xattrs of every path. */
export function walk(root: string, withXattrs = false): Map<string, TreeNode> {
  const out = new Map<string, TreeNode>();
  const visit = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const st = lstatSync(abs);
    const node: TreeNode = { type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : st.isFIFO() ? 'fifo' : 'other', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isSymbolicLink()) { node.link = readlinkSync(abs); node.mode = 0; }
    if (st.isFile()) { node.size = st.size; node.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex'); }
    if (withXattrs && !st.isSymbolicLink()) {
      node.xattrs = execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', abs], { encoding: 'latin1' })
        .split('\n').filter((l) => l && !l.startsWith('#')).sort().join(';');
    }
    out.set(rel || '.', node);
    if (st.isDirectory()) for (const name of readdirSync(abs)) visit(rel ? `${rel}/${name}` : name);
  };
  visit('');
  return out;
}
