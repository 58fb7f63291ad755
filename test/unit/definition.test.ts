// The one way a resource's diff is made: declared apply modes, one canonical comparison, one rule for unknowns.
import { canonical, planChange, type ResourceDefinition } from '../../provider/resources/common/definition';
import { checkWithSchema } from '../../provider/resources/common/check';
import { sameImage } from '../../provider/resources/oci-image/plan';
import { UNKNOWN } from '../../provider/resources/common/unknowns';
import { podDiff } from '../../provider/resources/pod/plan';
import { podInputsSchema, type PodOutputs } from '../../provider/resources/pod/schema';

interface Thing { name: string; size?: number; node?: string; labels?: string[]; timeouts?: { create?: string }; derived?: string }
const def: ResourceDefinition<Thing> = {
  kind: 'Thing',
  fields: { name: 'replace', size: { apply: (o, n) => ((n.size ?? 0) < (o.size ?? 0) ? 'replace' : 'live') }, node: { apply: 'replace', chosenWhenUnset: true }, labels: 'live', timeouts: 'state', derived: 'derived' },
  deleteBeforeReplace: (n) => n.name === 'unique',
};

describe('declared diffs', () => {
  test('key order and undefined members never make a change', () => {
    expect(canonical({ a: 1, b: undefined, c: [1, { y: 2, x: 1 }] })).toBe(canonical({ c: [1, { x: 1, y: 2 }], a: 1 }));
  });

  test('each field applies as declared; a provider-chosen field left unset is not a change', () => {
    const p = planChange(def, { name: 'a', size: 4, node: 'pve1', labels: ['x'] }, { name: 'a', size: 8, labels: ['x', 'y'], timeouts: { create: '1m' }, derived: 'z' });
    expect(p).toMatchObject({ changed: ['labels', 'size', 'timeouts'], live: ['labels', 'size'], state: ['timeouts'], replace: [], deleteBeforeReplace: false });
    expect(planChange(def, { name: 'a', size: 4 }, { name: 'a', size: 2 }).replace).toEqual(['size']);
  });

  test('an unknown new value is a change, and replaces when the field replaces', () => {
    const p = planChange(def, { name: 'a' }, { name: UNKNOWN });
    expect(p.replace).toEqual(['name']);
    expect(planChange(def, { name: 'unique' }, { name: 'unique', node: 'pve2' }).deleteBeforeReplace).toBe(true);
  });

  test('a pod with a fixed address is deleted before its replacement; a DHCP pod is not', () => {
    const base = podInputsSchema.parse({ name: 'web', image: 'local:vztmpl/a.tar.zst', network: { ip: '10.0.0.5/24' } });
    const olds = { ...base, node: 'pve', vmid: 100, hostname: 'web', status: 'running' } as PodOutputs;
    expect(podDiff(olds, { ...base, image: 'local:vztmpl/b.tar.zst' })).toMatchObject({ replaces: ['image'], deleteBeforeReplace: true });
    const dhcp = { ...base, network: { bridge: 'vmbr0', ip: 'dhcp' } };
    expect(podDiff({ ...olds, network: dhcp.network }, { ...dhcp, image: 'local:vztmpl/b.tar.zst' })).toMatchObject({ replaces: ['image'], deleteBeforeReplace: false });
  });

  test('outputs and derived inputs never show as changes of a pod', () => {
    const base = podInputsSchema.parse({ name: 'web', image: 'local:vztmpl/a.tar.zst', tags: ['b', 'a'] });
    const olds = { ...base, node: 'pve', vmid: 100, hostname: 'web', status: 'running', ip: '10.0.0.9', mac: 'BC:24:11:00:00:01' } as PodOutputs;
    expect(podDiff(olds, { ...base, restartPlanned: 'restart to apply env' }).changes).toBe(false);
  });
});

describe('check with unknowns', () => {
  test('an input still unknown (an image being replaced) keeps the other fields\' defaults', () => {
    const r = checkWithSchema(podInputsSchema, { name: 'web', image: UNKNOWN, memory: 256 });
    expect(r.failures).toBeUndefined();
    expect(r.inputs).toMatchObject({ name: 'web', image: UNKNOWN, memory: 256, cores: 1, swap: 512, running: true, unprivileged: true, rootfs: { sizeGiB: 4 } });
  });
});

describe('OciImage references', () => {
  test('a tag beside the same digest is the same image; another digest or repository is not', () => {
    const X = `sha256:${'a'.repeat(64)}`;
    expect(sameImage(`registry.lan:5000/team/app:1.4@${X}`, `registry.lan:5000/team/app@${X}`)).toBe(true);
    expect(sameImage('nginx', 'docker.io/library/nginx:latest')).toBe(true);
    expect(sameImage(`registry.lan:5000/team/app@${X}`, `registry.lan:5000/team/other@${X}`)).toBe(false);
    expect(sameImage('nginx:1.27', 'nginx:1.28')).toBe(false);
  });
});
