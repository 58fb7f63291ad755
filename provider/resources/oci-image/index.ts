// The OciImage kind, wired: check (schema, then the tag resolved to its current digest: a manifest request, so a
// moved tag shows as a replacement in `pulumi preview`), diff (definition.ts), the preview's cluster checks
// (preflight.ts) and the lifecycle (lifecycle.ts).
import { defineKind } from '../common/kind';
import { checkWithSchema } from '../common/check';
import { containsUnknown } from '../common/unknowns';
import { ociImageDefinition } from './definition';
import { canonicalPlatform, createOciImage, currentDigest, deleteOciImage, readOciImage, updateOciImage } from './lifecycle';
import { ociImagePreflight } from './preflight';
import { ociImageInputsSchema, type OciImageInputs, type OciImageOutputs } from './schema';

export const ociImageModule = defineKind<OciImageInputs, OciImageOutputs>({
  schema: ociImageInputsSchema,
  definition: ociImageDefinition,
  async check(_olds, news) {
    const result = checkWithSchema(ociImageInputsSchema, news);
    if (result.failures || !result.inputs) return result;
    const { resolvedDigest: _previous, ...inputs } = result.inputs;
    // Still unknown during preview (depends on another resource): nothing to resolve yet.
    if (containsUnknown(inputs)) return { inputs };
    const platform = canonicalPlatform(inputs.platform);
    try {
      return { inputs: { ...inputs, platform, resolvedDigest: await currentDigest(inputs) } };
    } catch (err) {
      return { inputs, failures: [{ property: 'reference', reason: `cannot resolve ${inputs.reference}: ${(err as Error).message}` }] };
    }
  },
  preflight: ociImagePreflight,
  create: (inputs) => createOciImage(inputs),
  read: (id, props) => readOciImage(id, props),
  update: (_id, olds, news) => updateOciImage(olds, news),
  delete: (id, props) => deleteOciImage(id, props),
});

export * from './schema';
export { templateFileName, templateVolid, envRecord, podImageOf, pveArch } from './plan';
export { createOciImage, readOciImage, deleteOciImage, updateOciImage, currentDigest, REF_PREFIX } from './lifecycle';
