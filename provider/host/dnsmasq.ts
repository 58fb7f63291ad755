// HeadlessService engine: a dnsmasq instance on a node, one per listen address:port, answering for the zones
// `<service>.<namespace>.svc.<domain>` the provider gives it.
//
// What dnsmasq re-reads on SIGHUP decides the layout. SIGHUP re-reads addn-hosts (a directory here: files may come
// and go), but not `local=` or `srv-host=` from config files. So each zone is split in two:
//   hosts/<zone>        `<ip> <pod>.<zone> <zone>` per ready pod: the A records, the part that changes as pods come
//                       and go. Rewritten atomically, then SIGHUP — the process (and its cache of everything else)
//                       stays up.
//   zones/<zone>.conf   `local=/<zone>/` (answer NXDOMAIN instead of forwarding) and the `srv-host` lines. A change
//                       here (zone added/removed, ports changed) restarts the instance: a few milliseconds in which
//                       queries are refused and clients retry.
// SRV targets come in two forms (srvTarget). 'zone' (default): one SRV per named port targeting the zone name itself,
// whose A records are every ready pod, so SRV depends on the port list only and pod churn is always a SIGHUP.
// 'pods': one SRV per named port and ready pod targeting `<pod>.<zone>`, as Kubernetes answers (peers that discover
// each other by SRV target name need this); then a pod joining or leaving restarts the instance, and only an IP
// change of an existing pod is a SIGHUP.
// Files go through the executor (argument arrays, contents on stdin), so the same code runs locally, in a network
// namespace or over SSH. Every value written into a dnsmasq file is schema-validated first: no newline, comma or
// slash can reach a config line.
import { z } from 'zod';
import { InputError, ProxmoxPodsError } from '../errors';
import { detectCapabilities, requireCapability } from './capabilities';
import { HostCommandError, type Executor } from './executor';
import { dnsLabelSchema, dnsZoneSchema, ipv4Schema, portSchema, validate } from './names';

export const DEFAULT_DNS_STATE_DIR = '/var/lib/proxmox-pods/dns';
/** dnsmasq drops root after binding and reads hosts/ as this user (at start and on every SIGHUP). */
const DNSMASQ_USER = 'nobody';
// Constant scripts, values only as positional parameters. Several steps go into one script because each executor
// call is a round trip (an ssh connection for a remote node).
/** Each file as `<bytes>\n<content>`, or `-\n` when absent. */
const READ_SCRIPT = 'for f; do if [ -f "$f" ]; then wc -c < "$f"; cat -- "$f"; else echo -; fi; done';
/** stdin → $1 (a temp file beside nothing dnsmasq reads), then renamed over $2. */
const WRITE_SCRIPT = 'umask 022; cat > "$1" && mv -f -- "$1" "$2"';
/** The pid in pid file $1 and that process's argv, one per line; nothing when either is missing. */
const PID_SCRIPT = 'p=$(cat -- "$1" 2>/dev/null) || exit 0; case "$p" in ""|*[!0-9]*) exit 0;; esac; echo "$p"; tr "\\000" "\\n" < "/proc/$p/cmdline" 2>/dev/null; exit 0';
// Directories it creates get 0755 whatever the session's umask; an existing stateDir's mode is never changed (it
// could be /tmp or a shared directory), so an untraversable one is reported by start() instead.
const PREPARE_SCRIPT = 'umask 022; mkdir -p -- "$1/hosts" "$1/zones" "$1/owners" "$1/tmp" && chmod 0755 -- "$1" "$1/hosts" "$1/zones"';
// Without runuser the check is skipped, not failed.
const READABLE_SCRIPT = 'command -v runuser >/dev/null 2>&1 || { echo skip; exit 0; }; if runuser -u "$1" -- test -r "$2" -a -x "$2"; then echo ok; else echo no; fi';

export class DnsServerError extends ProxmoxPodsError {
  constructor(node: string, message: string) {
    super(`node ${node}: ${message}`, 'E_DNS_SERVER');
  }
}

/** The zone's owner file names another owner than the caller: nothing was changed. */
export class ZoneOwnerMismatchError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly zone: string, readonly recorded: string, readonly wanted: string) {
    super(`node ${node}: DNS zone ${zone} is owned by ${recorded}, not ${wanted}`, 'E_NOT_OWNED');
  }
}

/** An owner id as written by the provider (provider/resources/common/owner.ts `ownerId`): one line, no spaces. */
const ownerIdSchema = z.string().regex(/^[^\s/]+(\/[^\s/]+){3}$/, { message: 'must be an owner id project/stack/kind/name' });

const absolutePathSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9_./-]*$/, { message: 'must be an absolute path of [A-Za-z0-9_./-]' })
  .refine((p) => !p.split('/').some((c) => c === '..' || c.startsWith('-')), { message: 'must not contain ".." or components starting with "-"' });

export const dnsServerSchema = z
  .object({
    /** Where the instance keeps its files (one subdirectory per listen address:port). */
    stateDir: absolutePathSchema.default(DEFAULT_DNS_STATE_DIR),
    /** An address of the node; dnsmasq binds only to it (bind-interfaces), so it never clashes with other resolvers. */
    listenAddress: ipv4Schema,
    listenPort: portSchema.default(53),
  })
  .strict();
export type DnsServer = z.infer<typeof dnsServerSchema>;

const podSchema = z.object({ hostname: dnsLabelSchema, ip: ipv4Schema }).strict();
const namedPortSchema = z.object({ name: dnsLabelSchema, port: portSchema, protocol: z.enum(['tcp', 'udp'], { message: 'must be "tcp" or "udp"' }) }).strict();

export const zoneRecordsSchema = z
  .object({
    /** Ready pods only: each gets `<hostname>.<zone>` and is one of the zone name's A records. */
    pods: z.array(podSchema).superRefine((pods, ctx) => {
      const seen = new Set<string>();
      pods.forEach((p, i) => {
        if (seen.has(p.hostname)) ctx.addIssue({ code: 'custom', path: [i, 'hostname'], message: `duplicate hostname "${p.hostname}"` });
        seen.add(p.hostname);
      });
    }),
    /** Named ports: `_<name>._<protocol>.<zone>` SRV → `<zone>`:port. */
    ports: z.array(namedPortSchema).superRefine((ports, ctx) => {
      const seen = new Set<string>();
      ports.forEach((p, i) => {
        const key = `${p.name}/${p.protocol}`;
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate port "${key}"` });
        seen.add(key);
      });
    }),
  })
  .strict();
export type ZoneRecords = z.infer<typeof zoneRecordsSchema>;

export const zoneOptionsSchema = z
  .object({
    /** What SRV records point at: the zone name (every ready pod; default) or each ready pod's own name. */
    srvTarget: z.enum(['zone', 'pods'], { message: 'must be "zone" or "pods"' }).default('zone'),
  })
  .strict();
export type ZoneOptions = z.infer<typeof zoneOptionsSchema>;
export type SrvTarget = ZoneOptions['srvTarget'];

/** `<service>.<namespace>.svc.<domain>`, each part validated and named in the error. */
export function zoneName(parts: { service: string; namespace: string; domain: string }): string {
  validate(dnsLabelSchema, 'service', parts.service);
  validate(dnsLabelSchema, 'namespace', parts.namespace);
  validate(dnsZoneSchema, 'domain', parts.domain);
  return validate(dnsZoneSchema, 'zone', `${parts.service}.${parts.namespace}.svc.${parts.domain}`);
}

const parseZone = (zone: unknown): string => validate(dnsZoneSchema.refine((z) => z.includes('.'), { message: 'must have at least two labels' }), 'zone', zone);

/** Parses with `schema` or throws InputError naming the first bad field under `root` (e.g. records.pods.1.ip). */
function parseOrThrow<S extends z.ZodType>(schema: S, root: string, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new InputError([root, ...issue.path.map(String)].join('.'), issue.message);
}

// ---------- pure rendering and parsing ----------

const byName = <T extends { hostname: string }>(a: T, b: T) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);
const portKey = (p: ZoneRecords['ports'][number]) => `${p.name}/${p.protocol}`;
const PORTS_COMMENT = '# ports:';

/** The A-record part (hosts file). Sorted, so equal records render equal bytes. */
export function renderZoneHosts(zone: string, records: ZoneRecords): string {
  const lines = [`# proxmox-pods zone ${zone}: ready pods (managed; do not edit)`];
  for (const p of [...records.pods].sort(byName)) lines.push(`${p.ip} ${p.hostname}.${zone} ${zone}`);
  return `${lines.join('\n')}\n`;
}

/** The config part: authority over the zone and the SRV records (see srvTarget above). */
export function renderZoneConf(zone: string, records: ZoneRecords, srvTarget: SrvTarget = 'zone'): string {
  const lines = [`# proxmox-pods zone ${zone} (managed; do not edit)`, `local=/${zone}/`];
  const sortedPorts = [...records.ports].sort((a, b) => (portKey(a) < portKey(b) ? -1 : 1));
  // With per-pod targets and no ready pod there is no srv-host line to read the ports back from.
  if (srvTarget === 'pods') lines.push(`${PORTS_COMMENT}${sortedPorts.map((p) => ` ${p.name}/${p.protocol}/${p.port}`).join('')}`);
  const targets = srvTarget === 'zone' ? [zone] : [...records.pods].sort(byName).map((p) => `${p.hostname}.${zone}`);
  for (const p of sortedPorts) {
    for (const target of targets) lines.push(`srv-host=_${p.name}._${p.protocol}.${zone},${target},${p.port}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderMainConf(dir: string, server: DnsServer): string {
  return [
    '# proxmox-pods: HeadlessService DNS (managed; do not edit)',
    `listen-address=${server.listenAddress}`,
    `port=${server.listenPort}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    // Pinned rather than left to the build default, so the readability check in start() tests the right user.
    `user=${DNSMASQ_USER}`,
    `pid-file=${dir}/dnsmasq.pid`,
    `addn-hosts=${dir}/hosts`,
    `conf-dir=${dir}/zones,*.conf`,
    '',
  ].join('\n');
}

/**
 * Reads back what renderZoneHosts/renderZoneConf wrote (either SRV form); lines that are not ours (hand edits) are
 * ignored. Ports come from the srv-host lines, which is what dnsmasq serves; only a zone with per-pod targets and no
 * ready pod (legitimately no srv-host line) takes them from the ports comment.
 */
export function parseZoneFiles(zone: string, hosts: string, conf: string): ZoneRecords {
  const pods: ZoneRecords['pods'] = [];
  const ports: ZoneRecords['ports'] = [];
  for (const line of hosts.split('\n')) {
    const f = line.trim().split(/\s+/);
    const suffix = `.${zone}`;
    if (f.length === 3 && f[2] === zone && f[1]!.endsWith(suffix) && ipv4Schema.safeParse(f[0]).success) {
      const hostname = f[1]!.slice(0, -suffix.length);
      if (dnsLabelSchema.safeParse(hostname).success) pods.push({ hostname, ip: f[0]! });
    }
  }
  const seen = new Set<string>();
  for (const line of conf.split('\n')) {
    const m = /^srv-host=_([a-z0-9-]+)\._(tcp|udp)\.([^,]+),([^,]+),(\d+)$/.exec(line.trim());
    const target = m?.[4] ?? '';
    const ourTarget = target === zone || (target.endsWith(`.${zone}`) && dnsLabelSchema.safeParse(target.slice(0, -zone.length - 1)).success);
    if (m && m[3] === zone && ourTarget) {
      const p = namedPortSchema.safeParse({ name: m[1], protocol: m[2], port: Number(m[5]) });
      if (p.success && !seen.has(portKey(p.data))) {
        seen.add(portKey(p.data));
        ports.push(p.data);
      }
    }
  }
  const comment = conf.split('\n').find((l) => l.startsWith(PORTS_COMMENT));
  if (ports.length === 0 && pods.length === 0 && comment) {
    for (const word of comment.slice(PORTS_COMMENT.length).trim().split(/\s+/).filter(Boolean)) {
      const [name, protocol, port] = word.split('/');
      const p = namedPortSchema.safeParse({ name, protocol, port: Number(port) });
      if (p.success && !seen.has(portKey(p.data))) {
        seen.add(portKey(p.data));
        ports.push(p.data);
      }
    }
  }
  return { pods: pods.sort(byName), ports };
}

export type ZoneAction = 'none' | 'reload' | 'restart';

/**
 * What an upsert must do, given the files now on the node (undefined: absent). Pure. Only the hosts file changing
 * is a SIGHUP; anything in the config part (or the main config: a provider upgrade, a hand edit) needs a restart.
 */
export function planZoneUpdate(
  current: { main?: string; hosts?: string; conf?: string },
  wanted: { main: string; hosts: string; conf: string },
): { writeMain: boolean; writeHosts: boolean; writeConf: boolean; action: ZoneAction } {
  const writeMain = current.main !== wanted.main;
  const writeHosts = current.hosts !== wanted.hosts;
  const writeConf = current.conf !== wanted.conf;
  return { writeMain, writeHosts, writeConf, action: writeMain || writeConf ? 'restart' : writeHosts ? 'reload' : 'none' };
}

// ---------- the instance on a node ----------

// Check-then-change must not interleave for one instance: Pulumi runs resources in parallel in one process.
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  // The caller gets `next` and its error; the queue only needs to know it settled.
  const tail = next.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ZoneChange {
  /** 'start': the instance was not running and has been started with the wanted files. */
  action: ZoneAction | 'start' | 'stop';
}

export class DnsmasqZones {
  readonly server: DnsServer;
  /** The instance's directory on the node. */
  readonly dir: string;

  constructor(private readonly exec: Executor, server: z.input<typeof dnsServerSchema>) {
    this.server = parseOrThrow(dnsServerSchema, 'server', server);
    this.dir = `${this.server.stateDir.replace(/\/+$/, '')}/${this.server.listenAddress}_${this.server.listenPort}`;
  }

  private get key(): string {
    return `${this.exec.node}\0${this.dir}`;
  }
  private get confFile(): string {
    return `${this.dir}/dnsmasq.conf`;
  }
  private hostsFile(zone: string): string {
    return `${this.dir}/hosts/${zone}`;
  }
  private zoneConfFile(zone: string): string {
    return `${this.dir}/zones/${zone}.conf`;
  }
  /**
   * Who owns the zone: one line with the owner's id, in owners/ (a directory dnsmasq never reads). Absent for zones
   * made before owner records, and for callers that give no owner.
   */
  private ownerFile(zone: string): string {
    return `${this.dir}/owners/${zone}`;
  }

  /**
   * Throws ZoneOwnerMismatchError when the zone's recorded owner is not `owner` nor `previous` (the owner before a
   * stack was renamed); unrecorded: anyone may.
   */
  private async assertOwner(zone: string, owner: string | undefined, previous?: string): Promise<void> {
    if (owner === undefined) return;
    const [recorded] = await this.readFiles([this.ownerFile(zone)]);
    const id = recorded?.trim();
    if (id && id !== owner && id !== previous) throw new ZoneOwnerMismatchError(this.exec.node, zone, id, owner);
  }

  /** The zone's recorded owner id; undefined when none is recorded. */
  async zoneOwner(zone: string): Promise<string | undefined> {
    const [recorded] = await this.readFiles([this.ownerFile(parseZone(zone))]);
    return recorded?.trim() || undefined;
  }

  /** Several files in one round trip; undefined for a missing file. */
  private async readFiles(files: string[]): Promise<Array<string | undefined>> {
    const out = Buffer.from((await this.exec.run('sh', ['-c', READ_SCRIPT, 'sh', ...files])).stdout);
    const result: Array<string | undefined> = [];
    let at = 0;
    for (let i = 0; i < files.length; i++) {
      const nl = out.indexOf(10, at);
      const head = out.subarray(at, nl).toString().trim();
      at = nl + 1;
      if (head === '-') {
        result.push(undefined);
        continue;
      }
      const len = Number(head);
      result.push(out.subarray(at, at + len).toString());
      at += len;
    }
    return result;
  }

  /** Written to tmp/ and renamed in: dnsmasq (reading hosts/ on SIGHUP) never sees a partial or temporary file. */
  private async write(file: string, content: string): Promise<void> {
    const tmp = `${this.dir}/tmp/${file.slice(file.lastIndexOf('/') + 1)}.${process.pid}`;
    await this.exec.run('sh', ['-c', WRITE_SCRIPT, 'sh', tmp, file], { input: content });
  }

  /**
   * The pid of OUR running dnsmasq, or undefined. A pid file can outlive its process and the pid be reused, so the
   * process must be dnsmasq with this instance's config before it is ever signalled. An exited daemon that init has
   * not reaped yet (a zombie) has an empty argv, so it counts as gone.
   */
  async pid(): Promise<number | undefined> {
    const [head, ...argv] = (await this.exec.run('sh', ['-c', PID_SCRIPT, 'sh', `${this.dir}/dnsmasq.pid`])).stdout.split('\n');
    const pid = Number(head);
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    const isOurs = /(^|\/)dnsmasq$/.test(argv[0] ?? '') && argv.includes(`--conf-file=${this.confFile}`);
    return isOurs ? pid : undefined;
  }

  private async start(): Promise<void> {
    requireCapability(await detectCapabilities(this.exec), 'dnsmasq');
    // Unreadable hosts files are only a syslog line in dnsmasq: the zone would silently answer without A records.
    const readable = await this.exec.run('sh', ['-c', READABLE_SCRIPT, 'sh', DNSMASQ_USER, `${this.dir}/hosts`]);
    if (readable.stdout.trim() === 'no') {
      throw new DnsServerError(this.exec.node, `dnsmasq runs as "${DNSMASQ_USER}", which cannot read ${this.dir}/hosts: make ${this.server.stateDir} and every directory above it traversable by others (chmod o+x), or pick another stateDir`);
    }
    const r = await this.exec.run('dnsmasq', [`--conf-file=${this.confFile}`], { allowFailure: true, timeoutMs: 15_000 });
    if (r.exitCode !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.exitCode}`;
      throw new DnsServerError(this.exec.node, `dnsmasq for ${this.server.listenAddress}:${this.server.listenPort} did not start: ${why}` +
        (/in use/i.test(why) ? ' (another DNS server listens there: pick another listen address or port, or stop it)' : ''));
    }
    for (let i = 0; i < 50; i++) {
      if (await this.pid()) return;
      await sleep(50);
    }
    throw new DnsServerError(this.exec.node, `dnsmasq for ${this.server.listenAddress}:${this.server.listenPort} started but wrote no pid file in ${this.dir}`);
  }

  private async stopProcess(): Promise<boolean> {
    const pid = await this.pid();
    if (!pid) return false;
    // A failed kill is judged by its outcome below: gone (it exited between pid() and kill) is what we want; still
    // there after 5 s is an error.
    await this.exec.run('kill', ['-TERM', String(pid)], { allowFailure: true });
    // The socket must be free before a restart binds it again. Polled through pid() rather than `kill -0`, which a
    // zombie still passes.
    for (let i = 0; i < 100; i++) {
      if ((await this.pid()) !== pid) return true;
      await sleep(50);
    }
    throw new DnsServerError(this.exec.node, `dnsmasq (pid ${pid}) did not exit within 5s of SIGTERM`);
  }

  private async prepare(): Promise<void> {
    // dnsmasq drops root after start and re-reads hosts/ as that user on SIGHUP: the directories must be traversable.
    await this.exec.run('sh', ['-c', PREPARE_SCRIPT, 'sh', this.dir]);
  }

  /**
   * Makes the zone serve exactly `records`. Idempotent: unchanged records do nothing (beyond starting the instance
   * if it is down); pod changes reload with SIGHUP; port or new-zone changes restart.
   */
  async upsertZone(zone: string, records: z.input<typeof zoneRecordsSchema>, options: z.input<typeof zoneOptionsSchema> = {}, owner?: string, previousOwner?: string): Promise<ZoneChange> {
    const name = parseZone(zone);
    const wantedRecords = parseOrThrow(zoneRecordsSchema, 'records', records);
    const { srvTarget } = parseOrThrow(zoneOptionsSchema, 'options', options);
    if (owner !== undefined) parseOrThrow(ownerIdSchema, 'owner', owner);
    return serialized(this.key, async () => {
      // Another owner's zone of the same name on this instance: refused before anything is written.
      await this.assertOwner(name, owner, previousOwner);
      await this.prepare();
      // First, so that a zone is never served without its owner on record (a zone made before owner records is
      // taken by its first owner, as older versions let any service of that name update it).
      if (owner !== undefined && (await this.zoneOwner(name)) !== owner) await this.write(this.ownerFile(name), `${owner}\n`);
      const wanted = { main: renderMainConf(this.dir, this.server), hosts: renderZoneHosts(name, wantedRecords), conf: renderZoneConf(name, wantedRecords, srvTarget) };
      const [main, hosts, conf] = await this.readFiles([this.confFile, this.hostsFile(name), this.zoneConfFile(name)]);
      const plan = planZoneUpdate({ main, hosts, conf }, wanted);
      if (plan.writeMain) await this.write(this.confFile, wanted.main);
      if (plan.writeHosts) await this.write(this.hostsFile(name), wanted.hosts);
      if (plan.writeConf) await this.write(this.zoneConfFile(name), wanted.conf);
      const pid = await this.pid();
      if (!pid) {
        await this.start();
        return { action: 'start' };
      }
      if (plan.action === 'reload') await this.exec.run('kill', ['-HUP', String(pid)]);
      if (plan.action === 'restart') {
        await this.stopProcess();
        await this.start();
      }
      return { action: plan.action };
    });
  }

  /** Idempotent. The instance stops, and its directory goes, with its last zone. */
  async removeZone(zone: string, owner?: string): Promise<ZoneChange> {
    const name = parseZone(zone);
    return serialized(this.key, async () => {
      await this.assertOwner(name, owner);
      const had = (await this.readFiles([this.zoneConfFile(name), this.hostsFile(name)])).some((f) => f !== undefined);
      // The owner file goes last: a removal cut short leaves the zone still recorded as its owner's.
      await this.exec.run('rm', ['-f', '--', this.hostsFile(name), this.zoneConfFile(name), this.ownerFile(name)]);
      if ((await this.listZonesUnlocked()).length === 0) {
        await this.stopProcess();
        await this.exec.run('rm', ['-rf', '--', this.dir]);
        return { action: had ? 'stop' : 'none' };
      }
      if (!had) return { action: 'none' };
      // `local=` and `srv-host` for the zone live in the config until the process re-reads it.
      if (await this.pid()) {
        await this.stopProcess();
        await this.start();
        return { action: 'restart' };
      }
      return { action: 'none' };
    });
  }

  /** The records on the node for `zone` (undefined: no such zone) — for refresh and drift. */
  async readZone(zone: string): Promise<ZoneRecords | undefined> {
    const name = parseZone(zone);
    const [hosts, conf] = await this.readFiles([this.hostsFile(name), this.zoneConfFile(name)]);
    if (hosts === undefined && conf === undefined) return undefined;
    return parseZoneFiles(name, hosts ?? '', conf ?? '');
  }

  /**
   * Starts the instance if it has zones but no live process (a node reboot, a crash), and restarts it if its main
   * config is not the one this version writes. Idempotent; 'none' when it runs as wanted or has no zones.
   */
  async ensureServer(): Promise<ZoneChange> {
    return serialized(this.key, async () => {
      if ((await this.listZonesUnlocked()).length === 0) return { action: 'none' };
      const wanted = renderMainConf(this.dir, this.server);
      const [main] = await this.readFiles([this.confFile]);
      if (main !== wanted) {
        await this.prepare();
        await this.write(this.confFile, wanted);
      }
      if (!(await this.pid())) {
        await this.start();
        return { action: 'start' };
      }
      if (main === wanted) return { action: 'none' };
      await this.stopProcess();
      await this.start();
      return { action: 'restart' };
    });
  }

  /** Stops the process and keeps its files, so ensureServer or the next upsert brings the same zones back. Idempotent. */
  async stopServer(): Promise<ZoneChange> {
    return serialized(this.key, async () => ({ action: (await this.stopProcess()) ? 'stop' : 'none' }));
  }

  private async listZonesUnlocked(): Promise<string[]> {
    const r = await this.exec.run('ls', ['-1', '--', `${this.dir}/zones`], { allowFailure: true });
    if (r.exitCode !== 0) {
      if (/No such file or directory/.test(r.stderr)) return []; // no zone was ever written
      throw new HostCommandError(this.exec.node, 'ls', ['-1', '--', `${this.dir}/zones`], r);
    }
    return r.stdout.split('\n').filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -'.conf'.length)).filter((z) => dnsZoneSchema.safeParse(z).success).sort();
  }

  listZones(): Promise<string[]> {
    return this.listZonesUnlocked();
  }

  /** Whether the instance runs (a zone file without a running server is drift). */
  async running(): Promise<boolean> {
    return (await this.pid()) !== undefined;
  }
}
