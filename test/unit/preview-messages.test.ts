// The pure parts of the preview checks: subnet arithmetic for gateways, and how failures are shown (nested values
// printed, long ones cut, possible secrets never echoed, short top-level scalars left to the engine).
import { gatewayProblem, inSubnet, subnetOf } from '../../provider/resources/common/subnet';
import { presentFailures, renderValue } from '../../provider/resources/common/failure-message';
import { UNKNOWN } from '../../provider/resources/common/unknowns';

describe('subnets', () => {
  test.each([
    ['10.3.0.10/24', '10.3.0.0', 24],
    ['10.3.7.200/20', '10.3.0.0', 20],
    ['192.168.1.1/32', '192.168.1.1', 32],
    ['0.0.0.0/0', '0.0.0.0', 0],
  ])('%s is in %s/%d', (cidr, network, prefix) => {
    expect(subnetOf(cidr)).toMatchObject({ network, prefix });
  });

  test('membership at the edges', () => {
    expect(inSubnet('10.3.0.0', '10.3.0.10/24')).toBe(true);
    expect(inSubnet('10.3.0.255', '10.3.0.10/24')).toBe(true);
    expect(inSubnet('10.3.1.0', '10.3.0.10/24')).toBe(false);
    expect(inSubnet('255.255.255.255', '128.0.0.1/1')).toBe(true);
    expect(inSubnet('not-an-ip', '10.0.0.1/8')).toBe(false);
  });

  test('a gateway outside the subnet is named with a fix; /31 and /32 are point-to-point and accepted', () => {
    expect(gatewayProblem('10.3.0.10/24', '10.3.0.1')).toBeUndefined();
    expect(gatewayProblem('10.3.0.10/24', '10.4.0.1')).toBe("gateway 10.4.0.1 is outside the pod's subnet 10.3.0.0/24 (from 10.3.0.10/24); use an address in that subnet such as 10.3.0.1, or change the address's prefix; if the gateway is on the link outside the subnet on purpose, set network.gatewayOnLink: true (PVE then adds the route to it)");
    expect(gatewayProblem('10.3.0.10/32', '10.4.0.1')).toBeUndefined();
    expect(gatewayProblem('10.3.0.10/31', '10.4.0.1')).toBeUndefined();
  });
});

describe('failure messages', () => {
  const inputs = {
    cores: 0,
    description: 'd'.repeat(8000),
    network: { bridge: 'vmbr0', ip: '10.0.0.2/24', gateway: '10.1.0.1' },
    mounts: [{ source: 'x', path: '/data' }],
    env: { TOKEN: 'hunter2' },
    credentials: { username: 'u', password: 'hunter2' },
  };

  test('values render as JSON, unknowns by name, long ones cut with their length', () => {
    expect(renderValue({ a: [1, 'b'], c: UNKNOWN })).toBe('{"a":[1,"b"],"c":"[unknown]"}');
    expect(renderValue('x'.repeat(500), 10)).toBe('"xxxxxxxxx… (502 characters)');
  });

  test('a short top-level scalar is left to the engine', () => {
    expect(presentFailures([{ property: 'cores', reason: 'must be at least 1' }], inputs)).toEqual([{ property: 'cores', reason: 'must be at least 1' }]);
  });

  test('nested paths print their own value instead of {<nil>}', () => {
    expect(presentFailures([{ property: 'network.gateway', reason: 'r' }], inputs)).toEqual([{ property: '', reason: `property 'network.gateway' value "10.1.0.1" has a problem: r` }]);
    expect(presentFailures([{ property: 'mounts[0].source', reason: 'r' }], inputs)[0]!.reason).toBe(`property 'mounts[0].source' value "x" has a problem: r`);
    expect(presentFailures([{ property: 'network', reason: 'r' }], inputs)[0]!.reason).toBe(`property 'network' value {"bridge":"vmbr0","ip":"10.0.0.2/24","gateway":"10.1.0.1"} has a problem: r`);
  });

  test('a long value is cut; a missing one is not invented; resource-level failures stay resource-level', () => {
    const [long] = presentFailures([{ property: 'description', reason: 'too long' }], inputs);
    expect(long!.reason).toBe(`property 'description' value "${'d'.repeat(119)}… (8002 characters) has a problem: too long`);
    expect(presentFailures([{ property: 'nameserver[2]', reason: 'r' }], inputs)[0]!.reason).toBe(`property 'nameserver[2]' has a problem: r`);
    expect(presentFailures([{ property: '(inputs)', reason: 'r' }], inputs)).toEqual([{ property: '', reason: 'r' }]);
  });

  test('values that may be secrets are never echoed', () => {
    for (const property of ['env.TOKEN', 'credentials.password', 'credentials']) {
      const [f] = presentFailures([{ property, reason: 'r' }], inputs);
      expect(f!.reason).toBe(`property '${property}' value [not shown: may be secret] has a problem: r`);
    }
  });
});
