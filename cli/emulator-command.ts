// `proxmox-pods emulator`: run the PVE API emulator in the foreground until SIGINT/SIGTERM.
import { InputError } from '../provider/errors';
import { startEmulator, zfsVolumeBackend, EmulatorOptions, type RunningEmulator } from '../emulator';
import { CONFIG_KEYS } from '../provider/proxmox/config';
import { parseApiToken } from '../provider/proxmox/token-id';
import { isZfsDataset } from '../provider/host/zfs/names';

export interface EmulatorCliArgs {
  port?: number;
  httpPort?: number | false;
  nodes?: number;
  tokens: string[];
  taskDurationMs?: number;
  host?: string;
  /** Make local-zfs disks real datasets under this one (zfs on this machine). */
  zfsPool?: string;
  /** `lxc`: nodes are network namespaces and CTs real LXC containers (root + LXC). */
  runtime?: 'memory' | 'lxc';
}

const USAGE = 'usage: proxmox-pods emulator [--host ADDR] [--port N] [--http-port N|off] [--nodes N] [--token USER@REALM!ID=UUID]... [--task-ms N] [--zfs-pool DATASET] [--runtime memory|lxc]';

function intArg(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new InputError(flag, `expects an integer between ${min} and ${max}, got '${value ?? ''}'`, USAGE);
  }
  return Number(value);
}

/** Pure argv parser (no I/O) so it can be tested directly. */
export function parseEmulatorArgs(argv: string[]): EmulatorCliArgs {
  const out: EmulatorCliArgs = { tokens: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') && !arg.startsWith('--token=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : arg.startsWith('--token=') ? ['--token', arg.slice(8)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--port': out.port = intArg(flag, value(), 0, 65535); break;
      case '--http-port': {
        const v = value();
        out.httpPort = v === 'off' || v === 'false' ? false : intArg(flag, v, 0, 65535);
        break;
      }
      case '--nodes': out.nodes = intArg(flag, value(), 1, 64); break;
      case '--task-ms': out.taskDurationMs = intArg(flag, value(), 0, 600000); break;
      case '--host': {
        const v = value();
        if (!v) throw new InputError(flag, 'expects an address', USAGE);
        out.host = v;
        break;
      }
      case '--zfs-pool': {
        const v = value();
        if (!v || !isZfsDataset(v)) throw new InputError(flag, 'expects an existing ZFS dataset such as tank/pve-data', USAGE);
        out.zfsPool = v;
        break;
      }
      case '--runtime': {
        const v = value();
        if (v !== 'memory' && v !== 'lxc') throw new InputError(flag, `expects memory or lxc, got '${v ?? ''}'`, USAGE);
        out.runtime = v;
        break;
      }
      case '--token': {
        const v = value();
        const token = v ? parseApiToken(v) : { problem: 'is missing' };
        if ('problem' in token) throw new InputError(flag, `expects USER@REALM!ID=SECRET: ${token.problem}`, USAGE);
        out.tokens.push(v);
        break;
      }
      case '-h':
      case '--help':
        throw new InputError('emulator', 'help requested', USAGE);
      default:
        throw new InputError(flag, 'unknown option', USAGE);
    }
  }
  return out;
}

export async function runEmulatorCommand(argv: string[]): Promise<void> {
  const args = parseEmulatorArgs(argv);
  const opts: EmulatorOptions = {
    ...(args.port !== undefined ? { port: args.port } : { port: 8006 }),
    ...(args.httpPort !== undefined ? { httpPort: args.httpPort } : {}),
    ...(args.nodes !== undefined ? { nodes: args.nodes } : {}),
    ...(args.taskDurationMs !== undefined ? { taskDurationMs: args.taskDurationMs } : {}),
    ...(args.host !== undefined ? { host: args.host } : {}),
    ...(args.tokens.length ? { tokens: args.tokens } : {}),
    // Real datasets for local-zfs disks: pods cloned from an OciImage's ZFS chain can then be tried offline.
    // With the lxc runtime the runtime makes the volumes itself (zfs datasets under --zfs-pool, else directories).
    ...(args.zfsPool ? { zfsPool: args.zfsPool, ...(args.runtime === 'lxc' ? {} : { hostBackend: zfsVolumeBackend() }) } : {}),
    ...(args.runtime ? { runtime: args.runtime } : {}),
  };
  const emu = await startEmulator(opts);
  const out = process.stdout;
  out.write(`Proxmox VE API emulator (nodes: ${emu.nodes.join(', ')})\n`);
  out.write(`  URL:         ${emu.url}/api2/json\n`);
  if (emu.httpUrl) out.write(`  HTTP URL:    ${emu.httpUrl}/api2/json\n`);
  out.write(`  fingerprint: ${emu.fingerprint}\n`);
  out.write(`  token:       ${emu.token}\n`);
  out.write(`  root@pam password: ${emu.rootPassword}\n\n`);
  out.write('# paste into a shell: the provider reads these (stack config proxmox-pods:* wins over them)\n');
  out.write(`${environmentBlock(emu)}\n`);
  // The value a stack sets as proxmox-pods:hosts, so bridges, nftables, dnsmasq and zfs act on the emulated nodes.
  if (emu.hosts) out.write(`hosts: ${JSON.stringify(emu.hosts)}\n`);
  out.write('Press Ctrl-C to stop.\n');
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void emu.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * The `export` line a user pastes into a shell to point the provider at this emulator: endpoint, token and the
 * certificate's fingerprint (the certificate is self-signed, so without the pin every connection fails with
 * DEPTH_ZERO_SELF_SIGNED_CERT), plus the default node when there is more than one. The names are the provider's
 * (provider/proxmox/config.ts CONFIG_KEYS); values are single-quoted, which keeps the token's `!` literal.
 */
export function environmentBlock(emu: Pick<RunningEmulator, 'url' | 'token' | 'fingerprint' | 'nodes'>): string {
  const vars: Array<[string, string]> = [
    [CONFIG_KEYS.endpoint, `${emu.url}/`],
    [CONFIG_KEYS.apiToken, emu.token],
    [CONFIG_KEYS.tlsFingerprint, emu.fingerprint],
  ];
  if (emu.nodes.length > 1) vars.push([CONFIG_KEYS.node, emu.nodes[0]!]);
  return `export ${vars.map(([name, value]) => `${name}=${shellQuote(value)}`).join(' ')}`;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
