// Who owns an object the provider makes on a node: the Pulumi project, stack, resource kind and resource name.
// Every container, template, ZFS chain, volume, bridge, forward rule and DNS zone carries this key, so that a create
// finds what an earlier, interrupted create made (find-or-create), and nothing is ever changed or deleted unless it
// is ours. The SDK passes project and stack as the hidden input `owner`; the kind and name come from the resource.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ProxmoxPodsError } from '../../errors';

/** The stack that manages a resource. Filled in by the SDK (`pulumi.getProject()`, `pulumi.getStack()`). */
export const ownerScopeSchema = z
  .object({
    /** The Pulumi project (`pulumi.getProject()`). */
    project: z.string().min(1, { message: 'must name the Pulumi project' }),
    /** The Pulumi stack (`pulumi.getStack()`). */
    stack: z.string().min(1, { message: 'must name the Pulumi stack' }),
    /**
     * The Pulumi resource name, passed by kinds whose inputs have no name of their own that is the resource's
     * (OciImage, PersistentVolume, DeploymentBridge, HeadlessService). Kinds that take the name as an input leave it out.
     */
    resource: z.string().min(1, { message: 'must name the Pulumi resource' }).optional(),
  })
  .strict();
export type OwnerScope = z.infer<typeof ownerScopeSchema>;

export interface OwnerKey extends OwnerScope {
  /** The resource kind as the SDK names it (`Pod`, `StatefulSetPod`, `OciImage`, ...). */
  kind: string;
  /** The Pulumi resource name. */
  name: string;
}

export function ownerKey(scope: OwnerScope | undefined, kind: string, name: string): OwnerKey | undefined {
  return scope ? { project: scope.project, stack: scope.stack, kind, name } : undefined;
}

/** The key of a kind whose SDK class passes the resource name in the scope (`scope.resource`), else `fallback`. */
export function scopedOwnerKey(scope: OwnerScope | undefined, kind: string, fallback: string): OwnerKey | undefined {
  return ownerKey(scope, kind, scope?.resource ?? fallback);
}

/** The canonical text of a key: `project/stack/kind/name` (each part URI-encoded so no separator is ambiguous). */
export function ownerId(key: OwnerKey): string {
  return [key.project, key.stack, key.kind, key.name].map(encodeURIComponent).join('/');
}

export function parseOwnerId(text: string): OwnerKey | undefined {
  const parts = text.split('/');
  if (parts.length !== 4 || parts.some((p) => p === '')) return undefined;
  try {
    const [project, stack, kind, name] = parts.map(decodeURIComponent) as [string, string, string, string];
    return { project, stack, kind, name };
  } catch {
    return undefined; // not an owner id we wrote: treat as no owner
  }
}

/**
 * A PVE tag that names the owner (PVE tags allow `[a-z0-9_][a-z0-9_\-+.]*`): `pp-` and 16 hex digits of the key's
 * sha256. It is written with the create request, so the object is findable from the moment PVE makes it, and one
 * `GET /cluster/resources` finds it on every node.
 */
export function ownerTag(key: OwnerKey): string {
  return `pp-${createHash('sha256').update(ownerId(key)).digest('hex').slice(0, 16)}`;
}

/** An owner tag as it appears inside longer names (claim files, ZFS property names). */
export const OWNER_TAG_PATTERN = 'pp-[0-9a-f]{16}';
export const OWNER_TAG_RE = new RegExp(`^${OWNER_TAG_PATTERN}$`);

export function sameOwner(a: OwnerKey | undefined, b: OwnerKey | undefined): boolean {
  return !!a && !!b && ownerId(a) === ownerId(b);
}

export function describeOwner(key: OwnerKey): string {
  return `${key.kind} "${key.name}" of stack ${key.project}/${key.stack}`;
}

/** The provider met an object it does not own: it never changes or deletes it. */
export class NotOwnedError extends ProxmoxPodsError {
  constructor(readonly what: string, readonly owner: OwnerKey | undefined, readonly wanted: OwnerKey | undefined, fix: string) {
    const by = owner ? `is owned by ${describeOwner(owner)}` : 'is not managed by proxmox-pods';
    super(`${what} ${by}${wanted ? `, not by ${describeOwner(wanted)}` : ''}; proxmox-pods changes and deletes only what it owns (${fix})`, 'E_NOT_OWNED');
  }
}
