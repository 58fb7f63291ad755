// Commands on a node over SSH with the system `ssh` client. ssh joins the remote argv into one string that the remote
// shell parses, so every argument is single-quoted here; the host key is pinned when a fingerprint is given.
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { ProxmoxPodsError } from '../errors';
import { HostCommandError, type Executor, type RunOptions, type RunResult } from './executor';

export const sshTargetSchema = z
  .object({
    host: z.string().regex(/^[A-Za-z0-9.:_-]+$/, { message: 'must be a host name or address' }),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: 'must be a user name' }).default('root'),
    identityFile: z.string().startsWith('/', { message: 'must be an absolute path' }).optional(),
    /** `SHA256:…` as `ssh-keygen -lf` prints it; without it the user's known_hosts decides. */
    hostKeyFingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, { message: 'must look like SHA256:<43 base64 chars>' }).optional(),
    knownHostsFile: z.string().startsWith('/').optional(),
  })
  .strict();
export type SshTarget = z.infer<typeof sshTargetSchema>;

/** POSIX single-quote quoting: the only character that needs care inside '…' is ' itself. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `SHA256:<base64, no padding>` of a public key line's blob, as `ssh-keygen -lf` prints it. */
export function keyFingerprint(keyLine: string): string | undefined {
  const blob = keyLine.trim().split(/\s+/)[2];
  if (!blob) return undefined;
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

export class HostKeyMismatchError extends ProxmoxPodsError {
  constructor(node: string, expected: string, seen: string[]) {
    super(`node ${node}: the SSH host key does not match the pinned ${expected} (the host offered ${seen.join(', ') || 'no key'}); check proxmox-pods:hosts.${node}.ssh.hostKeyFingerprint`, 'E_HOST_KEY');
  }
}

export class SshExecutor implements Executor {
  private readonly target: SshTarget;
  private knownHosts?: Promise<string | undefined>;
  constructor(readonly node: string, target: z.input<typeof sshTargetSchema>) {
    this.target = sshTargetSchema.parse(target);
  }

  /** With a pinned fingerprint: scan the host's keys, keep the one that matches, and trust only it. */
  private pinnedKnownHosts(): Promise<string | undefined> {
    const t = this.target;
    if (!t.hostKeyFingerprint) return Promise.resolve(t.knownHostsFile);
    this.knownHosts ??= (async () => {
      const scan = await execa('ssh-keyscan', ['-p', String(t.port), '-T', '10', t.host], { reject: false });
      const lines = String(scan.stdout).split('\n').filter((l) => l && !l.startsWith('#'));
      const match = lines.find((l) => keyFingerprint(l) === t.hostKeyFingerprint);
      if (!match) throw new HostKeyMismatchError(this.node, t.hostKeyFingerprint!, lines.map((l) => keyFingerprint(l) ?? '?'));
      const dir = await mkdtemp(path.join(tmpdir(), 'proxmox-pods-ssh-'));
      const file = path.join(dir, 'known_hosts');
      await writeFile(file, `${match}\n`, { mode: 0o600 });
      return file;
    })();
    return this.knownHosts;
  }

  async sshArgs(): Promise<string[]> {
    const t = this.target;
    const args = ['-p', String(t.port), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'StrictHostKeyChecking=yes'];
    if (t.identityFile) args.push('-i', t.identityFile, '-o', 'IdentitiesOnly=yes');
    const known = await this.pinnedKnownHosts();
    if (known) args.push('-o', `UserKnownHostsFile=${known}`, '-o', 'GlobalKnownHostsFile=/dev/null');
    args.push('-l', t.user, '--', t.host);
    return args;
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const remote = [cmd, ...args].map(shellQuote).join(' ');
    const r = await execa('ssh', [...(await this.sshArgs()), remote], { input: opts.input, timeout: opts.timeoutMs ?? 60_000, reject: false, maxBuffer: 64 * 1024 * 1024, stripFinalNewline: false });
    const result: RunResult = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 255 };
    if (result.exitCode !== 0 && !opts.allowFailure) throw new HostCommandError(this.node, cmd, args, result);
    return result;
  }
}
