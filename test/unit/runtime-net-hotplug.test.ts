// The steps pve-container takes on a running CT's NIC change (emulator/runtime/net-hotplug.ts: LXC.pm update_net,
// hotplug_net, update_ipconfig), recorded over fake effects: their order and PVE's failure rules.
import { ipInCidr, unplugNet, updateNet, type NetEffects, type NetValues } from '../../emulator/runtime/net-hotplug';

function recorder(fail: (step: string) => boolean = () => false) {
  const steps: string[] = [];
  const warnings: string[] = [];
  const step = async (s: string, out = '') => {
    steps.push(s);
    if (fail(s)) throw new Error(`failed: ${s}`);
    return out;
  };
  const fx: NetEffects = {
    hostIp: async (args) => void (await step(`host ip ${args.join(' ')}`)),
    addDevice: async (dev, name) => void (await step(`add ${dev} as ${name}`)),
    inCt: (cmd, args) => step(`ct ${cmd} ${args.join(' ')}`, cmd === '/bin/cat' ? '0\n' : ''),
    dhclient: async (action, version, eth) => void (await step(`dhclient ${action} -${version} ${eth}`)),
    killDhclients: async (eth) => void (await step(`kill dhclients ${eth}`)),
    bridgeMtu: async (bridge) => (bridge.startsWith('vmbr') ? 1500 : undefined),
    warn: (m) => warnings.push(m),
  };
  return { fx, steps, warnings };
}

const nic = (over: NetValues = {}): NetValues => ({ name: 'eth0', bridge: 'vmbr0', hwaddr: 'BC:24:11:00:00:01', ip: '10.0.0.5/24', gw: '10.0.0.1', 'host-managed': 1, ...over });

describe('update_ipconfig', () => {
  test('a new address: added, the old one removed with promote_secondaries on for the moment', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic(), nic({ ip: '10.0.0.6/24' }));
    expect(r.steps).toEqual([
      'ct /sbin/ip -4 addr add 10.0.0.6/24 dev eth0',
      'ct /bin/cat /proc/sys/net/ipv4/conf/eth0/promote_secondaries',
      'ct /sbin/sysctl net.ipv4.conf.eth0.promote_secondaries=1',
      'ct /sbin/ip -4 addr del 10.0.0.5/24 dev eth0',
      'ct /sbin/sysctl net.ipv4.conf.eth0.promote_secondaries=0',
    ]);
  });

  test('a gateway outside the subnet gets an on-link route before the default route; the old one\'s goes', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic({ gw: '10.9.9.1' }), nic({ gw: '10.0.0.254' }));
    expect(r.steps).toEqual(['ct /sbin/ip -4 route replace default via 10.0.0.254', 'ct /sbin/ip -4 route del 10.9.9.1 dev eth0']);
    const s = recorder();
    await updateNet(s.fx, 100, 0, nic(), nic({ gw: '192.168.1.1' }));
    expect(s.steps).toEqual(['ct /sbin/ip -4 route add 192.168.1.1 dev eth0', 'ct /sbin/ip -4 route replace default via 192.168.1.1']);
  });

  test('an address that cannot be added is only warned about, and nothing else of that family changes', async () => {
    const r = recorder((s) => s.includes('addr add'));
    await updateNet(r.fx, 100, 0, nic(), nic({ ip: '10.0.0.6/24', gw: '10.0.0.2' }));
    expect(r.steps).toEqual(['ct /sbin/ip -4 addr add 10.0.0.6/24 dev eth0']);
    expect(r.warnings).toEqual(['failed: ct /sbin/ip -4 addr add 10.0.0.6/24 dev eth0']);
  });

  test('a gateway that cannot be set takes the new address back', async () => {
    const r = recorder((s) => s.includes('route replace'));
    await updateNet(r.fx, 100, 0, nic(), nic({ ip: '10.0.0.6/24', gw: '10.0.0.2' }));
    expect(r.steps).toEqual(['ct /sbin/ip -4 addr add 10.0.0.6/24 dev eth0', 'ct /sbin/ip -4 route replace default via 10.0.0.2', 'ct /sbin/ip -4 addr del 10.0.0.6/24 dev eth0']);
  });

  test('host-managed dhcp: dhclient starts for the new lease and stops for the old one', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic({ ip: 'dhcp', gw: undefined }), nic({ gw: undefined }));
    expect(r.steps).toEqual(['dhclient stop -4 eth0', 'ct /sbin/ip -4 addr add 10.0.0.5/24 dev eth0']);
    const s = recorder();
    await updateNet(s.fx, 100, 0, nic({ gw: undefined }), nic({ ip: 'dhcp', gw: undefined }));
    expect(s.steps.slice(0, 1)).toEqual(['dhclient start -4 eth0']);
  });

  test('IPv6 is its own family, after IPv4', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic(), nic({ ip6: 'fd00::5/64', gw6: 'fd00::1' }));
    expect(r.steps).toEqual(['ct /sbin/ip -6 addr add fd00::5/64 dev eth0', 'ct /sbin/ip -6 route replace default via fd00::1']);
  });
});

describe('update_net', () => {
  test('another MAC re-creates the NIC on its bridge, moves it in, and adds every address again', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic(), nic({ hwaddr: 'BC:24:11:00:00:02' }));
    expect(r.steps).toEqual([
      'host ip link delete dev veth100i0',
      'host ip link add name veth100i0 mtu 1500 type veth peer name veth100i0p mtu 1500 addr BC:24:11:00:00:02',
      'host ip link set veth100i0 up',
      'host ip link set veth100i0p up',
      'host ip link set veth100i0 master vmbr0',
      'host ip link set veth100i0 up',
      'add veth100i0p as eth0',
      'ct /sbin/ip link set eth0 up',
      'ct /sbin/ip -4 addr add 10.0.0.5/24 dev eth0',
      'ct /sbin/ip -4 route replace default via 10.0.0.1',
    ]);
  });

  test('another bridge re-plugs the host side; a failure plugs the old one back and is the error', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic(), nic({ bridge: 'vmbr1' }));
    expect(r.steps).toEqual(['host ip link set veth100i0 nomaster', 'host ip link set veth100i0 master vmbr1', 'host ip link set veth100i0 up']);
    const s = recorder();
    await expect(updateNet(s.fx, 100, 0, nic(), nic({ bridge: 'nope' }))).rejects.toThrow(/bridge 'nope' does not exist/);
    expect(s.steps).toEqual(['host ip link set veth100i0 nomaster', 'host ip link set veth100i0 master vmbr0', 'host ip link set veth100i0 up']);
  });

  test('link_down takes the host side down', async () => {
    const r = recorder();
    await updateNet(r.fx, 100, 0, nic(), nic({ link_down: 1 }));
    expect(r.steps).toEqual(['host ip link set veth100i0 nomaster', 'host ip link set veth100i0 master vmbr0', 'host ip link set veth100i0 down']);
  });

  test('a veth already gone is what a delete wants; any other failure of the delete is the error', async () => {
    const gone = recorder();
    gone.fx.hostIp = async (args) => { throw new Error(`Command failed: ip ${args.join(' ')}\nCannot find device "veth100i1"`); };
    await expect(unplugNet(gone.fx, 100, 1, nic({ name: 'eth1' }))).resolves.toBeUndefined();
    const refused = recorder();
    refused.fx.hostIp = async () => { throw new Error('RTNETLINK answers: Operation not permitted'); };
    await expect(unplugNet(refused.fx, 100, 1, nic({ name: 'eth1' }))).rejects.toThrow(/Operation not permitted/);
    await expect(updateNet(refused.fx, 100, 0, nic(), nic({ hwaddr: 'BC:24:11:00:00:02' }))).rejects.toThrow(/Operation not permitted/);
  });

  test('a removed host-managed NIC: its dhclients are killed and its veth deleted', async () => {
    const r = recorder();
    await unplugNet(r.fx, 100, 1, nic({ name: 'eth1', ip: 'dhcp' }));
    expect(r.steps).toEqual(['kill dhclients eth1', 'host ip link delete dev veth100i1']);
  });
});

test('is_ip_in_cidr for both families', () => {
  expect(ipInCidr('10.0.0.1', '10.0.0.5/24', 4)).toBe(true);
  expect(ipInCidr('10.0.1.1', '10.0.0.5/24', 4)).toBe(false);
  expect(ipInCidr('fd00::1', 'fd00::5/64', 6)).toBe(true);
  expect(ipInCidr('fd01::1', 'fd00::5/64', 6)).toBe(false);
  expect(ipInCidr('10.0.0.1', 'dhcp', 4)).toBe(false);
});
