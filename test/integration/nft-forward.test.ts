// PortForward's engine with real traffic: client ns → node ns (DNAT in the provider's own nft table) → pod ns.
import { execa, type ResultPromise } from 'execa';
import { LocalExecutor } from '../../provider/host/executor';
import { addForward, listForwards, PortInUseError, pruneTable, removeForward, TABLE } from '../../provider/host/nft-forward';
import { CapabilityError } from '../../provider/errors';
import { Netns } from '../helpers/netns';

const SERVER = `
const net = require('net'), dgram = require('dgram');
net.createServer((s) => s.on('data', (d) => { s.write('tcp:' + d); s.end(); })).listen(80, '0.0.0.0');
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send('udp:' + m, r.port, r.address)); u.bind(80, '0.0.0.0');
`;
const TCP_CLIENT = `const s = require('net').connect(8080, '10.77.1.1'); s.setTimeout(1500, () => { console.log('timeout'); process.exit(2); });
s.on('connect', () => s.write('hi')); s.on('data', (d) => { console.log(String(d)); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(1); });`;
const UDP_CLIENT = `const u = require('dgram').createSocket('udp4'); setTimeout(() => { console.log('timeout'); process.exit(2); }, 1500);
u.on('message', (m) => { console.log(String(m)); process.exit(0); }); u.send('yo', 8080, '10.77.1.1');`;

describe('nftables port forward (real traffic through namespaces)', () => {
  const ns = new Netns();
  let node: string, pod: string, client: string;
  let server: ResultPromise;
  let exec: LocalExecutor;
  const run = (code: string) => execa('ip', ['netns', 'exec', client, process.execPath, '-e', code], { reject: false }).then((r) => String(r.stdout).trim());

  beforeAll(async () => {
    node = await ns.add('node');
    pod = await ns.add('pod');
    client = await ns.add('client');
    await ns.link(node, 'ppc0', '10.77.1.1', client, 'eth0', '10.77.1.2');
    await ns.link(node, 'ppp0', '10.77.2.1', pod, 'eth0', '10.77.2.2');
    await ns.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.77.1.1']);
    await ns.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    server = execa('ip', ['netns', 'exec', pod, process.execPath, '-e', SERVER], { reject: false });
    await new Promise((r) => setTimeout(r, 500));
    exec = new LocalExecutor('pve1', { netns: node });
    // Somebody else's table on the node: it must survive everything we do.
    await ns.exec(node, 'nft', ['-f', '-'], { input: 'table inet foreign {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 9999 counter accept comment "theirs"\n }\n}\n' });
  }, 30_000);

  afterAll(async () => {
    server?.kill('SIGKILL');
    await ns.cleanup();
  });

  test('no forward: nothing answers on the node port', async () => {
    expect(await run(TCP_CLIENT)).toMatch(/ECONNREFUSED|timeout/);
  });

  test('tcp and udp forwards carry traffic to the pod, idempotently', async () => {
    const spec = { id: 'web-http', listenPort: 8080, protocol: 'tcp' as const, targetIp: '10.77.2.2', targetPort: 80 };
    await addForward(exec, spec);
    await addForward(exec, spec); // same id + spec: no-op
    await addForward(exec, { ...spec, id: 'web-udp', protocol: 'udp' });
    expect(await run(TCP_CLIENT)).toBe('tcp:hi');
    expect(await run(UDP_CLIENT)).toBe('udp:yo');
    const listed = await listForwards(exec);
    expect(listed.map((f) => [f.id, f.protocol, f.complete]).sort()).toEqual([['web-http', 'tcp', true], ['web-udp', 'udp', true]]);
    const rules = String((await ns.exec(node, 'nft', ['list', 'table', 'ip', TABLE])).stdout);
    expect(rules.match(/dnat to 10\.77\.2\.2:80/g)).toHaveLength(4); // prerouting + output, per protocol: not duplicated
  });

  test('another owner of the same port is refused, naming the owner', async () => {
    await expect(addForward(exec, { id: 'other', listenPort: 8080, protocol: 'tcp', targetIp: '10.77.2.9', targetPort: 80 })).rejects.toThrow(PortInUseError);
    await expect(addForward(exec, { id: 'other', listenPort: 8080, protocol: 'tcp', targetIp: '10.77.2.9', targetPort: 80 })).rejects.toThrow(/already forwarded by PortForward web-http/);
  });

  test('a rule removed by hand shows as drift, and add repairs it', async () => {
    const handles = JSON.parse(String((await ns.exec(node, 'nft', ['-j', '-a', 'list', 'chain', 'ip', TABLE, 'prerouting'])).stdout)).nftables
      .filter((i: any) => i.rule?.comment?.startsWith('pp|web-http|')).map((i: any) => i.rule.handle);
    await ns.exec(node, 'nft', ['delete', 'rule', 'ip', TABLE, 'prerouting', 'handle', String(handles[0])]);
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')?.complete).toBe(false);
    await addForward(exec, { id: 'web-http', listenPort: 8080, protocol: 'tcp', targetIp: '10.77.2.2', targetPort: 80 });
    expect((await listForwards(exec)).find((f) => f.id === 'web-http')?.complete).toBe(true);
    expect(await run(TCP_CLIENT)).toBe('tcp:hi');
  });

  test('remove is idempotent, traffic stops, the table goes, the foreign table stays', async () => {
    expect(await removeForward(exec, 'web-http')).toBe(true);
    expect(await removeForward(exec, 'web-http')).toBe(false);
    expect(await run(TCP_CLIENT)).toMatch(/ECONNREFUSED|timeout/);
    expect(await run(UDP_CLIENT)).toBe('udp:yo');
    await removeForward(exec, 'web-udp');
    await pruneTable(exec);
    const tables = String((await ns.exec(node, 'nft', ['list', 'tables'])).stdout);
    expect(tables).not.toContain(TABLE);
    expect(String((await ns.exec(node, 'nft', ['list', 'table', 'inet', 'foreign'])).stdout)).toContain('comment "theirs"');
  });

  test('bad input and a node without forwarding get clear errors', async () => {
    await expect(addForward(exec, { id: 'x y', listenPort: 0, protocol: 'tcp', targetIp: '10.0.0.300', targetPort: 80 })).rejects.toThrow(/^id: must be/);
    await ns.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    await expect(addForward(exec, { id: 'x', listenPort: 81, protocol: 'tcp', targetIp: '10.77.2.2', targetPort: 80 })).rejects.toBeInstanceOf(CapabilityError);
  });
});
