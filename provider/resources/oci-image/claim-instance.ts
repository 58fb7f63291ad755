// Which of an owner's claims a release takes. An owner (project/stack/OciImage/<name>) is one resource of one stack,
// but Pulumi replaces create-before-delete: while a replacement is made, the resource has two images, and when both
// use the same template (a changed `zfs` or `platform`, a moved tag whose platform manifest stayed, another source of
// the same image) or the same layer chain (a changed `templateStorage`), a claim per owner would be one claim that
// the old image's delete takes from the new one. So each image's claims also carry its instance: when it was made.
// The replacement is always made after the image it replaces, so a release takes the owner's claims of its own
// instance and older ones (what an interrupted create of this owner left), and never a newer image's. Claims written
// before instances existed count as the oldest. Pure.

/** Fixed width, so that the text order of two instances is their time order; as it appears inside claim names. */
export const CLAIM_INSTANCE_PATTERN = '[0-9a-z]{9}';
export const CLAIM_INSTANCE_RE = new RegExp(`^${CLAIM_INSTANCE_PATTERN}$`);

/** An instance for an image made at `nowMs`, later than every instance of the same owner already on the cluster. */
export function nextClaimInstance(nowMs: number, existing: readonly string[]): string {
  // The newest existing one may be from a machine whose clock runs ahead: never hand out an instance older than it.
  const newest = existing.filter((i) => CLAIM_INSTANCE_RE.test(i)).reduce((max, i) => Math.max(max, parseInt(i, 36)), 0);
  return Math.max(Math.floor(nowMs), newest + 1).toString(36).padStart(9, '0');
}

/**
 * Which claims of the owner a release takes: `upTo` an instance (an image deleted: its own and older), `exactly` one
 * (a create that failed takes back only what it placed), or only the `legacy` ones (state from before instances).
 */
export type ReleaseScope = { upTo: string } | { exactly: string } | { legacy: true };

/** The scope of a delete of an image recorded with `instance` (none: state written before instances). */
export function releaseOnDelete(instance: string | undefined): ReleaseScope {
  return instance ? { upTo: instance } : { legacy: true };
}

/** Whether a claim of the owner with `instance` ('' for one written before instances) is taken by `scope`. */
export function releases(scope: ReleaseScope, instance: string): boolean {
  if ('upTo' in scope) return instance <= scope.upTo;
  if ('exactly' in scope) return instance === scope.exactly;
  return instance === '';
}
