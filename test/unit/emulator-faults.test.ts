// The emulator's random faults (emulator/faults.ts): which rule fires for a call, and that a seed replays.
import { FaultTable } from '../../emulator/faults';

const rules = [
  { method: 'POST', path: /^\/nodes\/[^/]+\/lxc$/, status: 500, message: 'unable to create CT - got timeout' },
  { method: 'POST', path: /^\/nodes\/[^/]+\/lxc$/, taskError: 'unable to create CT - command failed: got timeout' },
  { method: 'DELETE', path: /^\/nodes\/[^/]+\/lxc\/\d+$/, taskError: "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout" },
];

function draw(seed: number, rate: number, calls: Array<[string, string]>): Array<string | undefined> {
  const t = new FaultTable();
  t.chaos({ seed, rate, rules });
  return calls.map(([m, p]) => {
    const f = t.take(m, p);
    return f ? (f.taskError ?? `${f.status}`) : undefined;
  });
}

describe('FaultTable chaos', () => {
  const creates = Array.from({ length: 200 }, (): [string, string] => ['POST', '/nodes/pve/lxc']);

  test('a call that several rules match fails as each of them, not only the first', () => {
    const seen = new Set(draw(7, 1, creates));
    expect(seen).toEqual(new Set(['500', 'unable to create CT - command failed: got timeout']));
  });

  test('calls no rule matches never fail, whatever the rate', () => {
    expect(draw(7, 1, [['GET', '/nodes/pve/lxc'], ['POST', '/nodes/pve/lxc/100/status/start']])).toEqual([undefined, undefined]);
  });

  test('about `rate` of the matching calls fail, and the same seed replays the same faults', () => {
    const a = draw(3, 0.2, creates);
    const failed = a.filter((x) => x !== undefined).length;
    expect(failed).toBeGreaterThan(20);
    expect(failed).toBeLessThan(60);
    expect(draw(3, 0.2, creates)).toEqual(a);
    expect(draw(4, 0.2, creates)).not.toEqual(a);
  });
});
