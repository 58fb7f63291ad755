// Host commands on a PVE node. Every command is an argument array; nothing is ever joined into a shell string here.
// Implementations: LocalExecutor (execa on this machine, optionally inside a network namespace that stands for a
// node in tests) and SshExecutor (ssh.ts).
import { execa } from 'execa';
import { ProxmoxPodsError } from '../errors';

export interface RunOptions {
  /** Bytes for the command's stdin. */
  input?: string | Buffer;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Hold this host lock while the command runs (flock(1) on the node, so it works the same over SSH). */
  lock?: HostLock;
}

/** An exclusive lock on a node: a file that flock(1) holds for one command at a time. */
export interface HostLock {
  path: string;
  /** Give up after waiting this long for the holder; the command then fails without having run. */
  waitMs: number;
}

/** flock's exit code when `-w` ran out (EX_TEMPFAIL): no tool wrapped here exits with it. */
export const HOST_LOCK_TIMEOUT_EXIT = 75;

/**
 * `cmd args` as one flock(1) command that holds `lock` around it (as it is without a lock): the argument array, never
 * a shell string.
 */
export function hostLockArgv(lock: HostLock | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  if (!lock) return [cmd, [...args]];
  return ['flock', ['-w', String(Math.max(1, Math.ceil(lock.waitMs / 1000))), '-E', String(HOST_LOCK_TIMEOUT_EXIT), lock.path, cmd, ...args]];
}

/** flock gives up silently: say what the command waited for, so the error names the lock. */
export function explainLockTimeout(result: RunResult, opts: RunOptions): RunResult {
  if (!opts.lock || result.exitCode !== HOST_LOCK_TIMEOUT_EXIT || result.stderr.trim()) return result;
  return { ...result, stderr: `did not run: another command held the host lock ${opts.lock.path} for more than ${Math.ceil(opts.lock.waitMs / 1000)} s\n` };
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface Executor {
  /** The PVE node this executor reaches (for messages). */
  readonly node: string;
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export class HostCommandError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly cmd: string, readonly args: readonly string[], readonly result: RunResult) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
    super(`node ${node}: \`${[cmd, ...args].join(' ')}\` failed (exit ${result.exitCode}): ${detail}`, 'E_HOST_COMMAND');
  }
}

export interface LocalExecutorOptions {
  /** Run every command inside `ip netns exec <netns>` (tests: a namespace stands for a node). */
  netns?: string;
  defaultTimeoutMs?: number;
}

/**
 * Storage commands keep the host's mount namespace: `ip netns exec` also unshares mounts (to show the namespace's
 * own /sys), and a ZFS mount made in there would not be the host's. nsenter --net enters the network only. The
 * dnsmasq daemon too: started under `ip netns exec` it would live on in a private copy of the host's mounts, pinning
 * every ZFS dataset mounted at that moment (pod rootfs clones then fail to destroy with "dataset is busy").
 */
const HOST_MOUNT_COMMANDS = new Set(['zfs', 'zpool', 'dnsmasq']);

export class LocalExecutor implements Executor {
  constructor(readonly node: string, private readonly opts: LocalExecutorOptions = {}) {}

  private argv(cmd: string, args: readonly string[], lock?: HostLock): [string, string[]] {
    const [file, argv] = hostLockArgv(lock, cmd, args);
    const ns = this.opts.netns;
    if (!ns) return [file, argv];
    // The wrapped command decides: flock itself needs neither namespace, and the lock file is the host's either way.
    if (HOST_MOUNT_COMMANDS.has(cmd)) return ['nsenter', [`--net=/run/netns/${ns}`, '--', file, ...argv]];
    return ['ip', ['netns', 'exec', ns, file, ...argv]];
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, argv] = this.argv(cmd, args, opts.lock);
    const r = await execa(file, argv, {
      input: opts.input,
      timeout: opts.timeoutMs ?? this.opts.defaultTimeoutMs ?? 60_000,
      reject: false,
      maxBuffer: 64 * 1024 * 1024,
      stripFinalNewline: false,
    });
    const result = explainLockTimeout({ stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? (r.timedOut ? 124 : 1) }, opts);
    if (r.failed && r.exitCode === undefined) result.stderr ||= r.message ?? 'command failed to start';
    if (result.exitCode !== 0 && !opts.allowFailure) throw new HostCommandError(this.node, cmd, args, result);
    return result;
  }
}
