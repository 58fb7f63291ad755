import { InputError } from '../../provider/errors';
import {
  envList,
  formatGiB,
  normalizeTags,
  parseEnv,
  parseFeatures,
  parseMount,
  parseNet,
  parseSizeToGiB,
  parseUpid,
  isUpid,
  printEnv,
  printFeatures,
  printMount,
  printNet,
  printTags,
} from '../../provider/proxmox/properties';

describe('netN', () => {
  it('parses every key with types and re-prints in PVE order (name first, rest alphabetical)', () => {
    const net = parseNet('bridge=vmbr0,name=eth0,ip=10.0.0.5/24,gw=10.0.0.1,tag=42,mtu=1400,firewall=on,rate=12.5,hwaddr=bc:24:11:aa:bb:cc,type=veth,ip6=auto');
    expect(net).toEqual({
      name: 'eth0', bridge: 'vmbr0', ip: '10.0.0.5/24', gw: '10.0.0.1', tag: 42, mtu: 1400, firewall: true, rate: 12.5,
      hwaddr: 'BC:24:11:AA:BB:CC', type: 'veth', ip6: 'auto',
    });
    expect(printNet(net)).toBe('name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.5/24,ip6=auto,mtu=1400,rate=12.5,tag=42,type=veth');
  });
  it('round-trips what it prints', () => {
    const text = 'name=eth1,bridge=vmbr9,host-managed=1,ip=dhcp,link_down=0';
    expect(printNet(parseNet(text))).toBe(text);
  });
  it('rejects a missing name, bad tag, unknown key, bad boolean', () => {
    expect(() => parseNet('bridge=vmbr0', 'net0')).toThrow(/net0\.name/);
    expect(() => parseNet('name=eth0,tag=5000', 'net0')).toThrow(/net0\.tag.*out of range/);
    expect(() => parseNet('name=eth0,colour=red', 'net0')).toThrow(/unknown key 'colour'/);
    expect(() => parseNet('name=eth0,firewall=maybe')).toThrow(InputError);
    expect(() => parseNet('name=eth0,name=eth1')).toThrow(/duplicate key/);
  });
});

describe('rootfs / mpN', () => {
  it('parses the bare volume, sizes with units, and booleans', () => {
    expect(parseMount('local-zfs:subvol-100-disk-0,size=8G')).toEqual({ volume: 'local-zfs:subvol-100-disk-0', size: 8 });
    expect(parseMount('volume=local-lvm:vm-101-disk-1,mp=/data,size=512M,ro=1,backup=0', 'mp0')).toEqual({
      volume: 'local-lvm:vm-101-disk-1', mp: '/data', size: 0.5, ro: true, backup: false,
    });
  });
  it('prints volume bare, then mp, then the rest sorted; sizes in the largest exact unit', () => {
    expect(printMount({ volume: 'local-zfs:4', mp: '/srv', size: 1.5, acl: true })).toBe('local-zfs:4,mp=/srv,acl=1,size=1536M');
    expect(printMount({ volume: 'local-zfs:subvol-100-disk-0', size: 1024 })).toBe('local-zfs:subvol-100-disk-0,size=1T');
  });
  it('converts size units to GiB', () => {
    expect(parseSizeToGiB('2T')).toBe(2048);
    expect(parseSizeToGiB('1048576K')).toBe(1);
    expect(parseSizeToGiB(String(1024 ** 3))).toBe(1);
    expect(parseSizeToGiB('1.5g')).toBe(1.5);
    expect(() => parseSizeToGiB('8GB')).toThrow(/not a size/);
    expect(formatGiB(8)).toBe('8G');
    expect(formatGiB(0.25)).toBe('256M');
  });
  it('rejects unknown keys and a missing volume', () => {
    expect(() => parseMount('mp=/x,size=1G', 'mp1')).toThrow(/mp1.volume|not a key=value/);
    expect(() => parseMount('local:4,bogus=1')).toThrow(/unknown key 'bogus'/);
  });
});

describe('features', () => {
  it('parses flags and mount lists and prints alphabetically', () => {
    const f = parseFeatures('nesting=1,mount=nfs;cifs,keyctl=0');
    expect(f).toEqual({ nesting: true, mount: ['nfs', 'cifs'], keyctl: false });
    expect(printFeatures(f)).toBe('keyctl=0,mount=nfs;cifs,nesting=1');
    expect(printFeatures({ fuse: true })).toBe('fuse=1');
    expect(() => parseFeatures('nesting=1,wings=1')).toThrow(/unknown key/);
  });
});

describe('tags', () => {
  it('splits on , ; and space, lowercases, dedups and sorts like PVE', () => {
    expect(normalizeTags('Web;db,  web prod')).toEqual(['db', 'prod', 'web']);
    expect(printTags(['b', 'A', 'a;c'])).toBe('a;b;c');
    expect(printTags(undefined)).toBe('');
    expect(() => normalizeTags(['-bad'])).toThrow(/tag '-bad'/);
  });
});

describe('env', () => {
  it('converts between NUL-separated text, records and lists', () => {
    const text = 'PATH=/usr/bin\0GREETING=hello=world\0EMPTY=';
    expect(parseEnv(text)).toEqual({ PATH: '/usr/bin', GREETING: 'hello=world', EMPTY: '' });
    expect(envList(text)).toEqual(['PATH=/usr/bin', 'GREETING=hello=world', 'EMPTY=']);
    expect(printEnv({ A: '1', B: 'two words' })).toBe('A=1\0B=two words');
    expect(printEnv(['X=1', 'Y=2'])).toBe('X=1\0Y=2');
    expect(printEnv(parseEnv(text))).toBe(text);
    expect(parseEnv(undefined)).toEqual({});
  });
  it('rejects bad names and control characters', () => {
    expect(() => printEnv({ 'BAD-NAME': 'x' })).toThrow(/env.BAD-NAME/);
    expect(() => printEnv({ OK: 'line\nbreak' })).toThrow(/control character/);
    expect(() => printEnv(['novalue'])).toThrow(InputError);
    expect(() => parseEnv('=x')).toThrow(/NAME=value/);
  });
});

describe('UPID', () => {
  it('parses user and token tasks', () => {
    const u = parseUpid('UPID:pve:0012AB34:0456CD78:66A1B2C3:vzcreate:100:root@pam!ci:');
    expect(u).toMatchObject({ node: 'pve', pid: 0x12ab34, pstart: 0x456cd78, starttime: 0x66a1b2c3, type: 'vzcreate', id: '100', user: 'root@pam', tokenid: 'ci' });
    const v = parseUpid('UPID:pve2:00000001:000000002:00000003:srvreload:networking:root@pam:');
    expect(v).toMatchObject({ node: 'pve2', pstart: 2, id: 'networking', user: 'root@pam' });
    expect(v.tokenid).toBeUndefined();
    expect(parseUpid('UPID:pve:00000001:00000002:00000003:imgcopy::root@pam:').id).toBe('');
  });
  it('rejects malformed ids', () => {
    expect(isUpid('UPID:pve:1:2:3:x:y:z:')).toBe(false);
    expect(isUpid('UPID:pve:00000001:00000002:00000003:vzstart:100:root@pam')).toBe(false);
    expect(() => parseUpid('nope')).toThrow(/not a PVE task id/);
  });
});
