// SDK argument types are derived from the provider's zod schemas (z.input: defaults optional), wrapped so that
// every field accepts Pulumi Inputs.
import type * as pulumi from '@pulumi/pulumi';

export type Wrapped<T> = T extends string | number | boolean | undefined | null
  ? pulumi.Input<T>
  : T extends ReadonlyArray<infer E>
    ? pulumi.Input<ReadonlyArray<Wrapped<E>>>
    : T extends object
      ? pulumi.Input<{ [K in keyof T]: Wrapped<T[K]> }>
      : pulumi.Input<T>;

export type WrappedArgs<T> = { [K in keyof T]: Wrapped<T[K]> };

/**
 * For components, which read their arguments' shape while the program runs: objects and arrays stay plain, the
 * values in them accept Pulumi Inputs.
 */
export type InputLeaves<T> = T extends undefined | null
  ? T
  : T extends string | number | boolean
    ? pulumi.Input<T>
    : T extends ReadonlyArray<infer E>
      ? ReadonlyArray<InputLeaves<E>>
      : T extends object
        ? { [K in keyof T]: InputLeaves<T[K]> }
        : pulumi.Input<T>;
