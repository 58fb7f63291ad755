// The host lock (executor.ts RunOptions.lock): a command holding it waits for the holder, gives up with the lock's
// name when the holder outlasts the wait (without running), and the Zfs layer takes it for changes only. Real flock(1)
// and real commands, on this machine and inside a network namespace standing for a node.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { HOST_LOCK_TIMEOUT_EXIT, LocalExecutor, type Executor, type HostLock, type RunOptions, type RunResult } from '../../provider/host/executor';
import { Zfs, ZFS_HOST_LOCK } from '../../provider/host/zfs';
import { holdLock } from './support/host-lock';
import { requireTools } from './support/tools';

const ns = `pp${process.pid}-lock`;

describe('host lock', () => {
  let dir: string;
  let lock: HostLock;

  beforeAll(async () => {
    await requireTools('flock', 'ip', 'nsenter');
    dir = await mkdtemp(path.join(tmpdir(), 'pp-host-lock-'));
    lock = { path: path.join(dir, 'lock'), waitMs: 10_000 };
    await execa('ip', ['netns', 'add', ns]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
    await rm(dir, { recursive: true, force: true });
  });

  test.each([['on this machine', {}], ['inside a network namespace', { netns: ns }]])('a command waits for the holder %s', async (_where, opts) => {
    const exec = new LocalExecutor('pve1', opts);
    const holder = await holdLock(lock);
    const started = Date.now();
    const run = exec.run('sh', ['-c', 'echo ran'], { lock });
    setTimeout(() => void holder.stop(), 1500);
    expect((await run).stdout).toBe('ran\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    // Without the lock option nothing waits, holder or not.
    const free = await holdLock(lock);
    const t0 = Date.now();
    await exec.run('true', []);
    expect(Date.now() - t0).toBeLessThan(1000);
    await free.stop();
  });

  test('a holder that outlasts the wait: the command does not run and the error names the lock', async () => {
    const exec = new LocalExecutor('pve1');
    const marker = path.join(dir, 'ran');
    const holder = await holdLock(lock);
    try {
      const short = { ...lock, waitMs: 1000 };
      const r = await exec.run('touch', [marker], { lock: short, allowFailure: true });
      expect(r.exitCode).toBe(HOST_LOCK_TIMEOUT_EXIT);
      expect(r.stderr).toContain(`another command held the host lock ${lock.path} for more than 1 s`);
      expect(existsSync(marker)).toBe(false);
      await expect(exec.run('touch', [marker], { lock: short })).rejects.toThrow(/node pve1: `touch .*` failed \(exit 75\): did not run: another command held the host lock/);
    } finally {
      await holder.stop();
    }
    // A command's own exit code passes through unchanged, 75 included, with its own words.
    const own = await exec.run('sh', ['-c', 'echo mine >&2; exit 75'], { lock, allowFailure: true });
    expect(own).toMatchObject({ exitCode: 75, stderr: 'mine\n' });
  });

  test('Zfs takes the zfs host lock for changes and not for reads', async () => {
    const seen: Array<{ sub: string; lock?: HostLock }> = [];
    const exec: Executor = {
      node: 'pve1',
      async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
        seen.push({ sub: args[0]!, lock: opts.lock });
        return { stdout: '', stderr: '', exitCode: 0 };
      },
    };
    const zfs = new Zfs(exec);
    await zfs.get('tank/a', ['refquota']);
    await zfs.listRecursive('tank', ['name'], ['filesystem']);
    await zfs.create('tank/a', { refquota: '1' });
    await zfs.clone('tank/a@s', 'tank/b');
    await zfs.snapshot('tank/a@t');
    await zfs.set('tank/a', 'refquota', '2');
    await zfs.rename('tank/b', 'tank/c');
    await zfs.destroy('tank/c');
    expect(seen.map((s) => [s.sub, s.lock?.path ?? null])).toEqual([
      ['get', null], ['list', null],
      ...['create', 'clone', 'snapshot', 'set', 'rename', 'destroy'].map((sub) => [sub, ZFS_HOST_LOCK.path]),
    ]);
    expect(ZFS_HOST_LOCK.waitMs).toBeLessThan(300_000);
  });
});
