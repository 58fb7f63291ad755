// LXC template output: the final rootfs packed as `<name>.tar.zst` with GNU tar + zstd, the same tool
// family PVE (vzdump, template extraction) uses. Not tar-stream: its PAX encoder writes values as UTF-8
// strings, which would mangle binary xattrs such as security.capability.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { InputError, ProxmoxPodsError } from '../../errors';

export interface TemplateFile { path: string; size: number; sha256: string }

export class TemplatePackError extends ProxmoxPodsError {
  constructor(readonly templateName: string, reason: string, options?: { cause?: unknown }) {
    super(`packing template ${templateName}: ${reason}`, 'E_OCI_TEMPLATE', options);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Template names end up in PVE volids (`<storage>:vztmpl/<name>.tar.zst`): keep them to a safe alphabet. */
export function validateTemplateName(name: string): string {
  if (!NAME.test(name) || name.includes('..')) throw new InputError('template.name', `${JSON.stringify(name)} is not a valid template name`, 'use letters, digits, ".", "_" and "-" (no "..", at most 201 characters)');
  return name;
}

/**
 * GNU tar flags: entries as `./…` (PVE's untrusted-archive check lists members), numeric owners (the
 * shifted ids are what the CT sees), xattrs limited to what PVE's extraction keeps, sparse files kept
 * sparse, sorted names and no atime/ctime so the same rootfs gives the same bytes.
 */
export function templateTarArgs(rootfs: string): string[] {
  return [
    '--create', '--file=-', '--format=posix', `--directory=${rootfs}`,
    '--numeric-owner', '--sparse', '--one-file-system', '--sort=name',
    '--acls', '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.capability',
    '--pax-option=delete=atime,delete=ctime', '.',
  ];
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Packs `rootfs` into `<outDir>/<name>.tar.zst` (written under a temp name, renamed when complete). */
export async function packTemplate(opts: { rootfs: string; outDir: string; name: string; zstdLevel?: number }): Promise<TemplateFile> {
  const name = validateTemplateName(opts.name);
  const level = opts.zstdLevel ?? 3;
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new InputError('template.zstdLevel', `${level} is not a zstd level`, 'use 1..19');
  const path = join(opts.outDir, `${name}.tar.zst`);
  const partial = `${path}.partial-${process.pid}`;
  try {
    await execa('tar', templateTarArgs(opts.rootfs), { buffer: false, stderr: 'pipe' })
      .pipe('zstd', [`-${level}`, '-q', '-T0', '-c'], { stdout: { file: partial } });
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    const stderr = (err as { stderr?: string }).stderr;
    throw new TemplatePackError(name, stderr?.trim() || String((err as Error).message ?? err), { cause: err });
  }
  const { size } = await stat(path);
  return { path, size, sha256: await sha256File(path) };
}

/** PVE's own extraction flags (pve-storage COMMON_TAR_FLAGS + Create.pm), for round-trip checks. */
export function pveExtractArgs(archive: string, into: string): string[] {
  return [
    'xpf', archive, '--zstd', '--totals', '--one-file-system', '-p', '--sparse', '--numeric-owner', '--acls',
    '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.capability', '--skip-old-files',
    '--anchored', '--exclude', './dev/*', '-C', into,
  ];
}
