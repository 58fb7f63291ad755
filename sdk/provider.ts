// The provider object Pulumi serializes into every resource's state. It must stay tiny: each method loads the
// implementation by package name when it runs, so state carries a few hundred bytes, not a copy of the provider.
import type * as pulumi from '@pulumi/pulumi';

export function providerFor(kind: string): pulumi.dynamic.ResourceProvider {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const impl = () => require('proxmox-pods/provider');
  return {
    configure: (req) => impl().configure(req),
    check: (olds, news) => impl().handler(kind).check(olds, news),
    diff: (id, olds, news) => impl().handler(kind).diff(id, olds, news),
    create: (inputs) => impl().handler(kind).create(inputs),
    read: (id, props) => impl().handler(kind).read(id, props),
    update: (id, olds, news) => impl().handler(kind).update(id, olds, news),
    delete: (id, props) => impl().handler(kind).delete(id, props),
  };
}
