// `proxmox-pods image pull|unpack|inspect|gc`: the OCI side of the provider for users and scripts. Output is for
// scripts (JSON or one value per line on stdout); progress goes to stderr and only when it is a terminal; any
// failure is one line on stderr and a non-zero exit.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ContentStore, defaultStorePath, formatPlatform, pullImage, type PullProgress, type PulledImage } from '../provider/oci';
import { unpackImage } from '../provider/oci/unpack';

const USAGE = `usage: proxmox-pods image <command> [options]

  pull REF [--store DIR] [--platform OS/ARCH[/VARIANT]] [--insecure-registry HOST[:PORT]]...
                      download and verify an image into the content store; prints its digest
  unpack REF --to DIR [--store DIR] [--platform P] [--insecure-registry HOST]...
                      pull (cached) and unpack the image's rootfs into a new directory DIR
  inspect REF [--store DIR] [--platform P] [--insecure-registry HOST]...
                      pull (cached) and print JSON: digest, platform, config, layers
  gc [--store DIR] [--dry-run]
                      delete blobs no stored image reference keeps alive

REF: [registry[:port]/]name[:tag][@sha256:...], oci-layout:DIR[:tag], oci-archive:FILE[:tag]
The store defaults to ${'$'}XDG_CACHE_HOME/proxmox-pods (~/.cache/proxmox-pods).
`;

class UsageError extends Error {}

const OPTIONS = {
  store: { type: 'string' },
  platform: { type: 'string' },
  'insecure-registry': { type: 'string', multiple: true },
  to: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Parsed = ReturnType<typeof parse>;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A store ref for images the CLI pulled, so `image gc` keeps them; OciImage resources use their own prefix. */
export function cliRefName(reference: string): string {
  const name = `cli=${reference.replace(/[^A-Za-z0-9._:@+=-]/g, '+')}`;
  return name.slice(0, 200);
}

/** A one-line progress bar on stderr, redrawn at most every 100 ms; nothing when stderr is not a terminal. */
function progressReporter(stream: NodeJS.WriteStream): { onProgress?: (p: PullProgress) => void; done(): void } {
  if (!stream.isTTY) return { done: () => undefined };
  const blobs = new Map<string, { bytes: number; total: number }>();
  let last = 0;
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let bytes = 0;
    let total = 0;
    for (const b of blobs.values()) { bytes += b.bytes; total += b.total; }
    const width = 30;
    const frac = total ? Math.min(1, bytes / total) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    stream.write(`\r[${bar}] ${(bytes / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB, ${blobs.size} blobs`);
  };
  return {
    onProgress: (p) => { blobs.set(p.digest, { bytes: p.bytes, total: p.total }); draw(p.done); },
    done: () => { if (blobs.size) { draw(true); stream.write('\n'); } },
  };
}

function oneReference(args: Parsed): string {
  if (args.positionals.length !== 1) throw new UsageError(args.positionals.length ? `expected one image reference, got ${args.positionals.length}` : 'missing the image reference');
  return args.positionals[0]!;
}

async function pullFor(args: Parsed): Promise<{ store: ContentStore; pulled: PulledImage }> {
  const reference = oneReference(args);
  const store = await ContentStore.open(args.values.store ? resolve(args.values.store) : defaultStorePath());
  const progress = progressReporter(process.stderr);
  try {
    const pulled = await pullImage(reference, {
      store,
      refName: cliRefName(reference),
      ...(args.values.platform ? { platform: args.values.platform } : {}),
      ...(args.values['insecure-registry'] ? { insecureRegistries: args.values['insecure-registry'] } : {}),
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
    return { store, pulled };
  } finally {
    progress.done();
  }
}

const subcommands: Record<string, (args: Parsed) => Promise<void>> = {
  async pull(args) {
    const { pulled } = await pullFor(args);
    process.stdout.write(`${pulled.digest}\n`);
    if (process.stderr.isTTY) process.stderr.write(`pulled ${pulled.resolvedReference} (${formatPlatform(pulled.platform)}, ${pulled.layers.length} layers, ${pulled.totalSize} bytes)\n`);
  },
  async unpack(args) {
    if (!args.values.to) throw new UsageError('unpack needs --to DIR (a directory that does not exist yet)');
    const target = resolve(args.values.to);
    const { store, pulled } = await pullFor(args);
    const stats = await unpackImage({
      target,
      idmap: null,
      layers: pulled.layers.map((l) => ({ path: store.blobPath(l.digest), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId, size: l.size })),
    });
    process.stdout.write(`${target}\n`);
    if (process.stderr.isTTY) process.stderr.write(`unpacked ${stats.entries} entries, ${stats.bytes} bytes${stats.devicesSkipped ? `, ${stats.devicesSkipped} device nodes skipped` : ''}\n`);
  },
  async inspect(args) {
    const { pulled } = await pullFor(args);
    const out = {
      reference: pulled.reference,
      resolvedReference: pulled.resolvedReference,
      digest: pulled.digest,
      manifestDigest: pulled.manifestDigest,
      configDigest: pulled.configDigest,
      platform: formatPlatform(pulled.platform),
      config: pulled.config,
      layers: pulled.layers,
      size: pulled.totalSize,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  },
  async gc(args) {
    if (args.positionals.length) throw new UsageError('gc takes no arguments');
    const store = await ContentStore.open(args.values.store ? resolve(args.values.store) : defaultStorePath());
    const r = await store.gc({ dryRun: args.values['dry-run'] === true });
    process.stdout.write(`${JSON.stringify({ deleted: r.deleted.length, freedBytes: r.freedBytes, kept: r.kept, dryRun: args.values['dry-run'] === true })}\n`);
  },
};

export async function runImageCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const sub = subcommands[name];
  if (!sub) {
    process.stderr.write(`proxmox-pods image: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    const args = parse(rest);
    if (args.values.help) { process.stdout.write(USAGE); return 0; }
    await sub(args);
    return 0;
  } catch (err) {
    // One line a script can log: the first line of the reason, no stack.
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    process.stderr.write(`proxmox-pods image ${name}: ${message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
