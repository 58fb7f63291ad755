// HeadlessService DNS on a node: one dnsmasq instance per listen address:port that the provider manages, with one
// config file per zone (`local=/zone/`, `host-record=` per ready pod, `srv-host=` per named port and pod). dnsmasq
// re-reads neither host-record nor srv-host on SIGHUP, so a zone change rewrites the file atomically and restarts the
// instance (milliseconds); an unchanged zone leaves it alone. Files are written through the executor (argument
// arrays, contents on stdin), so the same code works locally, in a namespace or over SSH.
import { z } from 'zod';
import { InputError, ProxmoxPodsError, CapabilityError } from '../errors';
import type { Executor } from './executor';

const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const DEFAULT_STATE_DIR = '/var/lib/proxmox-pods/dns';

export const zoneSpecSchema = z
  .object({
    zone: z.string().max(253).refine((z) => z.split('.').every((l) => label.test(l)) && z.split('.').length >= 2, { message: 'must be a DNS name such as web.default.svc.cluster.local' }),
    records: z.array(z.object({ hostname: z.string().regex(label, { message: 'must be a DNS label' }), ip: z.string().regex(ipv4, { message: 'must be an IPv4 address' }) })),
    ports: z.array(z.object({ name: z.string().regex(label, { message: 'must be a DNS label' }), port: z.number().int().min(1).max(65535), protocol: z.enum(['tcp', 'udp']) })),
    listen: z.object({ address: z.string().regex(ipv4, { message: 'must be an IPv4 address on the node' }), port: z.number().int().min(1).max(65535) }),
    stateDir: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, { message: 'must be an absolute path' }).optional(),
  })
  .strict();
export type ZoneSpec = z.infer<typeof zoneSpecSchema>;
type ZoneLocation = Pick<ZoneSpec, 'listen' | 'stateDir'>;

function parse(input: unknown): ZoneSpec {
  const r = zoneSpecSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new InputError(issue.path.join('.') || 'zone', issue.message);
  }
  return r.data;
}

const instanceDir = (loc: ZoneLocation) => `${loc.stateDir ?? DEFAULT_STATE_DIR}/${loc.listen.address}_${loc.listen.port}`;

/** The zone file. Pure: the same spec always renders the same bytes, so "unchanged" is a string comparison. */
export function renderZone(spec: ZoneSpec): string {
  const lines = [`# proxmox-pods zone ${spec.zone}`, `local=/${spec.zone}/`];
  const records = [...spec.records].sort((a, b) => a.hostname.localeCompare(b.hostname));
  for (const r of records) lines.push(`host-record=${r.hostname}.${spec.zone},${r.ip}`);
  for (const p of [...spec.ports].sort((a, b) => `${a.name}/${a.protocol}`.localeCompare(`${b.name}/${b.protocol}`))) {
    for (const r of records) lines.push(`srv-host=_${p.name}._${p.protocol}.${spec.zone},${r.hostname}.${spec.zone},${p.port}`);
  }
  return `${lines.join('\n')}\n`;
}

export function parseZone(text: string): Pick<ZoneSpec, 'records' | 'ports'> {
  const records: ZoneSpec['records'] = [];
  const ports = new Map<string, ZoneSpec['ports'][number]>();
  for (const line of text.split('\n')) {
    let m = /^host-record=([^.,]+)\.[^,]+,([\d.]+)$/.exec(line);
    if (m) records.push({ hostname: m[1]!, ip: m[2]! });
    m = /^srv-host=_([^.]+)\._(tcp|udp)\.[^,]+,[^,]+,(\d+)$/.exec(line);
    if (m) ports.set(`${m[1]}/${m[2]}`, { name: m[1]!, protocol: m[2] as 'tcp' | 'udp', port: Number(m[3]) });
  }
  return { records, ports: [...ports.values()] };
}

function mainConfig(dir: string, listen: ZoneSpec['listen']): string {
  return [
    '# proxmox-pods: HeadlessService zones (managed; do not edit)',
    `listen-address=${listen.address}`,
    `port=${listen.port}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'no-poll',
    `pid-file=${dir}/dnsmasq.pid`,
    `conf-dir=${dir}/zones,*.conf`,
    '',
  ].join('\n');
}

async function readFileOn(exec: Executor, file: string): Promise<string | undefined> {
  const r = await exec.run('cat', ['--', file], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout : undefined;
}

async function writeFileOn(exec: Executor, file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await exec.run('dd', [`of=${tmp}`, 'status=none'], { input: content });
  await exec.run('mv', ['-f', '--', tmp, file]);
}

async function pidOf(exec: Executor, dir: string): Promise<number | undefined> {
  const text = await readFileOn(exec, `${dir}/dnsmasq.pid`);
  const pid = Number(text?.trim());
  if (!pid) return undefined;
  const alive = await exec.run('kill', ['-0', String(pid)], { allowFailure: true });
  return alive.exitCode === 0 ? pid : undefined;
}

export async function stopServer(exec: Executor, loc: ZoneLocation): Promise<void> {
  const dir = instanceDir(loc);
  const pid = await pidOf(exec, dir);
  if (!pid) return;
  await exec.run('kill', [String(pid)], { allowFailure: true });
  for (let i = 0; i < 50 && (await pidOf(exec, dir)); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Starts the instance if it is not running (idempotent). */
export async function ensureServer(exec: Executor, loc: ZoneLocation): Promise<void> {
  const dir = instanceDir(loc);
  if (await pidOf(exec, dir)) return;
  const has = await exec.run('dnsmasq', ['--version'], { allowFailure: true });
  if (has.exitCode !== 0) throw new CapabilityError(exec.node, 'dnsmasq', 'install dnsmasq-base on the node');
  const r = await exec.run('dnsmasq', [`--conf-file=${dir}/dnsmasq.conf`], { allowFailure: true });
  if (r.exitCode !== 0) throw new ProxmoxPodsError(`node ${exec.node}: dnsmasq for ${loc.listen.address}:${loc.listen.port} did not start: ${r.stderr.trim()}`, 'E_DNS');
}

async function restart(exec: Executor, loc: ZoneLocation): Promise<void> {
  await stopServer(exec, loc);
  await ensureServer(exec, loc);
}

export async function upsertZone(exec: Executor, input: z.input<typeof zoneSpecSchema>): Promise<{ changed: boolean }> {
  const spec = parse(input);
  const dir = instanceDir(spec);
  await exec.run('mkdir', ['-p', '--', `${dir}/zones`]);
  const conf = mainConfig(dir, spec.listen);
  const zoneFile = `${dir}/zones/${spec.zone}.conf`;
  const wanted = renderZone(spec);
  const changed = (await readFileOn(exec, zoneFile)) !== wanted || (await readFileOn(exec, `${dir}/dnsmasq.conf`)) !== conf;
  if (changed) {
    await writeFileOn(exec, `${dir}/dnsmasq.conf`, conf);
    await writeFileOn(exec, zoneFile, wanted);
    await restart(exec, spec);
  } else {
    await ensureServer(exec, spec);
  }
  return { changed };
}

export async function readZone(exec: Executor, zone: string, loc: ZoneLocation): Promise<Pick<ZoneSpec, 'records' | 'ports'> | undefined> {
  parse({ zone, records: [], ports: [], listen: loc.listen, stateDir: loc.stateDir });
  const text = await readFileOn(exec, `${instanceDir(loc)}/zones/${zone}.conf`);
  return text === undefined ? undefined : parseZone(text);
}

/** Idempotent. The instance stops (and its directory goes) with its last zone. */
export async function removeZone(exec: Executor, zone: string, loc: ZoneLocation): Promise<void> {
  parse({ zone, records: [], ports: [], listen: loc.listen, stateDir: loc.stateDir });
  const dir = instanceDir(loc);
  await exec.run('rm', ['-f', '--', `${dir}/zones/${zone}.conf`]);
  const left = await exec.run('find', [`${dir}/zones`, '-name', '*.conf'], { allowFailure: true });
  if (left.exitCode === 0 && left.stdout.trim()) {
    await restart(exec, loc);
    return;
  }
  await stopServer(exec, loc);
  await exec.run('rm', ['-rf', '--', dir]);
}
