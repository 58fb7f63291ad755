// Pure parts of the claims on shared templates (oci-image/claims.ts) and layer chains (chain-claims.ts): names per
// owner and image instance, which files of a listing claim which template, and which claims a release takes
// (claim-instance.ts).
import { claimFileName, claimsIn } from '../../provider/resources/oci-image/claims';
import { chainClaimProps, chainClaimTag, claimsReleased } from '../../provider/resources/oci-image/chain-claims';
import { nextClaimInstance, releaseOnDelete, releases } from '../../provider/resources/oci-image/claim-instance';
import { ownerTag, type OwnerKey } from '../../provider/resources/common/owner';

const dev: OwnerKey = { project: 'shop', stack: 'dev', kind: 'OciImage', name: 'app' };
const staging: OwnerKey = { ...dev, stack: 'staging' };
const T = 'oci-0123456789abcdef.tar.zst';

describe('claim instances', () => {
  test('fixed width, so text order is time order; never older than an instance already there', () => {
    const a = nextClaimInstance(1_700_000_000_000, []);
    expect(a).toMatch(/^[0-9a-z]{9}$/);
    const b = nextClaimInstance(1_700_000_000_001, [a]);
    expect(b > a).toBe(true);
    // A machine whose clock is behind still makes an instance later than the one it replaces.
    const behind = nextClaimInstance(1_600_000_000_000, [b, 'not-an-instance']);
    expect(behind > b).toBe(true);
    expect(parseInt(behind, 36)).toBe(parseInt(b, 36) + 1);
  });

  test('a delete takes its own instance and older ones (and claims from before instances), never a newer one', () => {
    const scope = releaseOnDelete('00lx0aaaa');
    expect(releases(scope, '00lx0aaaa')).toBe(true);
    expect(releases(scope, '00lx09zzz')).toBe(true);
    expect(releases(scope, '')).toBe(true);
    expect(releases(scope, '00lx0aaab')).toBe(false);
    // State from before instances takes only the claims from before instances; a failed create only its own.
    expect(releases(releaseOnDelete(undefined), '')).toBe(true);
    expect(releases(releaseOnDelete(undefined), '00lx0aaaa')).toBe(false);
    expect(releases({ exactly: '00lx0aaab' }, '00lx0aaaa')).toBe(false);
    expect(releases({ exactly: '00lx0aaab' }, '00lx0aaab')).toBe(true);
  });
});

describe('template claims', () => {
  test('one claim file per owner and instance beside the template, a name PVE accepts for vztmpl uploads', () => {
    const name = claimFileName(T, dev, '00lx0aaaa');
    expect(name).toBe(`oci-0123456789abcdef.claim.${ownerTag(dev)}.00lx0aaaa.tar.zst`);
    expect(name).not.toBe(claimFileName(T, staging, '00lx0aaaa'));
    expect(name).not.toBe(claimFileName(T, dev, '00lx0aaab'));
    expect(claimFileName(T, dev)).toBe(`oci-0123456789abcdef.claim.${ownerTag(dev)}.tar.zst`);
    // pve-storage: safe characters only, and a .tar.zst extension (VZTMPL_EXT_RE_1).
    expect(name).toMatch(/^[a-zA-Z0-9\-.+=_]+\.tar\.zst$/);
  });

  test('counts only the claims on this template, with their instances, never the template or other templates\' claims', () => {
    const listing = [
      `local:vztmpl/${T}`,
      `local:vztmpl/${claimFileName(T, dev, '00lx0aaaa')}`,
      `local:vztmpl/${claimFileName(T, dev)}`,
      `local:vztmpl/${claimFileName(T, staging, '00lx0aaab')}`,
      `local:vztmpl/${claimFileName('oci-fedcba9876543210.tar.zst', dev, '00lx0aaac')}`,
      'local:vztmpl/oci-0123456789abcdef.claim.not-a-tag.tar.zst',
      'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
    ];
    expect(claimsIn(T, listing)).toEqual(expect.arrayContaining([
      { tag: ownerTag(dev), instance: '00lx0aaaa' }, { tag: ownerTag(dev), instance: '' }, { tag: ownerTag(staging), instance: '00lx0aaab' },
    ]));
    expect(claimsIn(T, listing)).toHaveLength(3);
    expect(claimsIn('oci-fedcba9876543210.tar.zst', listing)).toEqual([{ tag: ownerTag(dev), instance: '00lx0aaac' }]);
    expect(claimsIn('oci-1111111111111111.tar.zst', listing)).toEqual([]);
  });
});

describe('layer chain claims', () => {
  test('claims with the owner id as the value, per image instance, and marks the dataset as once claimed', () => {
    expect(chainClaimProps(dev, '00lx0aaaa')).toEqual({ 'proxmox-pods:chain': 'claimed', [`proxmox-pods:claim.${ownerTag(dev)}.00lx0aaaa`]: 'shop/dev/OciImage/app' });
  });

  test('a release takes the owner\'s claims in its scope, those from before instances, and nobody else\'s', () => {
    const top = 'rpool/images/aaa-u100000@ready';
    const props = [
      `proxmox-pods:claim.${ownerTag(dev)}.00lx0aaaa`, // this image
      `proxmox-pods:claim.${ownerTag(dev)}.00lx0aaab`, // its replacement
      `proxmox-pods:claim.${ownerTag(staging)}.00lx0aaaa`, // another stack
      `proxmox-pods:claim.${chainClaimTag(dev, top)}`, // before instances: per owner and chain top
      `proxmox-pods:claim.${chainClaimTag(dev, 'rpool/images/bbb-u100000@ready')}`, // … of another chain: not ours to read
      `proxmox-pods:claim.${ownerTag(dev)}`, // before that: per owner
      'proxmox-pods:chain',
    ];
    expect(claimsReleased(props, dev, top, releaseOnDelete('00lx0aaaa'))).toEqual([props[0], props[3], props[5]]);
    expect(claimsReleased(props, dev, top, releaseOnDelete(undefined))).toEqual([props[3], props[5]]);
    expect(claimsReleased(props, dev, top, { exactly: '00lx0aaab' })).toEqual([props[1]]);
  });
});
