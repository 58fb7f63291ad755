// The hidden input every SDK resource passes: which Pulumi project and stack own the objects it makes on the cluster
// (see provider/resources/common/owner.ts). Read at construction, when the program runs inside a stack.
import * as pulumi from '@pulumi/pulumi';
import type { OwnerScope } from '../provider/resources/common/owner';

/** `resource`: the Pulumi resource name, for kinds whose inputs have no name of their own (see OwnerScope). */
export function ownerScope(resource?: string): OwnerScope {
  return { project: pulumi.getProject(), stack: pulumi.getStack(), ...(resource !== undefined ? { resource } : {}) };
}
