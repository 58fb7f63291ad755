// HeadlessService engine: pure rendering/planning, then a real dnsmasq in a node namespace queried with dig from a
// client namespace. Pod changes must be picked up by SIGHUP (same pid), port changes by a restart.
import { execa, type ResultPromise } from 'execa';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../provider/errors';
import {
  DnsmasqZones, DnsServerError, parseZoneFiles, planZoneUpdate, renderMainConf, renderZoneConf, renderZoneHosts, zoneName, type ZoneRecords,
} from '../../provider/host/dnsmasq';
import { LocalExecutor } from '../../provider/host/executor';
import { Netns } from '../helpers/netns';
import { RecordingExecutor } from './support/recording';
import { requireTools } from './support/tools';

const ZONE = 'web.default.svc.cluster.local';
const recs = (pods: Array<[string, string]>, ports: ZoneRecords['ports'] = [{ name: 'http', port: 80, protocol: 'tcp' }]): ZoneRecords => ({
  pods: pods.map(([hostname, ip]) => ({ hostname, ip })),
  ports,
});

describe('dnsmasq zone files (pure)', () => {
  test('zoneName joins validated parts and names the bad one', () => {
    expect(zoneName({ service: 'web', namespace: 'default', domain: 'cluster.local' })).toBe(ZONE);
    expect(() => zoneName({ service: 'Web', namespace: 'default', domain: 'cluster.local' })).toThrow(/^service: /);
    expect(() => zoneName({ service: 'web', namespace: 'a/b', domain: 'cluster.local' })).toThrow(/^namespace: /);
    expect(() => zoneName({ service: 'web', namespace: 'default', domain: 'x\nserver=8.8.8.8' })).toThrow(/^domain: /);
  });

  test('hosts part: one line per ready pod giving it its own name and the zone name, sorted', () => {
    const r = recs([['web-1', '10.0.0.11'], ['web-0', '10.0.0.10']]);
    const text = renderZoneHosts(ZONE, r);
    expect(text.split('\n').filter((l) => !l.startsWith('#') && l)).toEqual([`10.0.0.10 web-0.${ZONE} ${ZONE}`, `10.0.0.11 web-1.${ZONE} ${ZONE}`]);
    expect(renderZoneHosts(ZONE, { ...r, pods: [...r.pods].reverse() })).toBe(text);
  });

  test('conf part: authority for the zone and one SRV per named port, targeting the zone name', () => {
    const conf = renderZoneConf(ZONE, recs([['web-0', '10.0.0.10']], [{ name: 'metrics', port: 9100, protocol: 'tcp' }, { name: 'dns', port: 53, protocol: 'udp' }]));
    expect(conf.split('\n').filter((l) => !l.startsWith('#') && l)).toEqual([
      `local=/${ZONE}/`,
      `srv-host=_dns._udp.${ZONE},${ZONE},53`,
      `srv-host=_metrics._tcp.${ZONE},${ZONE},9100`,
    ]);
    // Pods are not in the conf part: pod churn never needs a restart.
    expect(renderZoneConf(ZONE, recs([]))).toBe(renderZoneConf(ZONE, recs([['web-0', '10.0.0.10'], ['web-1', '10.0.0.11']])));
  });

  test('conf part with per-pod targets: one SRV per named port and ready pod, the ports also in a comment', () => {
    const r = recs([['web-1', '10.0.0.11'], ['web-0', '10.0.0.10']], [{ name: 'http', port: 80, protocol: 'tcp' }, { name: 'dns', port: 53, protocol: 'udp' }]);
    const conf = renderZoneConf(ZONE, r, 'pods');
    expect(conf.split('\n').filter((l) => l.startsWith('srv-host='))).toEqual([
      `srv-host=_dns._udp.${ZONE},web-0.${ZONE},53`,
      `srv-host=_dns._udp.${ZONE},web-1.${ZONE},53`,
      `srv-host=_http._tcp.${ZONE},web-0.${ZONE},80`,
      `srv-host=_http._tcp.${ZONE},web-1.${ZONE},80`,
    ]);
    // Pod churn does reach this part now (a restart), an IP change does not (a reload).
    expect(renderZoneConf(ZONE, { ...r, pods: [r.pods[0]!] }, 'pods')).not.toBe(conf);
    expect(renderZoneConf(ZONE, { ...r, pods: r.pods.map((p) => ({ ...p, ip: '10.9.9.9' })) }, 'pods')).toBe(conf);
    expect(parseZoneFiles(ZONE, renderZoneHosts(ZONE, r), conf)).toEqual({ pods: [...r.pods].reverse(), ports: [r.ports[1], r.ports[0]] });
    // No ready pod: no SRV line at all (as Kubernetes answers), but the ports still read back.
    const empty = { ...r, pods: [] };
    expect(renderZoneConf(ZONE, empty, 'pods')).not.toMatch(/srv-host/);
    expect(parseZoneFiles(ZONE, renderZoneHosts(ZONE, empty), renderZoneConf(ZONE, empty, 'pods'))).toEqual({ pods: [], ports: [r.ports[1], r.ports[0]] });
  });

  test('the ports comment is not trusted while pods exist: SRV lines removed by hand read as drift', () => {
    const r = recs([['web-0', '10.0.0.10']]);
    const edited = renderZoneConf(ZONE, r, 'pods').split('\n').filter((l) => !l.startsWith('srv-host=')).join('\n');
    expect(parseZoneFiles(ZONE, renderZoneHosts(ZONE, r), edited)).toEqual({ pods: r.pods, ports: [] });
  });

  test('parse reads back what render wrote and ignores lines that are not ours', () => {
    const r = recs([['web-0', '10.0.0.10'], ['web-1', '10.0.0.11']], [{ name: 'http', port: 80, protocol: 'tcp' }, { name: 'q', port: 5000, protocol: 'udp' }]);
    const hosts = `${renderZoneHosts(ZONE, r)}10.9.9.9 other.example other\n1.2.3.4 web-9.${ZONE}\n`;
    const conf = `${renderZoneConf(ZONE, r)}srv-host=_x._tcp.other.zone,other.zone,1\n`;
    const back = parseZoneFiles(ZONE, hosts, conf);
    expect(back.pods).toEqual(r.pods);
    expect([...back.ports].sort((a, b) => a.name.localeCompare(b.name))).toEqual(r.ports);
  });

  test('plan: only the hosts part changing is a reload; the conf part changing is a restart', () => {
    const a = { main: 'm1', hosts: 'h1', conf: 'c1' };
    expect(planZoneUpdate(a, a)).toEqual({ writeMain: false, writeHosts: false, writeConf: false, action: 'none' });
    expect(planZoneUpdate(a, { ...a, hosts: 'h2' })).toEqual({ writeMain: false, writeHosts: true, writeConf: false, action: 'reload' });
    expect(planZoneUpdate(a, { ...a, hosts: 'h2', conf: 'c2' })).toEqual({ writeMain: false, writeHosts: true, writeConf: true, action: 'restart' });
    expect(planZoneUpdate(a, { ...a, main: 'm2' })).toEqual({ writeMain: true, writeHosts: false, writeConf: false, action: 'restart' });
    expect(planZoneUpdate({ main: 'm1' }, a)).toEqual({ writeMain: false, writeHosts: true, writeConf: true, action: 'restart' });
  });

  test('main config binds only to the listen address and reads hosts/ and zones/ of its own directory', () => {
    const conf = renderMainConf('/s/10.0.0.1_53', { stateDir: '/s', listenAddress: '10.0.0.1', listenPort: 53 });
    for (const line of ['listen-address=10.0.0.1', 'port=53', 'bind-interfaces', 'no-resolv', 'no-hosts', 'addn-hosts=/s/10.0.0.1_53/hosts', 'conf-dir=/s/10.0.0.1_53/zones,*.conf', 'pid-file=/s/10.0.0.1_53/dnsmasq.pid']) {
      expect(conf.split('\n')).toContain(line);
    }
  });

  const exec = new LocalExecutor('unused');
  test.each([
    [{ listenAddress: '10.0.0.1\nuser=root' }, /^server\.listenAddress: /],
    [{ listenAddress: '10.0.0.1', listenPort: 0 }, /^server\.listenPort: /],
    [{ listenAddress: '10.0.0.1', stateDir: 'relative' }, /^server\.stateDir: /],
    [{ listenAddress: '10.0.0.1', stateDir: '/var/../etc' }, /^server\.stateDir: /],
    [{ listenAddress: '10.0.0.1', stateDir: '/x\nconf-file=/etc/passwd' }, /^server\.stateDir: /],
  ])('server %j is refused with an InputError naming the field', (server, msg) => {
    expect(() => new DnsmasqZones(exec, server as never)).toThrow(InputError);
    expect(() => new DnsmasqZones(exec, server as never)).toThrow(msg);
  });

  const zones = new DnsmasqZones(exec, { listenAddress: '10.0.0.1' });
  test.each([
    ['../etc', recs([]), /^zone: /],
    ['web', recs([]), /^zone: /],
    [`${ZONE}\nserver=/x/8.8.8.8`, recs([]), /^zone: /],
    [ZONE, recs([['web-0', '10.0.0.1,10.0.0.2']]), /^records\.pods\.0\.ip: /],
    [ZONE, recs([['web_0', '10.0.0.1']]), /^records\.pods\.0\.hostname: /],
    [ZONE, recs([['web-0', '10.0.0.1'], ['web-0', '10.0.0.2']]), /^records\.pods\.1\.hostname: duplicate/],
    [ZONE, recs([], [{ name: 'http', port: 80, protocol: 'tcp' }, { name: 'http', port: 81, protocol: 'tcp' }]), /^records\.ports\.1\.name: duplicate/],
    [ZONE, recs([], [{ name: 'http', port: 80, protocol: 'sctp' as 'tcp' }]), /^records\.ports\.0\.protocol: /],
    [ZONE, recs([]), /^options\.srvTarget: /, { srvTarget: 'pod' }],
  ])('upsertZone(%j) is refused before anything runs', async (zone, r, msg, options: object = {}) => { // a default, so jest does not take it for a done callback
    const rec = new RecordingExecutor(exec);
    await expect(new DnsmasqZones(rec, { listenAddress: '10.0.0.1' }).upsertZone(zone, r, options as never)).rejects.toThrow(msg);
    expect(rec.calls).toHaveLength(0);
    await expect(zones.upsertZone(zone, r, options as never)).rejects.toBeInstanceOf(InputError);
  });
});

describe('dnsmasq zones served from a node namespace (real dig queries)', () => {
  const ns = new Netns(`ppd${process.pid % 100000}`);
  let node: string, client: string;
  let exec: RecordingExecutor;
  let zones: DnsmasqZones;
  let stateDir: string;
  let stray: ResultPromise | undefined;

  /** dig from the client namespace; +short answers, sorted. */
  const dig = async (type: string, name: string, server = '10.89.1.1', port = 53): Promise<string[]> => {
    // No server at all (connection refused) is an empty answer too; dig then prints ';;' diagnostics and exits 9.
    const r = await execa('ip', ['netns', 'exec', client, 'dig', '+short', '+tries=1', '+time=2', '-p', String(port), `@${server}`, type, name], { reject: false });
    return String(r.stdout).split('\n').filter((l) => l && !l.startsWith(';')).sort();
  };
  const status = async (name: string): Promise<string> => {
    const r = await execa('ip', ['netns', 'exec', client, 'dig', '+tries=1', '+time=2', '-p', '53', '@10.89.1.1', 'A', name]);
    return /status: ([A-Z]+)/.exec(String(r.stdout))?.[1] ?? 'no answer';
  };
  // SIGHUP is handled in dnsmasq's event loop, not before `kill` returns: poll for the new answer (up to 10 s, for a
  // loaded machine; an answer that is right returns at once).
  const eventually = async (fn: () => Promise<unknown>, want: unknown): Promise<void> => {
    let got: unknown;
    for (let i = 0; i < 100; i++) {
      got = await fn();
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toEqual(want);
  };

  beforeAll(async () => {
    await requireTools('ip', 'dnsmasq', 'dig');
    stateDir = mkdtempSync(join(tmpdir(), 'pp-dns-'));
    // mkdtemp makes it 0700, and the provider never loosens a state directory it did not create.
    chmodSync(stateDir, 0o755);
    try {
      node = await ns.add('node');
      client = await ns.add('client');
      await ns.link(node, 'ppdn0', '10.89.1.1', client, 'ppdc0', '10.89.1.2');
      exec = new RecordingExecutor(new LocalExecutor('node1', { netns: node }));
      zones = new DnsmasqZones(exec, { stateDir, listenAddress: '10.89.1.1', listenPort: 53 });
    } catch (e) {
      await ns.cleanup();
      throw e;
    }
  });

  afterAll(async () => {
    stray?.kill('SIGKILL');
    // Stops our dnsmasq processes (they live in the namespace) and drops the namespaces.
    await ns.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('a new zone: A for the zone and each pod, SRV per named port, NXDOMAIN for unknown names in it', async () => {
    const r = await zones.upsertZone(ZONE, recs([['web-0', '10.0.0.10'], ['web-1', '10.0.0.11']]));
    expect(r.action).toBe('start');
    expect(await dig('A', ZONE)).toEqual(['10.0.0.10', '10.0.0.11']);
    expect(await dig('A', `web-1.${ZONE}`)).toEqual(['10.0.0.11']);
    expect(await dig('SRV', `_http._tcp.${ZONE}`)).toEqual([`0 0 80 ${ZONE}.`]);
    expect(await status(`web-7.${ZONE}`)).toBe('NXDOMAIN');
    expect(await zones.readZone(ZONE)).toEqual(recs([['web-0', '10.0.0.10'], ['web-1', '10.0.0.11']]));
  });

  test('pods come and go: SIGHUP (same process) and the answers follow', async () => {
    const pid = await zones.pid();
    expect(pid).toBeDefined();
    expect((await zones.upsertZone(ZONE, recs([['web-0', '10.0.0.10'], ['web-1', '10.0.0.11'], ['web-2', '10.0.0.12']]))).action).toBe('reload');
    await eventually(() => dig('A', ZONE), ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    expect(await dig('A', `web-2.${ZONE}`)).toEqual(['10.0.0.12']);

    expect((await zones.upsertZone(ZONE, recs([['web-1', '10.0.0.11'], ['web-2', '10.0.0.12']]))).action).toBe('reload');
    await eventually(() => dig('A', ZONE), ['10.0.0.11', '10.0.0.12']);
    await eventually(() => status(`web-0.${ZONE}`), 'NXDOMAIN');
    expect(await zones.pid()).toBe(pid);
  });

  test('unchanged records: nothing written, nothing signalled', async () => {
    const pid = await zones.pid();
    exec.calls.length = 0;
    expect((await zones.upsertZone(ZONE, recs([['web-2', '10.0.0.12'], ['web-1', '10.0.0.11']]))).action).toBe('none');
    expect(exec.count((c) => ['kill', 'dnsmasq'].includes(c.cmd) || (c.cmd === 'sh' && c.args[1]!.includes('mv -f')))).toBe(0);
    expect(exec.calls.length).toBeLessThanOrEqual(4);
    expect(await zones.pid()).toBe(pid);
  });

  test('ports change: restart, and the new SRV answers', async () => {
    const pid = await zones.pid();
    const ports: ZoneRecords['ports'] = [{ name: 'http', port: 8080, protocol: 'tcp' }, { name: 'gossip', port: 7946, protocol: 'udp' }];
    expect((await zones.upsertZone(ZONE, recs([['web-1', '10.0.0.11'], ['web-2', '10.0.0.12']], ports))).action).toBe('restart');
    expect(await zones.pid()).not.toBe(pid);
    expect(await dig('SRV', `_http._tcp.${ZONE}`)).toEqual([`0 0 8080 ${ZONE}.`]);
    expect(await dig('SRV', `_gossip._udp.${ZONE}`)).toEqual([`0 0 7946 ${ZONE}.`]);
    expect(await dig('A', ZONE)).toEqual(['10.0.0.11', '10.0.0.12']);
  });

  test('per-pod SRV targets: a pod joining or leaving changes the SRV set (restart), an IP change is a reload, a port change too', async () => {
    const KZ = 'kv.kube.svc.cluster.local';
    const pods = (...p: Array<[string, string]>) => recs(p, [{ name: 'peer', port: 2380, protocol: 'tcp' }]);
    const opts = { srvTarget: 'pods' } as const;
    expect((await zones.upsertZone(KZ, pods(['kv-0', '10.0.2.10']), opts)).action).toBe('restart');
    expect(await dig('SRV', `_peer._tcp.${KZ}`)).toEqual([`0 0 2380 kv-0.${KZ}.`]);

    expect((await zones.upsertZone(KZ, pods(['kv-0', '10.0.2.10'], ['kv-1', '10.0.2.11']), opts)).action).toBe('restart');
    expect(await dig('SRV', `_peer._tcp.${KZ}`)).toEqual([`0 0 2380 kv-0.${KZ}.`, `0 0 2380 kv-1.${KZ}.`]);
    expect(await dig('A', `kv-1.${KZ}`)).toEqual(['10.0.2.11']);
    // The other zone kept answering through the restarts.
    expect(await dig('SRV', `_http._tcp.${ZONE}`)).toEqual([`0 0 8080 ${ZONE}.`]);

    expect((await zones.upsertZone(KZ, pods(['kv-1', '10.0.2.11']), opts)).action).toBe('restart');
    expect(await dig('SRV', `_peer._tcp.${KZ}`)).toEqual([`0 0 2380 kv-1.${KZ}.`]);
    expect(await status(`kv-0.${KZ}`)).toBe('NXDOMAIN');

    const pid = await zones.pid();
    expect((await zones.upsertZone(KZ, pods(['kv-1', '10.0.2.21']), opts)).action).toBe('reload');
    await eventually(() => dig('A', `kv-1.${KZ}`), ['10.0.2.21']);
    expect(await zones.pid()).toBe(pid);

    expect((await zones.upsertZone(KZ, recs([['kv-1', '10.0.2.21']], [{ name: 'peer', port: 2390, protocol: 'tcp' }]), opts)).action).toBe('restart');
    expect(await dig('SRV', `_peer._tcp.${KZ}`)).toEqual([`0 0 2390 kv-1.${KZ}.`]);

    // No ready pod: no SRV, and the ports still read back (no false drift).
    await zones.upsertZone(KZ, pods(), opts);
    expect(await dig('SRV', `_peer._tcp.${KZ}`)).toEqual([]);
    expect(await zones.readZone(KZ)).toEqual(pods());
    expect((await zones.upsertZone(KZ, pods(), opts)).action).toBe('none');
    expect((await zones.removeZone(KZ)).action).toBe('restart');
  });

  test('a zone with no ready pods has no A records but keeps its SRV', async () => {
    const z = 'empty.default.svc.cluster.local';
    await zones.upsertZone(z, recs([]));
    expect(await dig('A', z)).toEqual([]);
    expect(await status(`web-0.${z}`)).toBe('NXDOMAIN');
    expect(await dig('SRV', `_http._tcp.${z}`)).toEqual([`0 0 80 ${z}.`]);
    expect(await zones.removeZone(z)).toEqual({ action: 'restart' });
  });

  test('a second zone; removing one leaves the other answering; removal is idempotent', async () => {
    const DB = 'db.prod.svc.cluster.local';
    await zones.upsertZone(DB, recs([['db-0', '10.0.1.10']], [{ name: 'pg', port: 5432, protocol: 'tcp' }]));
    expect(await dig('A', DB)).toEqual(['10.0.1.10']);
    expect(await zones.listZones()).toEqual([DB, ZONE]);

    expect((await zones.removeZone(ZONE)).action).toBe('restart');
    expect(await dig('A', ZONE)).toEqual([]);
    expect(await dig('SRV', `_http._tcp.${ZONE}`)).toEqual([]);
    expect(await zones.readZone(ZONE)).toBeUndefined();
    expect(await dig('A', `db-0.${DB}`)).toEqual(['10.0.1.10']);
    expect((await zones.removeZone(ZONE)).action).toBe('none');
    expect(await zones.listZones()).toEqual([DB]);
  });

  test('a dead server is started again by the next upsert, even with unchanged records', async () => {
    const pid = (await zones.pid())!;
    await execa('kill', ['-9', String(pid)]);
    await eventually(() => zones.running(), false);
    expect((await zones.upsertZone('db.prod.svc.cluster.local', recs([['db-0', '10.0.1.10']], [{ name: 'pg', port: 5432, protocol: 'tcp' }]))).action).toBe('start');
    expect(await dig('A', 'db.prod.svc.cluster.local')).toEqual(['10.0.1.10']);
  });

  test('stopServer keeps the zones; ensureServer brings them back and is idempotent', async () => {
    const DB = 'db.prod.svc.cluster.local';
    expect(await zones.stopServer()).toEqual({ action: 'stop' });
    expect(await zones.running()).toBe(false);
    expect(await dig('A', DB)).toEqual([]);
    expect(await zones.stopServer()).toEqual({ action: 'none' });
    expect(await zones.readZone(DB)).toEqual(recs([['db-0', '10.0.1.10']], [{ name: 'pg', port: 5432, protocol: 'tcp' }]));

    expect(await zones.ensureServer()).toEqual({ action: 'start' });
    expect(await dig('A', DB)).toEqual(['10.0.1.10']);
    expect(await dig('SRV', `_pg._tcp.${DB}`)).toEqual([`0 0 5432 ${DB}.`]);
    const pid = await zones.pid();
    expect(await zones.ensureServer()).toEqual({ action: 'none' });
    expect(await zones.pid()).toBe(pid);

    // A main config that is not ours (an older version, a hand edit) is rewritten and the instance restarted.
    writeFileSync(join(zones.dir, 'dnsmasq.conf'), `${renderMainConf(zones.dir, zones.server)}log-queries\n`);
    expect(await zones.ensureServer()).toEqual({ action: 'restart' });
    expect(await zones.pid()).not.toBe(pid);
    expect(await dig('A', DB)).toEqual(['10.0.1.10']);

    // An instance with no zones has nothing to serve.
    const idle = new DnsmasqZones(exec, { stateDir: join(stateDir, 'idle'), listenAddress: '10.89.1.1', listenPort: 5300 });
    expect(await idle.ensureServer()).toEqual({ action: 'none' });
    expect(await idle.running()).toBe(false);
  });

  test('a stale pid file naming another process: that process is never signalled', async () => {
    await zones.removeZone('db.prod.svc.cluster.local');
    stray = execa('ip', ['netns', 'exec', node, 'sleep', '300'], { reject: false });
    // Wait for it to be in the namespace (a fixed pause was too short on a loaded machine).
    let sleepPid = '';
    for (let i = 0; i < 100 && !sleepPid; i++) {
      sleepPid = String((await execa('ip', ['netns', 'pids', node])).stdout).trim().split(/\s+/)[0] ?? '';
      if (!sleepPid) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sleepPid).toMatch(/^\d+$/);
    mkdirSync(zones.dir, { recursive: true });
    writeFileSync(join(zones.dir, 'dnsmasq.pid'), `${sleepPid}\n`);
    expect(await zones.pid()).toBeUndefined();
    expect((await zones.upsertZone(ZONE, recs([['web-0', '10.0.0.10']]))).action).toBe('start');
    expect((await execa('kill', ['-0', sleepPid], { reject: false })).exitCode).toBe(0);
    expect(await dig('A', ZONE)).toEqual(['10.0.0.10']);
  });

  test('a hand edit is drift: readZone shows it (UTF-8 and all) and the next upsert puts the zone back with a reload', async () => {
    const pid = await zones.pid();
    writeFileSync(join(zones.dir, 'hosts', ZONE), `# édité à la main\n10.0.0.99 web-9.${ZONE} ${ZONE}\n`);
    expect(await zones.readZone(ZONE)).toEqual(recs([['web-9', '10.0.0.99']]));
    expect((await zones.upsertZone(ZONE, recs([['web-0', '10.0.0.10']]))).action).toBe('reload');
    expect(await zones.readZone(ZONE)).toEqual(recs([['web-0', '10.0.0.10']]));
    await eventually(() => dig('A', ZONE), ['10.0.0.10']);
    expect(await zones.pid()).toBe(pid);
  });

  test('another server on the same address:port: a DnsServerError that says so', async () => {
    const other = new DnsmasqZones(exec, { stateDir: join(stateDir, 'other'), listenAddress: '10.89.1.1', listenPort: 53 });
    const err = await other.upsertZone('x.default.svc.cluster.local', recs([])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsServerError);
    expect(String((err as Error).message)).toMatch(/node node1: dnsmasq for 10\.89\.1\.1:53 did not start: .*in use.*pick another listen address/);
    await other.removeZone('x.default.svc.cluster.local');
    expect(existsSync(other.dir)).toBe(false);
  });

  test('a state directory dnsmasq\'s user cannot read: a DnsServerError with the fix, not a zone silently without A records', async () => {
    const hidden = join(stateDir, 'private');
    mkdirSync(hidden, { mode: 0o700 });
    const other = new DnsmasqZones(exec, { stateDir: join(hidden, 'dns'), listenAddress: '10.89.1.1', listenPort: 5353 });
    await expect(other.upsertZone('x.default.svc.cluster.local', recs([]))).rejects.toThrow(/runs as "nobody", which cannot read .*\/private\/dns\/10\.89\.1\.1_5353\/hosts: make .* traversable/);
    await other.removeZone('x.default.svc.cluster.local');
  });

  test('the last zone removed: the server stops and its directory goes', async () => {
    const pid = (await zones.pid())!;
    expect((await zones.removeZone(ZONE)).action).toBe('stop');
    // Gone or a zombie waiting for init to reap it: either way no longer a dnsmasq with a command line.
    const cmdline = await execa('cat', [`/proc/${pid}/cmdline`], { reject: false });
    expect(cmdline.exitCode !== 0 || String(cmdline.stdout) === '').toBe(true);
    expect(await zones.running()).toBe(false);
    expect(existsSync(zones.dir)).toBe(false);
    expect(await dig('A', ZONE)).toEqual([]);
  });
});
