// How an OciImage's inputs apply: what is pulled and where its template lives make another image; how the provider
// reaches things only changes state; a new owner moves the claims on the cluster. Pure; common/definition.ts turns
// it into the diff.
import { formatReference, parseReference } from '../../oci/reference';
import type { ResourceDefinition } from '../common/definition';
import type { OciImageInputs, OciImageOutputs } from './schema';

/**
 * One spelling per image: beside a digest a tag is only a label (`repo:1.4@sha256:X` and `repo@sha256:X` pull the
 * same bytes), otherwise the canonical reference (`nginx` and `docker.io/library/nginx:latest` are one image). A
 * reference that does not parse is compared as written: check() reports it with its own message.
 */
export function imageIdentity(reference: string): string {
  try {
    const ref = parseReference(reference);
    return formatReference(ref.digest ? { ...ref, tag: undefined } : ref);
  } catch {
    return reference;
  }
}

/** Two references name the same content: the same digest in the same place, or the same canonical reference. */
export function sameImage(a: string, b: string): boolean {
  return imageIdentity(a) === imageIdentity(b);
}

export const ociImageDefinition: ResourceDefinition<OciImageInputs, OciImageOutputs> = {
  kind: 'OciImage',
  fields: {
    // What is pulled, and where the template lives: a change is a new image.
    reference: { apply: 'replace', compared: (i) => imageIdentity(i.reference) },
    platform: 'replace',
    node: { apply: 'replace', chosenWhenUnset: true },
    templateStorage: 'replace',
    zfs: 'replace',
    // A moved tag is a replacement: check() resolved the tag's current digest (a manifest request, no layers), which
    // is compared with the digest the image was pulled at, so the preview shows it without pulling anything. Left
    // unresolved (an unknown reference), it is not judged.
    resolvedDigest: { apply: 'replace', chosenWhenUnset: true, prior: (o) => o.digest },
    // How the provider reaches things: recorded in state, nothing to do.
    insecureRegistries: 'state',
    store: 'state',
    timeouts: 'state',
    // Outputs never carry the secret (the engine keeps the inputs), so there is nothing to compare it with.
    credentials: 'derived',
    // A new owner (first run with owner records, a renamed stack) is an update: it moves the claims on the cluster.
    owner: 'live',
  },
  // A claim deleted behind our back (refresh reads `claimed: false`) is recorded again by an update.
  repairs: { claimed: (olds) => olds.claimed === false },
  // Nothing of an image is unique to it (templates and chains are content-addressed and shared by claims): the
  // replacement is made before the old image goes.
  deleteBeforeReplace: false,
};
