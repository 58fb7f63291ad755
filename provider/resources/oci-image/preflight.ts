// The OciImage's preview checks: the node and the template storage (exists, holds "vztmpl" content) on the
// cluster, and the requested platform among those the image offers (from its index or config, no layers).
import { formatPlatform, parsePlatform } from '../../oci/platform';
import { platformScore, type Platform } from '../../oci/platform';
import { imagePlatforms } from '../../oci/platforms';
import { known, listed, resolveNode, storageFailure, type PreflightContext } from '../common/preflight';
import type { CheckFailure } from '../types';
import type { OciImageInputs } from './schema';

/** Per process: the platforms of each resolved image (a preview of many images of one reference asks once). */
const platformsCache = new Map<string, Promise<Platform[] | undefined>>();

async function platformFailures(inputs: OciImageInputs): Promise<CheckFailure[]> {
  if (!known(inputs.reference) || !known(inputs.platform)) return [];
  const key = `${inputs.reference}\0${inputs.resolvedDigest ?? ''}`;
  let platforms = platformsCache.get(key);
  if (!platforms) {
    platforms = imagePlatforms(inputs.reference, {
      ...(inputs.credentials ? { credentials: inputs.credentials } : {}),
      ...(inputs.insecureRegistries ? { insecureRegistries: inputs.insecureRegistries } : {}),
    // check() resolved this reference a moment ago; a failure to read its documents now is the pull's to report
    // (with the pull's retries), so the platform check is skipped rather than failing the preview twice.
    }).catch(() => undefined);
    platformsCache.set(key, platforms);
  }
  const offered = await platforms;
  if (!offered) return [];
  const wanted = parsePlatform(inputs.platform);
  if (offered.some((p) => platformScore(wanted, p) > 0)) return [];
  const names = [...new Set(offered.map(formatPlatform))];
  return [{ property: 'platform', reason: `${inputs.reference} has no ${formatPlatform(wanted)} image (it offers: ${listed(names)}); set platform to one of them` }];
}

export async function ociImagePreflight(inputs: OciImageInputs, ctx: PreflightContext): Promise<CheckFailure[]> {
  const failures = await platformFailures(inputs);
  if (!ctx.cluster) return failures;
  const { node, failures: nodeFailures } = await resolveNode(ctx.cluster, inputs.node, 'node');
  if (!node) return [...failures, ...nodeFailures];
  if (!known(inputs.templateStorage)) return failures;
  return [...failures, ...(await storageFailure(ctx.cluster, node, inputs.templateStorage, 'vztmpl', 'templateStorage'))];
}
