// PortForward engine with real traffic: client ns → node ns (DNAT in the provider's own nft table) → pod ns, with
// TCP and UDP echo servers in the pod; a foreign table on the node must come through every operation unchanged.
import { execa, type ResultPromise } from 'execa';
import { CapabilityError, InputError } from '../../provider/errors';
import { LocalExecutor } from '../../provider/host/executor';
import {
  addForward, decodeComment, encodeComment, forwardRules, listensOverlap, listForwards, parseForwardSpec, PortInUseError, removeForward, TABLE, type ForwardSpec,
} from '../../provider/host/nftables';
import { Netns } from '../helpers/netns';
import { RecordingExecutor } from './support/recording';
import { requireTools } from './support/tools';

const spec = (over: Partial<ForwardSpec> = {}): ForwardSpec => ({ id: 'web-http', listenPort: 8080, protocol: 'tcp', targetIp: '10.88.2.2', targetPort: 80, masquerade: true, ...over });

describe('nftables forward rules (pure)', () => {
  test('rules: DNAT in prerouting and output, masquerade only for connections this forward DNATed', () => {
    const c = 'comment "pp|web-http|tcp|*|8080|10.88.2.2|80|m"';
    expect(forwardRules(spec())).toEqual([
      `add rule ip proxmox_pods prerouting fib daddr type local tcp dport 8080 dnat to 10.88.2.2:80 ${c}`,
      `add rule ip proxmox_pods output fib daddr type local tcp dport 8080 dnat to 10.88.2.2:80 ${c}`,
      `add rule ip proxmox_pods postrouting ip daddr 10.88.2.2 tcp dport 80 ct status dnat ct original proto-dst 8080 masquerade ${c}`,
    ]);
    const udp = forwardRules(spec({ protocol: 'udp', listenAddress: '10.88.1.1', masquerade: false }));
    expect(udp).toHaveLength(2);
    expect(udp[0]).toMatch(/^add rule ip proxmox_pods prerouting ip daddr 10\.88\.1\.1 udp dport 8080 dnat to/);
  });

  test('comments round-trip; foreign or malformed comments are not ours', () => {
    for (const s of [spec(), spec({ listenAddress: '192.168.0.1', protocol: 'udp', masquerade: false, id: 'a.b:c-d_e' })]) expect(decodeComment(encodeComment(s))).toEqual(s);
    for (const c of ['theirs', 'pp|x|tcp|*|8080|10.0.0.1|80', 'pp|x|icmp|*|1|10.0.0.1|80|m', 'pp|x|tcp|*|99999|10.0.0.1|80|m']) expect(decodeComment(c)).toBeUndefined();
    expect(Buffer.byteLength(encodeComment(spec({ id: 'x'.repeat(64), listenAddress: '255.255.255.255', targetIp: '255.255.255.255', listenPort: 65535, targetPort: 65535 })))).toBeLessThan(128);
    // With the owner field: still within nft's 128 characters at the longest.
    const owned = spec({ id: 'x'.repeat(64), listenAddress: '255.255.255.255', targetIp: '255.255.255.255', listenPort: 65535, targetPort: 65535, owner: '0123abcd' });
    expect(decodeComment(encodeComment(owned))).toEqual(owned);
    expect(Buffer.byteLength(encodeComment(owned))).toBeLessThanOrEqual(128);
  });

  test.each([
    [{ targetIp: '10.0.0.1; flush ruleset' }, /^targetIp: /],
    [{ targetIp: '10.0.0.256' }, /^targetIp: /],
    [{ listenAddress: '0.0.0.0/0' }, /^listenAddress: /],
    [{ listenPort: 0 }, /^listenPort: must be 1–65535/],
    [{ targetPort: 70000 }, /^targetPort: must be 1–65535/],
    [{ protocol: 'sctp' }, /^protocol: must be "tcp" or "udp"/],
    [{ id: 'a" ; flush ruleset ; "' }, /^id: /],
    [{ id: 'a|b' }, /^id: /],
    [{ extra: 1 }, /extra|Unrecognized/],
  ])('rejects %j with an InputError naming the field', (over, msg) => {
    const bad = { ...spec(), ...over };
    expect(() => parseForwardSpec(bad)).toThrow(InputError);
    expect(() => forwardRules(bad as ForwardSpec)).toThrow(msg);
  });

  test('overlap: same protocol and port, and a wildcard or equal address', () => {
    expect(listensOverlap(spec(), spec({ id: 'b' }))).toBe(true);
    expect(listensOverlap(spec(), spec({ id: 'b', listenAddress: '10.0.0.1' }))).toBe(true);
    expect(listensOverlap(spec({ listenAddress: '10.0.0.2' }), spec({ id: 'b', listenAddress: '10.0.0.1' }))).toBe(false);
    expect(listensOverlap(spec(), spec({ id: 'b', protocol: 'udp' }))).toBe(false);
    expect(listensOverlap(spec(), spec({ id: 'b', listenPort: 8081 }))).toBe(false);
  });
});

const SERVER = `
const net = require('net'), dgram = require('dgram');
net.createServer((s) => s.on('data', (d) => { s.end('tcp:' + d + ':' + s.remoteAddress); })).listen(80, '0.0.0.0');
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send('udp:' + m + ':' + r.address, r.port, r.address)); u.bind(80, '0.0.0.0');
setInterval(() => {}, 1 << 30);
`;
const TCP_CLIENT = `const s = require('net').connect(8080, '10.88.1.1'); s.setTimeout(1500, () => { console.log('timeout'); process.exit(2); });
s.on('connect', () => s.write('hi')); s.on('data', (d) => { console.log(String(d)); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(1); });`;
const UDP_CLIENT = `const u = require('dgram').createSocket('udp4'); setTimeout(() => { console.log('timeout'); process.exit(2); }, 1500);
u.on('message', (m) => { console.log(String(m)); process.exit(0); }); u.send('yo', 8080, '10.88.1.1');`;
const FOREIGN = 'table inet foreign {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    tcp dport 9999 counter accept comment "theirs"\n  }\n}\ntable ip nat {\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    tcp dport 7777 dnat to 10.88.2.2:22\n  }\n}\n';

describe('nftables port forward (real traffic through namespaces)', () => {
  const ns = new Netns(`pph${process.pid % 100000}`);
  let node: string, pod: string, client: string;
  let server: ResultPromise | undefined;
  let exec: LocalExecutor;
  let foreignBefore: string;
  const fromClient = (code: string) => execa('ip', ['netns', 'exec', client, process.execPath, '-e', code], { reject: false }).then((r) => String(r.stdout).trim());
  const foreign = async () => String((await ns.exec(node, 'nft', ['list', 'ruleset'])).stdout).split(/\n(?=table )/).filter((t) => !t.startsWith(`table ip ${TABLE} `)).join('\n');
  const ourTable = async () => (await ns.exec(node, 'nft', ['list', 'table', 'ip', TABLE]).catch(() => undefined))?.stdout;

  beforeAll(async () => {
    await requireTools('ip', 'nft', 'unshare');
    node = await ns.add('node');
    pod = await ns.add('pod');
    client = await ns.add('client');
    await ns.link(node, 'ppc0', '10.88.1.1', client, 'eth0', '10.88.1.2');
    await ns.link(node, 'ppp0', '10.88.2.1', pod, 'eth0', '10.88.2.2');
    await ns.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.88.1.1']);
    await ns.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    server = execa('ip', ['netns', 'exec', pod, process.execPath, '-e', SERVER], { reject: false });
    for (let i = 0; i < 50; i++) {
      const ss = await ns.exec(pod, 'ss', ['-ltn']).catch(() => undefined);
      if (String(ss?.stdout ?? '').includes(':80 ')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    exec = new LocalExecutor('pve1', { netns: node });
    await ns.exec(node, 'nft', ['-f', '-'], { input: FOREIGN });
    foreignBefore = await foreign();
    expect(foreignBefore).toContain('theirs');
  }, 30_000);

  afterEach(async () => {
    // Every operation leaves everybody else's tables exactly as they were.
    if (node) expect(await foreign()).toBe(foreignBefore);
  });

  afterAll(async () => {
    server?.kill('SIGKILL');
    await server;
    await ns.cleanup();
  });

  test('no forward: nothing answers on the node port', async () => {
    expect(await fromClient(TCP_CLIENT)).toMatch(/ECONNREFUSED|timeout/);
  });

  test('TCP and UDP pass through the forwards (masqueraded: the pod has no route back to the client)', async () => {
    await addForward(exec, spec());
    await addForward(exec, spec({ id: 'web-udp', protocol: 'udp' }));
    expect(await fromClient(TCP_CLIENT)).toBe('tcp:hi:10.88.2.1');
    expect(await fromClient(UDP_CLIENT)).toBe('udp:yo:10.88.2.1');
    expect(await listForwards(exec)).toEqual([{ ...spec(), complete: true }, { ...spec({ id: 'web-udp', protocol: 'udp' }), complete: true }]);
  });

  test('adding the same id and spec again changes nothing', async () => {
    const before = await ourTable();
    const rec = new RecordingExecutor(exec);
    await addForward(rec, spec());
    expect(rec.count((c) => c.cmd === 'nft' && c.args.includes('-f'))).toBe(0);
    expect(await ourTable()).toBe(before);
    expect(String(before).match(/dnat to 10\.88\.2\.2:80/g)).toHaveLength(4);
  });

  test('another id on the same listen port is refused, naming the owner', async () => {
    const err = await addForward(exec, spec({ id: 'intruder', listenAddress: '10.88.1.1', targetPort: 81 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect((err as Error).message).toBe('node pve1: tcp port 10.88.1.1:8080 is already forwarded by PortForward web-http; pick another listenPort or remove that forward');
    expect((await listForwards(exec)).map((f) => f.id)).toEqual(['web-http', 'web-udp']);
  });

  test('a rule removed by hand shows as drift and the next add restores it', async () => {
    const list = JSON.parse(String((await ns.exec(node, 'nft', ['-j', 'list', 'chain', 'ip', TABLE, 'prerouting'])).stdout)) as { nftables: Array<{ rule?: { handle: number; comment?: string } }> };
    const handle = list.nftables.find((i) => i.rule?.comment?.startsWith('pp|web-http|'))!.rule!.handle;
    await ns.exec(node, 'nft', ['delete', 'rule', 'ip', TABLE, 'prerouting', 'handle', String(handle)]);
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')?.complete).toBe(false);
    expect(await fromClient(TCP_CLIENT)).toMatch(/ECONNREFUSED|timeout/);
    await addForward(exec, spec());
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')?.complete).toBe(true);
    expect(await fromClient(TCP_CLIENT)).toBe('tcp:hi:10.88.2.1');
    expect(String(await ourTable()).match(/pp\|web-http\|/g)).toHaveLength(3);
  });

  test('a DNAT rule edited by hand under our comment reads as the forward it now is, and the next add restores it', async () => {
    const list = JSON.parse(String((await ns.exec(node, 'nft', ['-j', 'list', 'chain', 'ip', TABLE, 'prerouting'])).stdout)) as { nftables: Array<{ rule?: { handle: number; comment?: string } }> };
    const rule = list.nftables.find((i) => i.rule?.comment?.startsWith('pp|web-http|'))!.rule!;
    await ns.exec(node, 'nft', ['replace', 'rule', 'ip', TABLE, 'prerouting', 'handle', String(rule.handle), 'fib', 'daddr', 'type', 'local', 'tcp', 'dport', '8080', 'dnat', 'to', '10.88.2.9:81', 'comment', `"${rule.comment!}"`]);
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')).toEqual({ ...spec({ targetIp: '10.88.2.9', targetPort: 81 }), complete: false });
    await addForward(exec, spec());
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')).toEqual({ ...spec(), complete: true });
    expect(await fromClient(TCP_CLIENT)).toBe('tcp:hi:10.88.2.1');
  });

  test('a changed spec replaces the rules; without masquerade the pod sees the client (given a route back)', async () => {
    await addForward(exec, spec({ masquerade: false }));
    expect(await fromClient(TCP_CLIENT)).toMatch(/ECONNREFUSED|timeout/); // the pod cannot answer 10.88.1.2 yet
    await ns.exec(pod, 'ip', ['route', 'add', 'default', 'via', '10.88.2.1']);
    try {
      expect(await fromClient(TCP_CLIENT)).toBe('tcp:hi:10.88.1.2');
    } finally {
      await ns.exec(pod, 'ip', ['route', 'del', 'default']);
    }
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')).toEqual({ ...spec({ masquerade: false }), complete: true });
    expect(String(await ourTable()).match(/pp\|web-http\|/g)).toHaveLength(2);
    await addForward(exec, spec());
  });

  test('removeForward stops the traffic, is idempotent, and the last one takes the table away', async () => {
    expect(await removeForward(exec, 'web-http')).toBe(true);
    expect(await fromClient(TCP_CLIENT)).toMatch(/ECONNREFUSED|timeout/);
    expect(await fromClient(UDP_CLIENT)).toBe('udp:yo:10.88.2.1');
    expect(await removeForward(exec, 'web-http')).toBe(false);
    expect(await removeForward(exec, 'web-udp')).toBe(true);
    expect(await fromClient(UDP_CLIENT)).toBe('timeout');
    expect(await ourTable()).toBeUndefined();
    expect(await removeForward(exec, 'web-udp')).toBe(false);
    expect(await listForwards(exec)).toEqual([]);
    await expect(removeForward(exec, 'bad id')).rejects.toThrow(InputError);
  });

  test('forwards of the same name from two stacks: told apart by owner, neither replaces or removes the other', async () => {
    const dev = spec({ owner: 'aaaaaaaa' });
    const staging = spec({ owner: 'bbbbbbbb', listenPort: 8081 });
    await addForward(exec, dev);
    await addForward(exec, staging);
    expect((await listForwards(exec)).map((f) => [f.id, f.owner, f.listenPort])).toEqual([['web-http', 'aaaaaaaa', 8080], ['web-http', 'bbbbbbbb', 8081]]);
    // Same port from another stack: refused, saying it is another stack's.
    const err = await addForward(exec, spec({ owner: 'cccccccc' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect((err as Error).message).toMatch(/already forwarded by PortForward web-http of another stack \(owner tag aaaaaaaa;/);
    expect(await removeForward(exec, 'web-http', 'bbbbbbbb')).toBe(true);
    expect(await fromClient(TCP_CLIENT)).toBe('tcp:hi:10.88.2.1');
    // A delete without owner (state from before owner records) removes only rules without owner.
    expect(await removeForward(exec, 'web-http')).toBe(false);
    expect(await removeForward(exec, 'web-http', 'aaaaaaaa')).toBe(true);
    expect(await ourTable()).toBeUndefined();
  });

  test('rules made before owner records are taken over by the same forward once it has an owner', async () => {
    await addForward(exec, spec());
    await addForward(exec, spec({ owner: 'aaaaaaaa' }));
    expect((await listForwards(exec)).map((f) => [f.id, f.owner])).toEqual([['web-http', 'aaaaaaaa']]);
    // A renamed stack: the forward moves to its new owner in one transaction.
    await addForward(exec, spec({ owner: 'dddddddd' }), { previousOwner: 'aaaaaaaa' });
    expect((await listForwards(exec)).map((f) => [f.id, f.owner])).toEqual([['web-http', 'dddddddd']]);
    expect(await removeForward(exec, 'web-http', 'aaaaaaaa')).toBe(false);
    await addForward(exec, spec({ owner: 'aaaaaaaa' }), { previousOwner: 'dddddddd' });
    expect(await removeForward(exec, 'web-http', 'aaaaaaaa')).toBe(true);
    expect(await ourTable()).toBeUndefined();
  });

  test('parallel adds on one node: exactly one wins a contested port', async () => {
    const results = await Promise.allSettled([addForward(exec, spec({ id: 'a' })), addForward(exec, spec({ id: 'b' })), addForward(exec, spec({ id: 'c', listenPort: 8081 }))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(PortInUseError);
    expect((await listForwards(exec)).map((f) => f.id)).toEqual(['a', 'c']);
    await removeForward(exec, 'a');
    await removeForward(exec, 'c');
    expect(await ourTable()).toBeUndefined();
  });

  test('IPv4 forwarding off on the node: a CapabilityError with the fix', async () => {
    await ns.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    try {
      await expect(addForward(exec, spec())).rejects.toThrow(CapabilityError);
      await expect(addForward(exec, spec())).rejects.toThrow(/node pve1: IPv4 forwarding \(net\.ipv4\.ip_forward\) is not available; enable it with `sysctl -w/);
      expect(await ourTable()).toBeUndefined();
    } finally {
      await ns.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    }
  });
});
