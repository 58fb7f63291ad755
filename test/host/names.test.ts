import { InputError } from '../../provider/errors';
import {
  assertCidr4, assertDnsLabel, assertDnsZone, assertIfaceName, assertIpv4, assertNftIdentifier, assertPort,
} from '../../provider/host/names';

function rejects(fn: (field: string, v: unknown) => unknown, value: unknown): InputError {
  try {
    fn('spec.field', value);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe('spec.field');
    expect((err as Error).message).toMatch(/^spec\.field: /);
    return err as InputError;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

const hostile = ['', '-', '--help', 'a b', 'a;b', '$(x)', '`x`', "a'b", 'a"b', 'a\nb', 'a/b', 'a\0b', '*'];

describe('host names', () => {
  test('interface names: ≤15 of [A-Za-z0-9_.-], no option-like names', () => {
    for (const ok of ['vmbr0', 'veth100i0', 'pp-br.10', 'A_b', 'x'.repeat(15)]) expect(assertIfaceName('f', ok)).toBe(ok);
    for (const bad of [...hostile, 'x'.repeat(16), '-vmbr0', '.', '..', 'eth0:1']) rejects(assertIfaceName, bad);
    expect(rejects(assertIfaceName, 'x'.repeat(16)).message).toMatch(/1–15 characters/);
  });

  test('nft identifiers', () => {
    for (const ok of ['proxmox_pods', 'prerouting', '_x1']) expect(assertNftIdentifier('f', ok)).toBe(ok);
    for (const bad of [...hostile, '1abc', 'a-b', 'a.b', 'x'.repeat(65)]) rejects(assertNftIdentifier, bad);
  });

  test('DNS labels and zones', () => {
    for (const ok of ['web-0', 'a', '0', 'x'.repeat(63)]) expect(assertDnsLabel('f', ok)).toBe(ok);
    for (const bad of [...hostile, 'Web', '-a', 'a-', 'a.b', 'x'.repeat(64), 'a_b']) rejects(assertDnsLabel, bad);
    for (const ok of ['web.default.svc.cluster.local', 'local']) expect(assertDnsZone('f', ok)).toBe(ok);
    for (const bad of [...hostile, 'a..b', '.a', 'a.', 'a.-b', `${'x'.repeat(63)}.`.repeat(4) + 'x'.repeat(10)]) rejects(assertDnsZone, bad);
  });

  test('ports', () => {
    for (const ok of [1, 80, 65535]) expect(assertPort('f', ok)).toBe(ok);
    for (const bad of [0, -1, 65536, 1.5, '80', NaN, null, undefined]) rejects(assertPort, bad);
    expect(rejects(assertPort, 70000).message).toBe('spec.field: 70000 must be 1–65535');
  });

  test('IPv4 addresses and CIDRs', () => {
    for (const ok of ['10.0.0.1', '0.0.0.0', '255.255.255.255', '192.168.1.10']) expect(assertIpv4('f', ok)).toBe(ok);
    for (const bad of [...hostile, '256.0.0.1', '10.0.0', '10.0.0.1.2', '010.0.0.1', '::1', '10.0.0.1/24', ' 10.0.0.1']) rejects(assertIpv4, bad);
    for (const ok of ['10.0.0.0/24', '0.0.0.0/0', '10.1.2.3/32']) expect(assertCidr4('f', ok)).toBe(ok);
    for (const bad of [...hostile, '10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/24/1', '10.0.0.0/024', '300.0.0.0/8']) rejects(assertCidr4, bad);
  });
});
