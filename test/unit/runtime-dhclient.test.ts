// Pure parts of the lxc runtime's host-managed DHCP (emulator/runtime/dhclient.ts): which NICs vm_start hands to
// dhclient, and manage_dhclient's command line.
import { dhclientArgv, managedDhcpNics } from '../../emulator/runtime/dhclient';

describe('host-managed DHCP (pve-container LXC.pm vm_start, manage_dhclient)', () => {
  it('takes host-managed NICs with ip=dhcp, then those with ip6=dhcp, in Perl sort order; never static or manual', () => {
    expect(managedDhcpNics({
      net2: 'name=eth2,bridge=vmbr0,ip=dhcp,ip6=dhcp,host-managed=1',
      net10: 'name=eth10,bridge=vmbr0,ip=dhcp,host-managed=1',
      net0: 'name=eth0,bridge=vmbr0,ip=dhcp,ip6=manual,host-managed=1',
      net1: 'name=eth1,bridge=vmbr0,ip=dhcp', // not host-managed: the CT's own business
      net3: 'name=eth3,bridge=vmbr0,ip=10.0.0.3/24,host-managed=1',
      hostname: 'x',
    })).toEqual([
      { version: 4, eth: 'eth0' }, { version: 4, eth: 'eth10' }, { version: 4, eth: 'eth2' }, { version: 6, eth: 'eth2' },
    ]);
  });

  it('runs dhclient once (-1) with its pid and lease files in the hook directory and LXC\'s script on the CT root', () => {
    expect(dhclientArgv('start', { version: 4, eth: 'eth0' }, '/x/lxc/100', '/proc/42/root')).toEqual([
      '/sbin/dhclient', '-1', '-4', '-pf', '/x/lxc/100/hook/dhclient4-eth0.pid', '-lf', '/x/lxc/100/hook/dhclient4-eth0.leases',
      '-e', 'ROOTFS=/proc/42/root', '-sf', '/usr/share/lxc/hooks/dhclient-script', 'eth0',
    ]);
    expect(dhclientArgv('stop', { version: 6, eth: 'eth1' }, '/x', '/r').slice(1, 3)).toEqual(['-r', '-6']);
  });
});
