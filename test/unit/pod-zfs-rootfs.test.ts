// The pure half of pods cloned from an image's ZFS chain: which storages qualify (and the fix named when none does),
// the dataset behind PVE's disk, the scaffold template, and that another rootfs source is another container.
import { createZstdDecompress } from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { InputError } from '../../provider/errors';
import { datasetOfRootfs, planZfsRootfs, scaffoldTemplate } from '../../provider/resources/pod/zfs-rootfs';
import { podInputsSchema } from '../../provider/resources/pod/schema';
import { planChange } from '../../provider/resources/common/definition';
import { podDefinition } from '../../provider/resources/pod/definition';

const SNAP = 'tank/pods/images/abc-u100000@ready';
const storages = [
  { storage: 'local', type: 'dir', content: 'vztmpl,backup' },
  { storage: 'local-zfs', type: 'zfspool', pool: 'rpool/data' },
  { storage: 'tank-ct', type: 'zfspool', pool: 'tank/ct' },
  { storage: 'local-lvm', type: 'lvmthin' },
];
const pod = (over: Record<string, unknown> = {}) =>
  podInputsSchema.parse({ name: 'web', image: { template: 'local:vztmpl/oci-1.tar.zst', digest: 'sha256:' + 'a'.repeat(64), zfsSnapshot: SNAP }, ...over });

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('planZfsRootfs', () => {
  test('a zfspool storage in the snapshot\'s pool qualifies', () => {
    expect(planZfsRootfs(pod({ rootfs: { storage: 'tank-ct' } }), SNAP, 'local-lvm', storages)).toEqual({ snapshot: SNAP, storage: 'tank-ct', pool: 'tank/ct' });
  });

  test('the default storage is used when rootfs.storage is unset', () => {
    expect(planZfsRootfs(pod(), SNAP, 'tank-ct', storages).storage).toBe('tank-ct');
  });

  test('a storage of another type names the field and the storage that would work', () => {
    const err = inputError(() => planZfsRootfs(pod({ rootfs: { storage: 'local-lvm' } }), SNAP, 'local', storages));
    expect(err.message).toMatch(/rootfs\.storage/);
    expect(err.message).toMatch(/lvmthin storage/);
    expect(err.message).toMatch(/set rootfs\.storage to "tank-ct"/);
  });

  test('a zfspool storage in another pool is refused: clones never cross pools', () => {
    const err = inputError(() => planZfsRootfs(pod({ rootfs: { storage: 'local-zfs' } }), SNAP, 'local', storages));
    expect(err.message).toMatch(/pool rpool, the image's snapshot .* is in pool tank/);
    expect(err.message).toMatch(/"tank-ct"/);
  });

  test('no qualifying storage at all says how to add one', () => {
    const err = inputError(() => planZfsRootfs(pod({ rootfs: { storage: 'local-zfs' } }), SNAP, 'local', storages.filter((s) => s.storage !== 'tank-ct')));
    expect(err.message).toMatch(/add a zfspool storage on pool "tank"/);
  });

  test('an unknown storage and a privileged pod are refused', () => {
    expect(inputError(() => planZfsRootfs(pod({ rootfs: { storage: 'nope' } }), SNAP, 'local', storages)).message).toMatch(/"nope" does not exist/);
    expect(inputError(() => planZfsRootfs(pod({ unprivileged: false, rootfs: { storage: 'tank-ct' } }), SNAP, 'local', storages)).message).toMatch(/^unprivileged: .*uid-shifted/);
  });
});

describe('datasetOfRootfs', () => {
  const plan = { snapshot: SNAP, storage: 'tank-ct', pool: 'tank/ct' };
  test('maps the subvol PVE allocated to its dataset', () => {
    expect(datasetOfRootfs('tank-ct:subvol-101-disk-0,size=4G', plan)).toBe('tank/ct/subvol-101-disk-0');
  });
  test('refuses anything else', () => {
    expect(() => datasetOfRootfs('local-lvm:vm-101-disk-0,size=4G', plan)).toThrow(InputError);
    expect(() => datasetOfRootfs('tank-ct:basevol-100-disk-0/subvol-101-disk-0', plan)).toThrow(InputError);
  });
});

describe('scaffold template', () => {
  test('is a tar.zst holding only ./, named by its hash, the same every time', async () => {
    const a = await scaffoldTemplate();
    expect(a.filename).toBe(`proxmox-pods-scaffold-${a.sha256.slice(0, 12)}.tar.zst`);
    expect(a.bytes.length).toBeLessThan(1024);
    const names: string[] = [];
    const extract = tar.extract();
    extract.on('entry', (h, stream, next) => { names.push(`${h.type}:${h.name}`); stream.resume(); stream.on('end', next); });
    await new Promise((resolve, reject) => Readable.from([a.bytes]).pipe(createZstdDecompress()).pipe(extract).on('finish', () => resolve(undefined)).on('error', reject));
    expect(names).toEqual(['directory:./']);
    expect((await scaffoldTemplate()).sha256).toBe(a.sha256);
  });
});

describe('plan', () => {
  test('another ZFS chain (or none) is another rootfs: replace', () => {
    const olds = { ...pod(), node: 'pve', vmid: 101, hostname: 'web', status: 'running' };
    expect(planChange(podDefinition, olds, pod({ image: { ...pod().image as object, zfsSnapshot: 'tank/pods/images/def-u100000@ready' } })).replace).toContain('image');
    const { zfsSnapshot: _z, ...noZfs } = pod().image as Record<string, unknown>;
    expect(planChange(podDefinition, olds, pod({ image: noZfs })).replace).toContain('image');
    expect(planChange(podDefinition, olds, pod()).replace).toEqual([]);
  });

  test('the schema refuses a malformed snapshot name', () => {
    const r = podInputsSchema.safeParse({ name: 'web', image: { template: 'local:vztmpl/a.tar.zst', zfsSnapshot: 'tank/x' } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/must be a ZFS snapshot/);
  });
});
