// HeadlessService: a real dnsmasq inside a namespace that stands for the node, answering real DNS queries (dig) as
// members come and go and ports change.
import { execa } from 'execa';
import { withOperation } from '../../provider/diagnostics';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { headlessServiceModule as m } from '../../provider/resources/headless-service';
import type { HeadlessServiceInputs } from '../../provider/resources/headless-service/schema';
import { setStackConfig } from '../../provider/resources/common/connection';
import { Netns } from '../helpers/netns';

describe('HeadlessService with real dnsmasq', () => {
  const ns = new Netns();
  let node: string;
  let stateDir: string;
  const dig = async (type: string, name: string) =>
    String((await execa('ip', ['netns', 'exec', node, 'dig', '@127.0.0.53', '-p', '5353', '+short', '+time=1', '+tries=2', type, name], { reject: false })).stdout).trim().split('\n').filter(Boolean).sort();
  const inputs = async (news: Record<string, unknown>) => {
    const r = await m.check({}, { name: 'web', node: 'pve1', listen: { address: '127.0.0.53', port: 5353 }, ports: [{ name: 'http', port: 80 }], ...news });
    expect(r.failures).toBeUndefined();
    return r.inputs as HeadlessServiceInputs;
  };

  beforeAll(async () => {
    for (const tool of ['dnsmasq', 'dig']) if ((await execa('sh', ['-c', `command -v ${tool}`], { reject: false })).exitCode !== 0) throw new Error(`${tool} is missing: run the tests through \`npm test\``);
    node = await ns.add('dns');
    stateDir = await mkdtemp(path.join(tmpdir(), 'pp-dns-'));
    await chmod(stateDir, 0o755); // dnsmasq runs as nobody and must read its zone files
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve1: { netns: node } }), 'proxmox-pods:dnsStateDir': stateDir });
  });
  afterAll(async () => {
    setStackConfig({});
    await ns.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  test('A and SRV records follow the members and ports; destroy stops the server', async () => {
    const v1 = await inputs({ pods: [{ name: 'web-0', ip: '10.40.0.10' }, { name: 'web-1', ip: '10.40.0.11' }, { name: 'web-2', ip: '10.40.0.12', ready: false }] });
    const { id, outs } = await m.create(v1);
    expect(outs.zone).toBe('web.default.svc.cluster.local');
    expect(await dig('A', 'web-0.web.default.svc.cluster.local')).toEqual(['10.40.0.10']);
    expect(await dig('A', 'web-2.web.default.svc.cluster.local')).toEqual([]); // not ready: no record
    // One SRV per named port, pointing at the zone, which resolves to every ready member.
    expect(await dig('SRV', '_http._tcp.web.default.svc.cluster.local')).toEqual(['0 0 80 web.default.svc.cluster.local.']);
    expect(await dig('A', 'web.default.svc.cluster.local')).toEqual(['10.40.0.10', '10.40.0.11'])

    // Scale up: a new member; change the port.
    const v2 = await inputs({ ports: [{ name: 'http', port: 8080 }], pods: [...v1.pods.slice(0, 2), { name: 'web-3', ip: '10.40.0.13' }] });
    expect(m.diff(id, outs, v2)).toMatchObject({ changes: true, replaces: [] });
    const { outs: o2 } = await m.update!(id, outs, v2);
    expect(await dig('A', 'web-3.web.default.svc.cluster.local')).toEqual(['10.40.0.13']);
    expect(await dig('SRV', '_http._tcp.web.default.svc.cluster.local')).toEqual(['0 0 8080 web.default.svc.cluster.local.']);
    expect(await dig('A', 'web.default.svc.cluster.local')).toEqual(['10.40.0.10', '10.40.0.11', '10.40.0.13']);

    // Kubernetes-style SRV (one per member) on request.
    const { outs: o3 } = await m.update!(id, o2, { ...v2, srvTarget: 'pods' });
    expect(await dig('SRV', '_http._tcp.web.default.svc.cluster.local')).toEqual(['0 0 8080 web-0.web.default.svc.cluster.local.', '0 0 8080 web-1.web.default.svc.cluster.local.', '0 0 8080 web-3.web.default.svc.cluster.local.']);
    expect(o3.srvTarget).toBe('pods');

    // Untouched, refresh hands back no inputs (Pulumi keeps its own): also with ports in another order than the zone
    // file's sorted one.
    const { outs: o4 } = await m.update!(id, o3, { ...v2, srvTarget: 'pods', ports: [{ name: 'web', port: 8081, protocol: 'tcp' }, { name: 'http', port: 8080, protocol: 'tcp' }] });
    expect((await m.read!(id, o4))!.inputs).toBeUndefined();
    // A record removed on the node is seen as that member not ready, the rest as recorded.
    const hostsFile = path.join(stateDir, '127.0.0.53_5353', 'hosts', o4.zone);
    await writeFile(hostsFile, (await readFile(hostsFile, 'utf8')).split('\n').filter((l) => !l.includes(' web-1.')).join('\n'));
    const read = (await m.read!(id, o4))!;
    expect(read.inputs?.pods).toEqual([{ name: 'web-0', ip: '10.40.0.10', ready: true }, { name: 'web-1', ip: '10.40.0.11', ready: false }, { name: 'web-3', ip: '10.40.0.13', ready: true }]);
    expect(read.inputs).not.toHaveProperty('node');

    await m.delete(id, o2);
    await m.delete(id, o2); // idempotent
    // The last zone went: the server is stopped and its state removed.
    expect((await dig('A', 'web-0.web.default.svc.cluster.local')).join(' ')).toMatch(/no servers could be reached/);
    expect((await execa('ls', [stateDir])).stdout).toBe('');
  });

  test('bad input names the field', async () => {
    const r = await m.check({}, { name: 'Web', listen: { address: '999.1.1.1' }, ports: [{ name: 'http', port: 0 }], pods: [{ name: 'a', ip: '1.2.3.4' }, { name: 'a', ip: '1.2.3.5' }] });
    expect((r.failures ?? []).map((f) => f.property).sort()).toEqual(['listen.address', 'name', 'pods', 'ports[0].port']);
  });

  test('a zone records its owner: another stack\'s service of the same name is refused and cannot remove it', async () => {
    const dev = { project: 'shop', stack: 'dev', resource: 'db' };
    const staging = { project: 'shop', stack: 'staging', resource: 'db' };
    const mine = await inputs({ name: 'db', owner: dev, pods: [{ name: 'db-0', ip: '10.40.0.20' }] });
    const { id, outs } = await m.create(mine);
    const ownerFile = path.join(stateDir, '127.0.0.53_5353', 'owners', 'db.default.svc.cluster.local');
    expect(String((await execa('cat', [ownerFile])).stdout).trim()).toBe('shop/dev/HeadlessService/db');
    // Retried create (answer lost): the same owner converges its own zone.
    await m.create(mine);
    const theirs = await inputs({ name: 'db', owner: staging, pods: [{ name: 'db-0', ip: '10.40.0.99' }] });
    await expect(m.create(theirs)).rejects.toThrow(/DNS zone db\.default\.svc\.cluster\.local on pve1 is owned by HeadlessService "db" of stack shop\/dev, not by HeadlessService "db" of stack shop\/staging/);
    expect(await dig('A', 'db-0.db.default.svc.cluster.local')).toEqual(['10.40.0.20']);
    expect(await m.read!(id, { ...outs, owner: staging })).toBeUndefined();
    const { warnings } = await withOperation('HeadlessService db', () => m.delete(id, { ...outs, owner: staging }));
    expect(warnings.join('\n')).toMatch(/DNS zone db\.default\.svc\.cluster\.local on pve1 is owned by .*shop\/dev.*left alone/);
    expect(await dig('A', 'db-0.db.default.svc.cluster.local')).toEqual(['10.40.0.20']);
    // A renamed stack: its update hands the zone over.
    const renamed = { ...mine, owner: { ...dev, stack: 'qa' } };
    const { outs: moved } = await m.update!(id, outs, renamed);
    expect(String((await execa('cat', [ownerFile])).stdout).trim()).toBe('shop/qa/HeadlessService/db');
    await m.delete(id, moved);
    expect((await execa('test', ['-e', ownerFile], { reject: false })).exitCode).not.toBe(0);
  });
});
