// A kind's module from its parts: the schema checks the inputs, the definition decides the diff, the lifecycle does
// the I/O. Every kind is assembled here, so no kind can hand-write a diff or skip the schema.
import type { ZodType } from 'zod';
import type { CheckResult, ResourceModule } from '../types';
import { checkWithSchema } from './check';
import { declaredDiff, type ResourceDefinition } from './definition';

export interface KindParts<I extends object, O extends I> extends Pick<ResourceModule<I, O>, 'preflight' | 'create' | 'read' | 'update' | 'delete'> {
  schema: ZodType<I>;
  definition: ResourceDefinition<I, O>;
  /** check() for kinds that add to the schema's result (derived outputs, a resolved digest); the schema alone by default. */
  check?: (olds: Record<string, unknown>, news: Record<string, unknown>) => Promise<CheckResult<I>> | CheckResult<I>;
}

export function defineKind<I extends object, O extends I>(parts: KindParts<I, O>): ResourceModule<I, O> {
  const { schema, definition, check, ...lifecycle } = parts;
  return {
    kind: definition.kind,
    schema,
    check: check ?? ((_olds, news) => checkWithSchema(schema, news)),
    diff: (_id, olds, news) => declaredDiff(definition, olds, news),
    ...lifecycle,
  };
}
