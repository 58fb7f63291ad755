// PersistentVolume on a real ZFS pool (zfs-fuse, file vdev): quota, owner, reclaim policies, and a retained volume
// that comes back — with its data — to the next volume of the same name.
import { execa } from 'execa';
import { withOperation } from '../../provider/diagnostics';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { persistentVolumeModule as m } from '../../provider/resources/persistent-volume';
import type { PersistentVolumeInputs } from '../../provider/resources/persistent-volume/schema';
import { setStackConfig } from '../../provider/resources/common/connection';
import { withZfsPool, zfsChange } from '../oci/helpers-zfs';

type TestPool = Awaited<ReturnType<typeof withZfsPool>>;

describe('PersistentVolume on zfs-fuse', () => {
  let pool: TestPool;
  const checked = async (over: Record<string, unknown>) => {
    const r = await m.check({}, { name: 'default-web-0', node: 'pve1', sizeGiB: 1, ...over });
    expect(r.failures).toBeUndefined();
    return r.inputs as PersistentVolumeInputs;
  };
  const zget = async (prop: string, ds: string) => String((await execa('zfs', ['get', '-H', '-p', '-o', 'value', prop, ds])).stdout).trim();

  beforeAll(async () => {
    pool = await withZfsPool();
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve1: { local: true } }), 'proxmox-pods:volumeDataset': `${pool.name}/volumes` });
  }, 60_000);
  afterAll(async () => {
    setStackConfig({});
    await pool?.destroy();
  });

  test('create sets quota, owner and uid shift; resize; Retain keeps the data for the successor', async () => {
    const { id, outs } = await m.create(await checked({}));
    expect(outs.dataset).toBe(`${pool.name}/volumes/default-web-0`);
    expect(outs.reused).toBe(false);
    expect(await zget('refquota', outs.dataset)).toBe(String(1024 ** 3));
    expect(await zget('pods:volume', outs.dataset)).toBe('default-web-0');
    expect(String((await execa('stat', ['-c', '%u:%g', outs.hostPath])).stdout)).toBe('100000:100000');
    await writeFile(path.join(outs.hostPath, 'state.txt'), 'precious');

    const { outs: bigger } = await m.update!(id, outs, await checked({ sizeGiB: 2 }));
    expect(await zget('refquota', bigger.dataset)).toBe(String(2 * 1024 ** 3));
    // Untouched, refresh hands back no inputs; a quota or root owner changed on the node reads as that input.
    expect((await m.read!(id, bigger))!.inputs).toBeUndefined();
    await zfsChange('zfs', ['set', 'refquota=3G', bigger.dataset]);
    await execa('chown', ['4242:4242', bigger.hostPath]);
    const drifted = (await m.read!(id, bigger))!;
    expect(drifted.inputs).toMatchObject({ sizeGiB: 3, ownerUid: 4242 });
    await m.update!(id, drifted.props, await checked({ sizeGiB: 2 }));
    expect(await zget('refquota', bigger.dataset)).toBe(String(2 * 1024 ** 3));
    expect(String((await execa('stat', ['-c', '%u:%g', bigger.hostPath])).stdout)).toBe('100000:100000');

    await m.delete(id, bigger); // Retain: released, not destroyed
    expect(await zget('pods:released', bigger.dataset)).toMatch(/^\d{4}-/);
    expect(await m.read!(id, bigger)).toBeUndefined();

    const again = await m.create(await checked({ sizeGiB: 2 }));
    expect(again.outs.reused).toBe(true);
    expect(await readFile(path.join(again.outs.hostPath, 'state.txt'), 'utf8')).toBe('precious');
    expect(await zget('pods:released', again.outs.dataset)).toBe('-');
    await m.delete(again.id, { ...again.outs, reclaimPolicy: 'Delete' });
    expect((await execa('zfs', ['list', again.outs.dataset], { reject: false })).exitCode).not.toBe(0);
  });

  test('members of one set are created in parallel under a parent that does not exist yet', async () => {
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve1: { local: true } }), 'proxmox-pods:volumeDataset': `${pool.name}/fresh/parent` });
    try {
      const made = await Promise.all([0, 1, 2, 3].map(async (i) => m.create(await checked({ name: `default-db-${i}`, reclaimPolicy: 'Delete' }))));
      expect(made.map((v) => v.outs.dataset).sort()).toEqual([0, 1, 2, 3].map((i) => `${pool.name}/fresh/parent/default-db-${i}`));
      await Promise.all(made.map((v) => m.delete(v.id, v.outs)));
    } finally {
      setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve1: { local: true } }), 'proxmox-pods:volumeDataset': `${pool.name}/volumes` });
    }
  });

  test('never takes over a dataset that is not its own', async () => {
    await zfsChange('zfs', ['create', '-p', `${pool.name}/volumes/foreign-data`]);
    await expect(m.create(await checked({ name: 'foreign-data' }))).rejects.toThrow(/^dataset .*\/foreign-data on pve1 is not managed by proxmox-pods; proxmox-pods changes and deletes only what it owns/);
  });

  describe('owner records', () => {
    const dev = { project: 'shop', stack: 'dev', resource: 'db-data-0' };
    const staging = { project: 'shop', stack: 'staging', resource: 'db-data-0' };

    test('a create records its owner; a retry of the same owner adopts the dataset; another stack is refused', async () => {
      const first = await m.create(await checked({ name: 'owned-0', owner: dev, reclaimPolicy: 'Delete' }));
      expect(await zget('proxmox-pods:owner', first.outs.dataset)).toBe('shop/dev/PersistentVolume/db-data-0');
      // The answer to the first create was lost: the next `up` creates again and finds its own dataset.
      const retry = await m.create(await checked({ name: 'owned-0', owner: dev, reclaimPolicy: 'Delete' }));
      expect(retry.outs).toMatchObject({ dataset: first.outs.dataset, reused: true });
      // The same volume name from another stack on the same parent dataset: refused, naming both owners.
      await expect(m.create(await checked({ name: 'owned-0', owner: staging }))).rejects.toThrow(
        /is owned by PersistentVolume "db-data-0" of stack shop\/dev, not by PersistentVolume "db-data-0" of stack shop\/staging/,
      );
      // Refresh from the other stack's state sees nothing of its own; its delete leaves the data alone and says so.
      expect(await m.read!(first.id, { ...first.outs, owner: staging })).toBeUndefined();
      const { warnings } = await withOperation('PersistentVolume owned-0', () => m.delete(first.id, { ...first.outs, owner: staging }));
      expect(warnings.join('\n')).toMatch(/is owned by .*shop\/dev.*left alone/);
      expect(await zget('proxmox-pods:owner', first.outs.dataset)).toBe('shop/dev/PersistentVolume/db-data-0');
      await m.delete(first.id, first.outs);
      expect((await execa('zfs', ['list', first.outs.dataset], { reject: false })).exitCode).not.toBe(0);
    });

    test('a volume made before owner records is adopted by its name and gets its owner recorded by the update', async () => {
      const legacy = await m.create(await checked({ name: 'legacy-0', reclaimPolicy: 'Delete' }));
      expect(await zget('proxmox-pods:owner', legacy.outs.dataset)).toBe('-');
      // The first `up` with owner records: the diff shows the owner, the update writes it.
      const news = await checked({ name: 'legacy-0', reclaimPolicy: 'Delete', owner: dev });
      expect(m.diff(legacy.id, legacy.outs, news)).toMatchObject({ changes: true, replaces: [] });
      const { outs } = await m.update!(legacy.id, legacy.outs, news);
      expect(await zget('proxmox-pods:owner', outs.dataset)).toBe('shop/dev/PersistentVolume/db-data-0');
      await expect(m.create(await checked({ name: 'legacy-0', owner: staging }))).rejects.toThrow(/owned by .*shop\/dev/);
      await m.delete(legacy.id, outs);
    });
  });

  test('without a parent dataset or host access the error names the setting', async () => {
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve1: { local: true } }) });
    await expect(m.create(await checked({}))).rejects.toThrow(/^parentDataset: is not set .*proxmox-pods:volumeDataset/);
    setStackConfig({});
    await expect(m.create(await checked({}))).rejects.toThrow(/^proxmox-pods:hosts: no host access is configured for node pve1/);
    setStackConfig({ 'proxmox-pods:hosts': JSON.stringify({ pve1: { local: true } }), 'proxmox-pods:volumeDataset': `${pool.name}/volumes` });
  });
});
