import { podModule } from '../../provider/resources/pod';
import { declaredDiff, planChange } from '../../provider/resources/common/definition';
import { podDefinition } from '../../provider/resources/pod/definition';
import { hostnameFor, podInputsSchema, type PodInputs, type PodOutputs } from '../../provider/resources/pod/schema';
import { UNKNOWN } from '../../provider/resources/common/unknowns';

const T = 'local:vztmpl/debian-12.tar.zst';
const inputs = (over: Record<string, unknown> = {}): PodInputs => podInputsSchema.parse({ name: 'web', image: T, ...over });
const outputs = (over: Record<string, unknown> = {}): PodOutputs => ({ ...inputs(over), vmid: 100, node: 'pve', hostname: 'web', status: 'running' });

describe('Pod change planning', () => {
  test('no change when nothing differs, even though outputs carry more', () => {
    expect(declaredDiff(podDefinition, outputs(), inputs())).toMatchObject({ changes: false, replaces: [] });
  });

  test.each([
    ['memory', { memory: 1024 }, 'live'],
    ['cores', { cores: 4 }, 'live'],
    ['tags', { tags: ['a'] }, 'live'],
    ['network', { network: { ip: '10.0.0.2/24' } }, 'live'],
    ['env', { env: { A: '1' } }, 'restart'],
    ['entrypoint', { entrypoint: ['/bin/app'] }, 'restart'],
    ['nameserver', { nameserver: ['1.1.1.1'] }, 'restart'],
    ['image', { image: 'local:vztmpl/other.tar.zst' }, 'replace'],
    ['unprivileged', { unprivileged: false }, 'replace'],
    ['node', { node: 'pve2' }, 'replace'],
  ])('%s changes are classified %s', (key, over, cls) => {
    const plan = planChange(podDefinition, outputs(), inputs(over));
    expect(plan.changed).toEqual([key]);
    expect(plan[cls as 'live' | 'restart' | 'replace']).toEqual([key]);
  });

  test('growing the rootfs is live, shrinking or moving it replaces', () => {
    expect(planChange(podDefinition, outputs({ rootfs: { sizeGiB: 4 } }), inputs({ rootfs: { sizeGiB: 8 } })).live).toEqual(['rootfs']);
    expect(planChange(podDefinition, outputs({ rootfs: { sizeGiB: 8 } }), inputs({ rootfs: { sizeGiB: 4 } })).replace).toEqual(['rootfs']);
    expect(planChange(podDefinition, outputs({ rootfs: { sizeGiB: 4, storage: 'zfs-a' } }), inputs({ rootfs: { sizeGiB: 4, storage: 'zfs-b' } })).replace).toEqual(['rootfs']);
  });

  test('an unpinned node or vmid is not a change; pinning the same values is not either', () => {
    expect(declaredDiff(podDefinition, outputs(), inputs()).changes).toBe(false);
    expect(declaredDiff(podDefinition, outputs(), inputs({ node: 'pve', vmid: 100 })).changes).toBe(false);
  });

  test('a replacement with a pinned vmid deletes first', () => {
    const d = declaredDiff(podDefinition, outputs({ vmid: 100 }), inputs({ vmid: 100, image: 'local:vztmpl/x.tar.zst' }));
    expect(d.replaces).toEqual(['image']);
    expect(d.deleteBeforeReplace).toBe(true);
    // Every pod replacement deletes first: the new container carries the same owner key.
    expect(declaredDiff(podDefinition, outputs(), inputs({ image: 'local:vztmpl/x.tar.zst' })).deleteBeforeReplace).toBe(true);
  });

  test('an unknown value (preview) counts as a change of its class', () => {
    expect(declaredDiff(podDefinition, outputs(), { ...inputs(), image: UNKNOWN } as PodInputs).replaces).toEqual(['image']);
    expect(declaredDiff(podDefinition, outputs(), { ...inputs(), memory: UNKNOWN } as unknown as PodInputs).replaces).toEqual([]);
  });

  test('timeouts only update state', () => {
    const d = declaredDiff(podDefinition, outputs(), inputs({ timeouts: { create: '5m' } }));
    expect(d).toMatchObject({ changes: true, replaces: [] });
  });

  test('hostname follows the resource name unless given', () => {
    expect(hostnameFor({ name: 'My_Web.Pod' })).toBe('my-web-pod');
    expect(hostnameFor({ name: 'x', hostname: 'h.lab' })).toBe('h.lab');
    expect(planChange(podDefinition, outputs(), inputs({ hostname: 'other' })).live).toEqual(['hostname']);
  });
});

describe('Pod check', () => {
  test('reports each bad field by path with a fix', async () => {
    const r = await podModule.check({}, { name: 'web', image: 'nope', memory: 8, network: { ip: '10.0.0.300/24', vlan: 5000 }, tags: ['Bad Tag'] });
    const byField = Object.fromEntries((r.failures ?? []).map((f) => [f.property, f.reason]));
    expect(byField.image).toMatch(/template volid/);
    expect(byField.memory).toMatch(/at least 16/);
    expect(byField['network.ip']).toMatch(/dhcp.*CIDR/);
    expect(byField['network.vlan']).toMatch(/1 and 4094/);
    expect(byField['tags[0]']).toMatch(/lowercase/);
  });

  test('adopt without a vmid is refused', async () => {
    const r = await podModule.check({}, { name: 'web', image: T, adopt: true });
    expect(r.failures).toEqual([expect.objectContaining({ property: 'vmid' })]);
  });

  test('unknown values are not judged during preview', async () => {
    const r = await podModule.check({}, { name: 'web', image: UNKNOWN, memory: UNKNOWN });
    expect(r.failures).toBeUndefined();
  });

  test('records a planned restart when a running pod gets a pending-only change', async () => {
    const olds = inputs({ env: { A: '1' } });
    const r = await podModule.check(olds as any, { ...olds, env: { A: '2' } });
    expect(r.inputs?.restartPlanned).toMatch(/restart to apply env/);
    const none = await podModule.check(olds as any, { ...olds, memory: 1024 });
    expect(none.inputs?.restartPlanned).toBeUndefined();
    const stopped = await podModule.check({ ...olds, running: false } as any, { ...olds, running: false, env: { A: '2' } });
    expect(stopped.inputs?.restartPlanned).toBeUndefined();
  });
});
