// The one way this provider runs `zfs`: through a node's host Executor (local, network namespace or SSH), every
// failure a ZfsError carrying the command and zfs's own words, absence parsed from those words specifically ("dataset
// does not exist" for the name asked about, never "the command failed"), and one retry policy for "busy".
import { InputError, ProxmoxPodsError } from '../../errors';
import type { Executor, HostLock } from '../executor';
import { validateDataset, validateSnapshot } from './names';

/** Any failure of a `zfs` command, or a ZFS state this provider refuses to act on. */
export class ZfsError extends ProxmoxPodsError {
  readonly stderr: string;
  readonly args: readonly string[];
  constructor(readonly node: string, readonly reason: string, opts: { args?: readonly string[]; stderr?: string; cause?: unknown; code?: string } = {}) {
    super(`node ${node}: zfs: ${reason}`, opts.code ?? 'E_ZFS', opts.cause === undefined ? undefined : { cause: opts.cause });
    this.stderr = opts.stderr ?? '';
    this.args = opts.args ?? [];
  }

  /** zfs said that `name` itself does not exist (libzfs EZFS_NOENT: "cannot open '<name>': dataset does not exist"). */
  saysAbsent(name: string): boolean {
    return this.stderr.split('\n').some((line) => line.includes(`'${name}'`) && /: dataset does not exist\s*$/.test(line));
  }

  /** EBUSY: zfs-fuse for seconds after a create, a mount or the last write; a kernel mount still settling. */
  get busy(): boolean {
    return /\bbusy\b/i.test(this.stderr);
  }
}

/** A chain still has dependants (pod clones or chains built on it). */
export class ChainInUseError extends ZfsError {
  constructor(node: string, readonly dataset: string, readonly clones: string[]) {
    super(node, `${dataset} is still used by ${clones.join(', ')}; delete those pods/images first`, { code: 'E_ZFS_IN_USE' });
  }
}

export interface BusyRetryPolicy {
  /** Give up once this much time has passed since the first refusal. */
  budgetMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

/**
 * Usually clear within tens of ms, but seconds under zfs-fuse, and more than 20 s on a loaded machine (measured here:
 * a pod disk's destroy refused for over 20 s at load average 14): start short, back off to 250 ms, give up after a
 * minute. PVE retries the same way for its own disks (pve-storage ZFSPoolPlugin.pm `zfs_delete_zvol`: "dataset is
 * busy" → sleep 1 s, six tries; "dataset does not exist" → done).
 */
export const DEFAULT_BUSY_RETRY: BusyRetryPolicy = { budgetMs: 60_000, firstDelayMs: 25, maxDelayMs: 250 };

/** One row of `zfs get -Hp -o property,value,source`. */
export interface PropertyValue {
  value: string;
  /** `local`, `default`, `inherited from …`, `-` (read-only), `received`. */
  source: string;
}

export type DatasetType = 'filesystem' | 'snapshot' | 'volume';

/** A large chain or a clone tree can take a while to destroy; the executor's default (60 s) is for small commands. */
const ZFS_TIMEOUT_MS = 300_000;

/**
 * Changes to a node's datasets take turns, as PVE's own do: pve-storage src/PVE/Storage.pm `vdisk_alloc`,
 * `vdisk_clone` and `vdisk_free` run under Plugin.pm `cluster_lock_storage` (for local storage a flock on
 * /var/lock/pve-manager/pve-storage-<id>). Without it zfs-fuse wedged here: a `zfs create` mounting into a parent
 * while two `zfs destroy`s removed siblings' mount points from it left all three blocked in the kernel for good
 * (hung-task reports, a CI run that never finished). One file per node for every pool: the lock is about the zfs
 * tooling, not one storage. Reads (get, list) do not take it. The wait stays under the command timeout, so a holder
 * that never lets go is reported, not waited out.
 */
export const ZFS_HOST_LOCK: HostLock = { path: '/run/lock/proxmox-pods-zfs.lock', waitMs: 240_000 };

const READ_ONLY_SUBCOMMANDS = new Set(['get', 'list']);

/** Whether `zfs <args>` changes something, and so takes ZFS_HOST_LOCK. */
export function zfsChanges(args: readonly string[]): boolean {
  return !READ_ONLY_SUBCOMMANDS.has(args[0] ?? '');
}

export interface ZfsOptions {
  busyRetry?: BusyRetryPolicy;
  /** @default ZFS_HOST_LOCK */
  lock?: HostLock;
}

export class Zfs {
  private readonly busyRetry: BusyRetryPolicy;
  private readonly lock: HostLock;

  constructor(readonly exec: Executor, opts: ZfsOptions = {}) {
    this.busyRetry = opts.busyRetry ?? DEFAULT_BUSY_RETRY;
    this.lock = opts.lock ?? ZFS_HOST_LOCK;
  }

  get node(): string {
    return this.exec.node;
  }

  /** `zfs <args>`; its stdout, or a ZfsError with zfs's stderr. */
  async run(args: readonly string[]): Promise<string> {
    const lock = zfsChanges(args) ? this.lock : undefined;
    const r = await this.exec.run('zfs', args, { allowFailure: true, timeoutMs: ZFS_TIMEOUT_MS, lock });
    if (r.exitCode === 0) return r.stdout;
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(0, 3).join(' | ');
    throw new ZfsError(this.node, `\`zfs ${args.join(' ')}\` failed (exit ${r.exitCode}): ${detail}`, { args, stderr: r.stderr });
  }

  /** `run`, repeated while zfs answers "busy". Only for commands that are safe to repeat after a busy refusal. */
  async runUntilNotBusy(args: readonly string[]): Promise<string> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.run(args);
      } catch (err) {
        if (!(err instanceof ZfsError) || !err.busy || Date.now() - started >= this.busyRetry.budgetMs) throw err;
        await sleep(Math.min(this.busyRetry.maxDelayMs, this.busyRetry.firstDelayMs * 2 ** attempt));
      }
    }
  }

  /** True when `name` exists as `type`; false only when zfs says it does not exist. */
  async exists(name: string, type: DatasetType): Promise<boolean> {
    if (type === 'snapshot') validateSnapshot(name);
    else validateDataset(name);
    try {
      await this.run(['list', '-H', '-o', 'name', '-t', type, name]);
      return true;
    } catch (err) {
      if (err instanceof ZfsError && err.saysAbsent(name)) return false;
      throw err;
    }
  }

  /** `names` of `dataset` with value and source, parsed (`-p`: exact numbers); undefined when the dataset does not exist. */
  async get(dataset: string, names: readonly string[]): Promise<Map<string, PropertyValue> | undefined> {
    if (dataset.includes('@')) validateSnapshot(dataset);
    else validateDataset(dataset);
    names.forEach(assertPropertyName);
    let out: string;
    try {
      out = await this.run(['get', '-H', '-p', '-o', 'property,value,source', names.join(','), dataset]);
    } catch (err) {
      if (err instanceof ZfsError && err.saysAbsent(dataset)) return undefined;
      throw err;
    }
    const props = new Map<string, PropertyValue>();
    for (const line of out.split('\n')) {
      if (!line) continue;
      const [property, value, source] = line.split('\t');
      if (property === undefined || value === undefined) throw new ZfsError(this.node, `cannot parse \`zfs get\` output line ${JSON.stringify(line)}`);
      props.set(property, { value, source: source ?? '' });
    }
    return props;
  }

  /**
   * Each of `names` this zfs knows, asked one by one: zfs-fuse refuses a whole `zfs get` that names a property it
   * lacks (acltype), and says so as "bad property list: invalid property '<name>'". That answer, and only that one,
   * leaves the property out; a dataset that does not exist or any other failure is an error.
   */
  async knownProperties(dataset: string, names: readonly string[]): Promise<Map<string, PropertyValue>> {
    const out = new Map<string, PropertyValue>();
    for (const name of names) {
      let got: Map<string, PropertyValue> | undefined;
      try {
        got = await this.get(dataset, [name]);
      } catch (err) {
        if (err instanceof ZfsError && err.stderr.includes(`invalid property '${name}'`)) continue;
        throw err;
      }
      if (!got) throw new ZfsError(this.node, `${dataset} does not exist`);
      const value = got.get(name);
      if (value) out.set(name, value);
    }
    return out;
  }

  /** `zfs create`, with properties; `parents` makes missing parents too (`-p`). */
  async create(dataset: string, props: Record<string, string> = {}, opts: { parents?: boolean } = {}): Promise<void> {
    validateDataset(dataset);
    await this.run(['create', ...(opts.parents ? ['-p'] : []), ...propertyArgs(props), dataset]);
  }

  /**
   * `zfs create -p`: `dataset` and its missing parents; nothing when it exists. Two of these racing for a shared
   * parent make one fail with "dataset already exists" for that parent: the winner made it, so try again (the
   * parent is there now and `-p` takes existing datasets as done).
   */
  async createPath(dataset: string): Promise<void> {
    validateDataset(dataset);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.run(['create', '-p', dataset]);
        return;
      } catch (err) {
        if (attempt >= 5 || !(err instanceof ZfsError && /: dataset already exists\s*$/m.test(err.stderr))) throw err;
      }
    }
  }

  async clone(snapshot: string, target: string, props: Record<string, string> = {}): Promise<void> {
    validateSnapshot(snapshot);
    validateDataset(target);
    await this.run(['clone', ...propertyArgs(props), snapshot, target]);
  }

  async snapshot(name: string): Promise<void> {
    validateSnapshot(name);
    await this.run(['snapshot', name]);
  }

  async set(dataset: string, property: string, value: string): Promise<void> {
    validateDataset(dataset);
    await this.run(['set', propertyAssignment(property, value), dataset]);
  }

  /** `zfs inherit`: drops a locally set property (a user property disappears). */
  async inherit(dataset: string, property: string): Promise<void> {
    validateDataset(dataset);
    assertPropertyName(property);
    await this.run(['inherit', property, dataset]);
  }

  /** Unmounts `dataset`; false when it was not mounted. */
  async unmount(dataset: string): Promise<boolean> {
    validateDataset(dataset);
    try {
      await this.runUntilNotBusy(['umount', dataset]);
      return true;
    } catch (err) {
      if (err instanceof ZfsError && /not currently mounted/.test(err.stderr)) return false;
      throw err;
    }
  }

  /** Mounts `dataset`; false when it already was. */
  async mount(dataset: string): Promise<boolean> {
    validateDataset(dataset);
    try {
      await this.run(['mount', dataset]);
      return true;
    } catch (err) {
      if (err instanceof ZfsError && /already mounted/.test(err.stderr)) return false;
      throw err;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    validateDataset(from);
    validateDataset(to);
    await this.runUntilNotBusy(['rename', from, to]);
  }

  /**
   * `zfs destroy -r` (with `-f`: unmount even if busy), retried while busy. Already gone is success: returns false
   * when zfs says the dataset does not exist, true when it destroyed it.
   */
  async destroy(dataset: string, opts: { force?: boolean } = {}): Promise<boolean> {
    validateDataset(dataset);
    try {
      await this.runUntilNotBusy(['destroy', '-r', ...(opts.force ? ['-f'] : []), dataset]);
      return true;
    } catch (err) {
      if (err instanceof ZfsError && err.saysAbsent(dataset)) return false;
      throw err;
    }
  }

  /**
   * Every property of `root` and the filesystems and volumes below it (`zfs get -r all`, snapshots left out): one
   * command for what per-dataset `get`s would take dozens for. Undefined when `root` does not exist.
   */
  async getRecursive(root: string): Promise<Map<string, Map<string, PropertyValue>> | undefined> {
    validateDataset(root);
    let out: string;
    try {
      out = await this.run(['get', '-H', '-p', '-r', '-o', 'name,property,value,source', 'all', root]);
    } catch (err) {
      if (err instanceof ZfsError && err.saysAbsent(root)) return undefined;
      throw err;
    }
    const all = new Map<string, Map<string, PropertyValue>>();
    for (const line of out.split('\n')) {
      if (!line) continue;
      const [name, property, value, source] = line.split('\t');
      if (name === undefined || property === undefined || value === undefined) throw new ZfsError(this.node, `cannot parse \`zfs get\` output line ${JSON.stringify(line)}`);
      if (name.includes('@')) continue;
      let props = all.get(name);
      if (!props) all.set(name, (props = new Map()));
      props.set(property, { value, source: source ?? '' });
    }
    return all;
  }

  /** Rows of `zfs list -H -o <columns> -t <types> -r <root>`, each split into its columns. */
  async listRecursive(root: string, columns: readonly string[], types: readonly DatasetType[]): Promise<string[][]> {
    validateDataset(root);
    columns.forEach(assertPropertyName);
    const out = await this.run(['list', '-H', '-o', columns.join(','), '-t', types.join(','), '-r', root]);
    return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Native properties are lower-case words; user properties carry a ':' (`pods:volume`). */
function assertPropertyName(name: string): void {
  if (!/^[a-z][a-z0-9_.:-]*$/.test(name)) throw new InputError('property', `${JSON.stringify(name)} is not a ZFS property name`, 'use a native property or module:name');
}

function propertyAssignment(name: string, value: string): string {
  assertPropertyName(name);
  // One argument either way, but a tab or newline would break the -H output this layer parses back.
  if (/[\0\n\t]/.test(value)) throw new InputError(name, 'contains a control character', 'give a value without tabs or newlines');
  return `${name}=${value}`;
}

function propertyArgs(props: Record<string, string>): string[] {
  return Object.entries(props).flatMap(([name, value]) => ['-o', propertyAssignment(name, value)]);
}
