// The one ZFS naming rule: what reaches `zfs` as a dataset or snapshot name, and the field named when it is refused.
import { InputError } from '../../../provider/errors';
import { isSnapshotName, isZfsDataset, poolOf, validateChildDataset, validateDataset, validateSnapshot } from '../../../provider/host/zfs/names';

const hostile = ['', '-', '--help', 'a b', 'a;b', '$(x)', '`x`', "a'b", 'a"b', 'a\nb', 'a\0b', '*'];

function refused(fn: () => unknown, field: string): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe(field);
    return err as InputError;
  }
  throw new Error('accepted');
}

test('dataset names', () => {
  for (const ok of ['rpool', 'rpool/data/pp-web-0', 'tank/a_b.c:d-e', `p/${'x'.repeat(253)}`]) {
    expect(validateDataset(ok, 'f')).toBe(ok);
    expect(isZfsDataset(ok)).toBe(true);
  }
  for (const bad of [...hostile, 'rpool/', '/rpool', 'rpool//x', 'rpool@snap', 'rpool/x#b', 'rpool/..', 'rpool/-x', '1pool', 'x'.repeat(256)]) {
    expect(isZfsDataset(bad)).toBe(false);
    expect(refused(() => validateDataset(bad, 'spec.parentDataset'), 'spec.parentDataset').message).toMatch(/^spec\.parentDataset: .* is not a valid ZFS dataset name/);
  }
  expect(refused(() => validateChildDataset('rpool', 'dataset'), 'dataset').message).toMatch(/is a pool, not a dataset under one/);
  expect(validateChildDataset('rpool/v', 'dataset')).toBe('rpool/v');
});

test('snapshot names', () => {
  for (const ok of ['rpool/images/abc-u100000@ready', 'tank@s', 'tank/a@s.1:2-3']) {
    expect(validateSnapshot(ok)).toBe(ok);
    expect(isSnapshotName(ok)).toBe(true);
  }
  for (const bad of [...hostile, 'tank', '@s', 'tank@', 'tank@-s', 'tank@s@t', 'tank/a b@s', 'tank@s/x', '-o@s', 'pool/x@ready; rm -rf /']) {
    expect(isSnapshotName(bad)).toBe(false);
    expect(refused(() => validateSnapshot(bad, 'image.zfsSnapshot'), 'image.zfsSnapshot').message).toMatch(/not a valid ZFS snapshot name/);
  }
  expect(poolOf('tank/a/b@s')).toBe('tank');
  expect(poolOf('tank@s')).toBe('tank');
});
