// Commands on a node over SSH with the system `ssh` client. ssh joins the remote argv into one string that the remote
// login shell parses, so every argument (the command too) is single-quoted here. With a pinned fingerprint the host
// key is checked twice: the scanned key must match the pin, and ssh itself then trusts only that key
// (StrictHostKeyChecking=yes against a private known_hosts file), so a key swapped after the scan is refused too.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { ProxmoxPodsError } from '../errors';
import { explainLockTimeout, HostCommandError, hostLockArgv, type Executor, type RunOptions, type RunResult } from './executor';
import { portSchema } from './names';

export const sshTargetSchema = z
  .object({
    host: z.string().regex(/^[A-Za-z0-9_:[\]][A-Za-z0-9.:_[\]-]*$/, { message: 'must be a host name or address (no leading "-")' }),
    port: portSchema.default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { message: 'must be a user name' }).default('root'),
    /** Absent: the ssh agent (SSH_AUTH_SOCK) and the default keys. */
    identityFile: z.string().startsWith('/', { message: 'must be an absolute path' }).optional(),
    /** `SHA256:…` as `ssh-keygen -lf` prints it; without it the known_hosts files decide (never trust-on-first-use). */
    hostKeyFingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, { message: 'must look like SHA256:<43 base64 chars>' }).optional(),
    knownHostsFile: z.string().startsWith('/', { message: 'must be an absolute path' }).optional(),
    connectTimeoutSec: z.number().int().min(1).max(300).default(10),
  })
  .strict();
export type SshTarget = z.infer<typeof sshTargetSchema>;

/**
 * POSIX single-quote quoting: inside '…' every byte is literal except ' itself, which is written as '\'' (close,
 * escaped quote, reopen). The empty string becomes '' so it stays an argument.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new ProxmoxPodsError('a command argument contains a NUL byte, which no remote shell can pass on', 'E_INPUT');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The single string ssh sends for `cmd args…`. */
export const remoteCommand = (cmd: string, args: readonly string[]): string => [cmd, ...args].map(shellQuote).join(' ');

/** `SHA256:<base64, no padding>` of a known_hosts / .pub line's key blob, as `ssh-keygen -lf` prints it. */
export function keyFingerprint(keyLine: string): string | undefined {
  const fields = keyLine.trim().split(/\s+/);
  // known_hosts: "<host> <type> <blob>"; .pub: "<type> <blob> [comment]".
  const blob = fields.find((f, i) => i > 0 && /^ssh-|^ecdsa-|^sk-/.test(fields[i - 1]!) && /^[A-Za-z0-9+/]+=*$/.test(f));
  if (!blob) return undefined;
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

export class HostKeyMismatchError extends ProxmoxPodsError {
  constructor(node: string, expected: string, seen: string[]) {
    super(`node ${node}: the SSH host key does not match the pinned ${expected} (the host offered ${seen.join(', ') || 'no key'}); check proxmox-pods:hosts.${node}.ssh.hostKeyFingerprint`, 'E_HOST_KEY');
  }
}

/** ssh itself failed (exit 255 with ssh's own complaint): unreachable, refused key, unknown host key. */
export class SshConnectError extends ProxmoxPodsError {
  constructor(node: string, target: SshTarget, stderr: string) {
    const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
    super(`node ${node}: cannot run commands over ssh as ${target.user}@${target.host}:${target.port}: ${why}; check proxmox-pods:hosts.${node}.ssh (host, port, user, identityFile or the ssh agent, hostKeyFingerprint)`, 'E_SSH');
  }
}

const SSH_FAILURE = /^ssh: |Permission denied \(|Host key verification failed|kex_exchange_identification|^Connection (closed|timed out|refused)|host key for .* is not known|No .* host key is known/m;

export class SshExecutor implements Executor {
  readonly target: SshTarget;
  /** The host's key line that matched the pinned fingerprint (scanned once per executor). */
  private pinnedKey?: Promise<string>;

  constructor(readonly node: string, target: z.input<typeof sshTargetSchema>) {
    this.target = sshTargetSchema.parse(target);
  }

  /** With a pinned fingerprint: scan the host's keys once and keep the line that matches. */
  private pinnedKeyLine(): Promise<string> {
    const t = this.target;
    this.pinnedKey ??= (async () => {
      const scan = await execa('ssh-keyscan', ['-p', String(t.port), '-T', String(t.connectTimeoutSec), '--', t.host], { reject: false });
      const lines = String(scan.stdout ?? '').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
      const match = lines.find((l) => keyFingerprint(l) === t.hostKeyFingerprint);
      if (match) return match;
      this.pinnedKey = undefined; // a later call may succeed once the host is up
      if (!lines.length) throw new SshConnectError(this.node, t, String(scan.stderr ?? '') || 'ssh-keyscan got no host key');
      throw new HostKeyMismatchError(this.node, t.hostKeyFingerprint!, lines.map((l) => keyFingerprint(l) ?? '?'));
    })();
    return this.pinnedKey;
  }

  /**
   * ssh's options and destination, ending with `--` and the host; the remote command string follows. `knownHosts`
   * is the file that pins the host key (see withKnownHosts).
   */
  sshArgs(knownHosts?: string): string[] {
    const t = this.target;
    const args = [
      '-p', String(t.port),
      '-o', 'BatchMode=yes',
      '-o', `ConnectTimeout=${t.connectTimeoutSec}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'ForwardAgent=no',
      '-o', 'ClearAllForwardings=yes',
      '-o', 'LogLevel=ERROR',
      '-T',
    ];
    if (t.identityFile) args.push('-i', t.identityFile, '-o', 'IdentitiesOnly=yes');
    const known = knownHosts ?? t.knownHostsFile;
    if (known) args.push('-o', `UserKnownHostsFile=${known}`, '-o', 'GlobalKnownHostsFile=/dev/null');
    args.push('-l', t.user, '--', t.host);
    return args;
  }

  /** Runs `fn` with a private known_hosts file holding only the pinned key; the file lives only for that call. */
  private async withKnownHosts<T>(fn: (file?: string) => Promise<T>): Promise<T> {
    if (!this.target.hostKeyFingerprint) return fn();
    const line = await this.pinnedKeyLine();
    const dir = await mkdtemp(path.join(tmpdir(), 'proxmox-pods-ssh-'));
    try {
      const file = path.join(dir, 'known_hosts');
      await writeFile(file, `${line}\n`, { mode: 0o600 });
      return await fn(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const remote = remoteCommand(...hostLockArgv(opts.lock, cmd, args));
    const r = await this.withKnownHosts((known) => execa('ssh', [...this.sshArgs(known), remote], {
      input: opts.input ?? '',
      timeout: opts.timeoutMs ?? 60_000,
      reject: false,
      maxBuffer: 64 * 1024 * 1024,
      stripFinalNewline: false,
    }));
    const result = explainLockTimeout({ stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? (r.timedOut ? 124 : 255) }, opts);
    if (r.exitCode === undefined && !r.timedOut) throw new SshConnectError(this.node, this.target, r.message ?? 'ssh did not start');
    // 255 is ssh's own failure code; a remote command could exit 255 too, so also require ssh's wording.
    if (result.exitCode === 255 && SSH_FAILURE.test(result.stderr)) throw new SshConnectError(this.node, this.target, result.stderr);
    if (result.exitCode !== 0 && !opts.allowFailure) throw new HostCommandError(this.node, cmd, args, result);
    return result;
  }
}
