// The hidden input every SDK resource passes: which Pulumi project and stack own the objects it makes on the cluster
// (see provider/resources/common/owner.ts). Read at construction, when the program runs inside a stack.
import * as pulumi from '@pulumi/pulumi';
import type { OwnerScope } from '../provider/resources/common/owner';

export function ownerScope(): OwnerScope {
  return { project: pulumi.getProject(), stack: pulumi.getStack() };
}
