// Pure parts of the template claims (provider/resources/oci-image/claims.ts): a claim's file name per owner, and which
// files of a storage listing claim which template; the layer chain claims' tags (chain-claims.ts).
import { claimFileName, claimTags } from '../../provider/resources/oci-image/claims';
import { chainClaimProps, chainClaimTag } from '../../provider/resources/oci-image/chain-claims';
import { ownerTag, type OwnerKey } from '../../provider/resources/common/owner';

const dev: OwnerKey = { project: 'shop', stack: 'dev', kind: 'OciImage', name: 'app' };
const staging: OwnerKey = { ...dev, stack: 'staging' };

describe('template claims', () => {
  it('names one claim file per owner beside the template, a name PVE accepts for vztmpl uploads', () => {
    const name = claimFileName('oci-0123456789abcdef.tar.zst', dev);
    expect(name).toBe(`oci-0123456789abcdef.claim.${ownerTag(dev)}.tar.zst`);
    expect(name).not.toBe(claimFileName('oci-0123456789abcdef.tar.zst', staging));
    // pve-storage: safe characters only, and a .tar.zst extension (VZTMPL_EXT_RE_1).
    expect(name).toMatch(/^[a-zA-Z0-9\-.+=_]+\.tar\.zst$/);
  });

  it('counts only the claims on this template, never the template itself or other templates\' claims', () => {
    const listing = [
      'local:vztmpl/oci-0123456789abcdef.tar.zst',
      `local:vztmpl/${claimFileName('oci-0123456789abcdef.tar.zst', dev)}`,
      `local:vztmpl/${claimFileName('oci-0123456789abcdef.tar.zst', staging)}`,
      `local:vztmpl/${claimFileName('oci-fedcba9876543210.tar.zst', dev)}`,
      'local:vztmpl/oci-0123456789abcdef.claim.not-a-tag.tar.zst',
      'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
    ];
    expect(claimTags('oci-0123456789abcdef.tar.zst', listing)).toEqual([ownerTag(dev), ownerTag(staging)].sort());
    expect(claimTags('oci-fedcba9876543210.tar.zst', listing)).toEqual([ownerTag(dev)]);
    expect(claimTags('oci-1111111111111111.tar.zst', listing)).toEqual([]);
  });
});

describe('layer chain claims', () => {
  it('tags a claim by owner and chain top: two images of one resource (a replace) are two claims', () => {
    const v1 = chainClaimTag(dev, 'rpool/images/aaa-u100000@ready');
    expect(v1).toMatch(/^pp-[0-9a-f]{16}$/);
    expect(chainClaimTag(dev, 'rpool/images/bbb-u100000@ready')).not.toBe(v1);
    expect(chainClaimTag(staging, 'rpool/images/aaa-u100000@ready')).not.toBe(v1);
    expect(chainClaimTag(dev, 'rpool/images/aaa-u100000@ready')).toBe(v1);
  });
  it('claims with the owner id as the value and marks the dataset as once claimed', () => {
    expect(chainClaimProps(dev, 'p/c@ready')).toEqual({ 'proxmox-pods:chain': 'claimed', [`proxmox-pods:claim.${chainClaimTag(dev, 'p/c@ready')}`]: 'shop/dev/OciImage/app' });
  });
});
