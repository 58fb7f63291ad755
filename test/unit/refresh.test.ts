// What read() hands back as inputs on refresh (common/refresh.ts), and what a DNAT rule really does (nftables.ts).
import { refreshedInputs } from '../../provider/resources/common/refresh';
import { effectiveSpec, type ForwardSpec } from '../../provider/host/nftables';

interface Outs { name: string; node: string; size: number; ports: Array<{ name: string; port: number }>; zone: string; owner?: { stack: string } }
const outs: Outs = { name: 'a', node: 'pve1', size: 4, ports: [{ name: 'http', port: 80 }], zone: 'a.svc', owner: { stack: 'dev' } };

describe('refreshedInputs', () => {
  test('nothing drifted: no inputs, so Pulumi keeps the ones it recorded (key order and equal values are no drift)', () => {
    expect(refreshedInputs<Outs, Partial<Outs>>(outs, ['zone'], { size: 4, ports: [{ port: 80, name: 'http' }] })).toBeUndefined();
  });

  test('a drift: the recorded inputs with exactly that field replaced, without output-only fields or the node', () => {
    expect(refreshedInputs<Outs, Partial<Outs>>({ ...outs, ...{ __provider: 'x' } } as Outs, ['zone'], { size: 7 })).toEqual({ name: 'a', size: 7, ports: [{ name: 'http', port: 80 }], owner: { stack: 'dev' } });
  });
});

describe('effectiveSpec: a DNAT rule read from nft -j', () => {
  const spec: ForwardSpec = { id: 'web', listenPort: 8080, protocol: 'tcp', targetIp: '10.0.0.2', targetPort: 80, masquerade: true };
  const dnat = (addr: string, port: number, daddr?: string) => [
    daddr ? { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: daddr } } : { match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } },
    { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 8080 } },
    { dnat: { addr, port } },
  ];

  test('as its comment says: the same spec', () => {
    expect(effectiveSpec('prerouting', spec, dnat('10.0.0.2', 80))).toEqual(spec);
  });

  test('edited by hand: the target and the listen address it really has', () => {
    expect(effectiveSpec('output', spec, dnat('10.0.0.9', 81, '192.168.1.5'))).toEqual({ ...spec, targetIp: '10.0.0.9', targetPort: 81, listenAddress: '192.168.1.5' });
  });

  test('masquerade rules and rules without a readable DNAT are judged by their comment', () => {
    expect(effectiveSpec('postrouting', spec, dnat('10.0.0.9', 81))).toEqual(spec);
    expect(effectiveSpec('prerouting', spec, [{ accept: null }])).toEqual(spec);
    expect(effectiveSpec('prerouting', spec, undefined)).toEqual(spec);
  });
});
