// A fresh ext4 filesystem (loop-mounted file) per unpack target, so that each side of a comparison writes onto the
// same kind of empty filesystem. Without it the figures follow ext4's state more than the tools: inodes freed
// moments earlier (the previous round, the image build) make new file creations several times slower for whoever
// comes next. Needs root and loop devices; otherwise the caller falls back to plain directories and says so.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

export interface Scratch { path: string; release(): Promise<void> }

export async function freshExt4(parent: string, name: string, sizeGiB = 2): Promise<Scratch | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const image = join(parent, `${name}.ext4`);
  const path = join(parent, name);
  await execa('truncate', ['-s', `${sizeGiB}G`, image]);
  await fs.mkdir(path);
  const made = await execa('mkfs.ext4', ['-q', '-F', image], { reject: false });
  const mounted = made.exitCode === 0 && (await execa('mount', ['-o', 'loop', image, path], { reject: false })).exitCode === 0;
  if (!mounted) {
    await fs.rm(image, { force: true });
    await fs.rmdir(path);
    return undefined;
  }
  return {
    path,
    async release() {
      await execa('umount', [path], { reject: false });
      await fs.rm(image, { force: true });
    },
  };
}
