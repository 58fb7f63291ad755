// The one way a resource's diff is made: declared apply modes, one canonical comparison, one rule for unknowns.
import { basedOn, canonical, declaredDiff, planChange, type ResourceDefinition } from '../../provider/resources/common/definition';
import { checkWithSchema } from '../../provider/resources/common/check';
import { imageIdentity, sameImage } from '../../provider/resources/oci-image/definition';
import { UNKNOWN } from '../../provider/resources/common/unknowns';
import { podDefinition } from '../../provider/resources/pod/definition';
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

  test('a pod is always deleted before its replacement (the replacement carries the same owner key)', () => {
    const base = podInputsSchema.parse({ name: 'web', image: 'local:vztmpl/a.tar.zst', network: { ip: '10.0.0.5/24' } });
    const olds = { ...base, node: 'pve', vmid: 100, hostname: 'web', status: 'running' } as PodOutputs;
    expect(declaredDiff(podDefinition, olds, { ...base, image: 'local:vztmpl/b.tar.zst' })).toMatchObject({ replaces: ['image'], deleteBeforeReplace: true });
    const dhcp = { ...base, network: { bridge: 'vmbr0', ip: 'dhcp' } };
    expect(declaredDiff(podDefinition, { ...olds, network: dhcp.network }, { ...dhcp, image: 'local:vztmpl/b.tar.zst' })).toMatchObject({ replaces: ['image'], deleteBeforeReplace: true });
  });

  test('outputs and derived inputs never show as changes of a pod', () => {
    const base = podInputsSchema.parse({ name: 'web', image: 'local:vztmpl/a.tar.zst', tags: ['b', 'a'] });
    const olds = { ...base, node: 'pve', vmid: 100, hostname: 'web', status: 'running', ip: '10.0.0.9', mac: 'BC:24:11:00:00:01' } as PodOutputs;
    expect(declaredDiff(podDefinition, olds, { ...base, restartPlanned: 'restart to apply env' }).changes).toBe(false);
  });
});

// The three general rules a kind can declare besides apply modes: the value the prior state recorded elsewhere
// (`prior`), outputs that call for a repair (`repairs`), and a base kind the fields are handed down to (`base`).
interface Image { ref: string; resolved?: string; node?: string }
interface ImageOut extends Image { pulled: string; complete?: boolean }
const imageDef: ResourceDefinition<Image, ImageOut> = {
  kind: 'Image',
  fields: {
    ref: { apply: 'replace', compared: (i) => i.ref.toLowerCase() },
    resolved: { apply: 'replace', chosenWhenUnset: true, prior: (o) => o.pulled },
    node: { apply: 'replace', chosenWhenUnset: true },
  },
  repairs: { complete: (o) => o.complete === false },
  deleteBeforeReplace: false,
};
const pulled: ImageOut = { ref: 'App', resolved: 'd1', pulled: 'd1' };

describe('declared rules beyond apply modes', () => {
  test('compared: one spelling per value, both sides; an unknown new value is still a change', () => {
    expect(planChange(imageDef, pulled, { ref: 'app', resolved: 'd1' }).changed).toEqual([]);
    expect(planChange(imageDef, pulled, { ref: 'other', resolved: 'd1' }).replace).toEqual(['ref']);
    expect(planChange(imageDef, pulled, { ref: UNKNOWN, resolved: 'd1' }).replace).toEqual(['ref']);
  });

  test('prior: the new input is compared with what the state recorded for it (an output), not with the old input', () => {
    // The old input says d1 but the image was pulled at d0: the resolved d1 is a change.
    expect(planChange(imageDef, { ...pulled, pulled: 'd0' }, { ref: 'App', resolved: 'd1' }).replace).toEqual(['resolved']);
    expect(planChange(imageDef, { ...pulled, resolved: 'd0' }, { ref: 'App', resolved: 'd1' }).replace).toEqual([]);
    // Unresolved (left unset) is not judged; unknown is a change.
    expect(planChange(imageDef, pulled, { ref: 'App' }).changed).toEqual([]);
    expect(planChange(imageDef, pulled, { ref: 'App', resolved: UNKNOWN }).replace).toEqual(['resolved']);
  });

  test('repairs: an output that says the resource is broken makes an update though no input changed', () => {
    expect(declaredDiff(imageDef, { ...pulled, complete: false }, { ref: 'App', resolved: 'd1' })).toEqual({ changes: true, replaces: [], changed: ['complete'], deleteBeforeReplace: false });
    expect(declaredDiff(imageDef, { ...pulled, complete: true }, { ref: 'App', resolved: 'd1' }).changes).toBe(false);
  });

  test('base: fields handed down to another kind are judged by its definition; both plans join, sorted', () => {
    interface Member { set: string; size: number; label?: string }
    const memberDef: ResourceDefinition<Member> = {
      kind: 'Member',
      fields: { set: 'replace', size: 'derived', label: 'state' },
      base: basedOn(def, (o: Member) => ({ name: o.set, size: o.size }), (n: Member) => ({ name: n.set, size: n.size })),
      deleteBeforeReplace: false,
    };
    const p = planChange(memberDef, { set: 'a', size: 4 }, { set: 'a', size: 2, label: 'x' });
    expect(p).toMatchObject({ changed: ['label', 'size'], replace: ['size'], state: ['label'] });
    // The base's deleteBeforeReplace holds for a replacement it asks for (a Thing named "unique" goes first).
    expect(p.deleteBeforeReplace).toBe(false);
    expect(planChange(memberDef, { set: 'unique', size: 4 }, { set: 'unique', size: 2 }).deleteBeforeReplace).toBe(true);
    expect(planChange(memberDef, { set: 'a', size: 4 }, { set: 'b', size: 4 })).toMatchObject({ changed: ['name', 'set'], replace: ['name', 'set'] });
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

  test('one identity per image: the diff compares it, so `repo:tag@X` → `repo@X` is no change, another tag is', () => {
    const X = `sha256:${'a'.repeat(64)}`;
    expect(imageIdentity(`registry.lan:5000/team/app:1.4@${X}`)).toBe(`registry.lan:5000/team/app@${X}`);
    expect(imageIdentity('nginx')).toBe('docker.io/library/nginx:latest');
    expect(imageIdentity('oci-layout:/srv/img:v1')).toBe('oci-layout:/srv/img:v1');
    // Not a reference: compared as written (check() reports it).
    expect(imageIdentity('Not A Ref')).toBe('Not A Ref');
  });
});
