// A real ZFS pool for tests: zfs-fuse with a file vdev, unique per run, destroyed afterwards. Pools this test did not
// create are never touched. In CI a missing zfs-fuse is a failure.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface TestPool {
  name: string;
  dir: string;
  destroy(): Promise<void>;
}

async function zfsReady(): Promise<boolean> {
  return (await execa('zpool', ['list'], { reject: false })).exitCode === 0;
}

export async function ensureZfsDaemon(): Promise<void> {
  const which = await execa('sh', ['-c', 'command -v zfs-fuse zpool zfs'], { reject: false });
  if (which.exitCode !== 0) throw new Error('zfs-fuse is not installed: run the tests through `npm test` (it installs zfs-fuse)');
  if (await zfsReady()) return;
  await execa('zfs-fuse', [], { reject: false });
  for (let i = 0; i < 50 && !(await zfsReady()); i++) await new Promise((r) => setTimeout(r, 200));
  if (!(await zfsReady())) throw new Error('zfs-fuse did not start (is /dev/fuse available?)');
}

export async function createTestPool(prefix = 'pp'): Promise<TestPool> {
  await ensureZfsDaemon();
  const dir = await mkdtemp(path.join(tmpdir(), `${prefix}-zfs-`));
  const name = `${prefix}${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const vdev = path.join(dir, 'pool.img');
  await execa('truncate', ['-s', '512M', vdev]);
  await execa('zpool', ['create', '-m', path.join(dir, 'mnt'), name, vdev]);
  return {
    name,
    dir,
    async destroy() {
      await execa('zpool', ['destroy', '-f', name], { reject: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
