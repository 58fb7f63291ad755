// Packs a rootfs into an LXC template (tar.zst) with GNU tar + zstd, the tools PVE itself uses: tar-stream would
// mangle binary PAX values such as security.capability (reference/oci.md §6.1). Returns size and sha256, which the
// upload sends so PVE verifies the copy.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import { ProxmoxPodsError } from '../../errors';

export class TemplatePackError extends ProxmoxPodsError {
  constructor(rootfs: string, detail: string) {
    super(`packing ${rootfs} into a template failed: ${detail} (GNU tar and zstd must be installed: apt-get install tar zstd)`, 'E_TEMPLATE_PACK');
  }
}

export interface PackedTemplate { path: string; size: number; sha256: string }

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * `rootfs` must be a directory we created; `out` a new file path. Ownership is stored numerically and unshifted:
 * PVE extracts templates for unprivileged containers through lxc-usernsexec, which applies the 0 → 100000 shift.
 */
export async function packTemplate(rootfs: string, out: string, opts: { level?: number; threads?: number } = {}): Promise<PackedTemplate> {
  if (!rootfs.startsWith('/') || !out.startsWith('/')) throw new TemplatePackError(rootfs, 'paths must be absolute');
  const tar = execa('tar', ['--create', '--file=-', '--numeric-owner', '--sparse', '--one-file-system', '--xattrs', '--xattrs-include=*', '--acls', `--directory=${rootfs}`, '.'], {
    reject: false, buffer: { stdout: false },
  });
  const z = await tar.pipe('zstd', ['-q', `-${opts.level ?? 3}`, `-T${opts.threads ?? 0}`, '-f', '-o', out], { reject: false });
  const t = z.pipedFrom[0];
  if (t && t.exitCode !== 0) throw new TemplatePackError(rootfs, `tar exited ${t.exitCode}: ${String(t.stderr).trim().split('\n').slice(-3).join('; ')}`);
  if (z.exitCode !== 0) throw new TemplatePackError(rootfs, `zstd exited ${z.exitCode}: ${String(z.stderr).trim()}`);
  const { size } = await stat(out);
  return { path: out, size, sha256: await sha256File(out) };
}
