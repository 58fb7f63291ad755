// OciImage: an OCI image pulled, verified and turned into an LXC template on a PVE storage. check() resolves a tag to
// its current digest (manifest only), so a moved tag shows as a replacement in `pulumi preview`.
import { checkWithSchema } from '../common/check';
import { containsUnknown } from '../common/unknowns';
import type { ResourceModule } from '../types';
import { canonicalPlatform, createOciImage, currentDigest, deleteOciImage, readOciImage, updateOciImage } from './lifecycle';
import { ociImageDiff } from './plan';
import { ociImageInputsSchema, type OciImageInputs, type OciImageOutputs } from './schema';

export const ociImageModule: ResourceModule<OciImageInputs, OciImageOutputs> = {
  kind: 'OciImage',
  schema: ociImageInputsSchema,
  async check(_olds, news) {
    const result = checkWithSchema(ociImageInputsSchema, news);
    if (result.failures || !result.inputs) return result;
    const { resolvedDigest: _previous, ...inputs } = result.inputs;
    // Still unknown during preview (depends on another resource): nothing to resolve yet.
    if (containsUnknown(inputs)) return { inputs: inputs as OciImageInputs };
    const platform = canonicalPlatform(inputs.platform);
    try {
      return { inputs: { ...inputs, platform, resolvedDigest: await currentDigest(inputs) } };
    } catch (err) {
      return { inputs: inputs as OciImageInputs, failures: [{ property: 'reference', reason: `cannot resolve ${inputs.reference}: ${(err as Error).message}` }] };
    }
  },
  diff: (_id, olds, news) => ociImageDiff(olds, news),
  create: (inputs) => createOciImage(inputs),
  read: (id, props) => readOciImage(id, props) as any,
  update: (_id, olds, news) => updateOciImage(olds, news),
  delete: (id, props) => deleteOciImage(id, props),
};

export * from './schema';
export { ociImageDiff, templateFileName, templateVolid, envRecord, podImageOf, pveArch } from './plan';
export { createOciImage, readOciImage, deleteOciImage, updateOciImage, currentDigest, REF_PREFIX } from './lifecycle';
