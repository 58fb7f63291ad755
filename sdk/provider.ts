// The provider object Pulumi serializes into every resource's state: `__provider` in the inputs and again in the
// outputs (the dynamic-provider host needs it in both: delete and read only see outputs). Pulumi's closure serializer
// (@pulumi/pulumi runtime/closure/createClosure.js) emits it one of two ways:
//  - as `require("<package path>")` when the object is the `module.exports` of a module under node_modules: the
//    per-kind modules in ./providers/ export exactly this object, so an installed proxmox-pods stores a few hundred
//    characters per copy;
//  - by value otherwise (a linked checkout: the module's real path is outside node_modules). Then every function
//    is emitted in its own wrapper, so the methods are as few and as small as the host allows: they capture
//    nothing, read the kind from the object (`this.k`; the host calls them as methods) and load the implementation
//    by package name when called. The README's "State size per resource" has the measured sizes.
import type * as pulumi from '@pulumi/pulumi';

export interface KindProvider extends pulumi.dynamic.ResourceProvider {
  /** The resource kind the implementation routes to (kept one letter long: it is stored with every resource). */
  readonly k: string;
}

// Shorthand methods, not function declarations: a declaration captures its own name, which the serializer then emits.
// Their parameters take their types from pulumi.dynamic.ResourceProvider (the object's contextual type).
/* eslint-disable @typescript-eslint/no-require-imports */
const methods: Omit<KindProvider, 'k'> & ThisType<KindProvider> = {
  configure(r) { return require('proxmox-pods/provider').configure(r); },
  check(o, n) { return require('proxmox-pods/provider').handler(this.k).check(o, n); },
  diff(i, o, n) { return require('proxmox-pods/provider').handler(this.k).diff(i, o, n); },
  create(n) { return require('proxmox-pods/provider').handler(this.k).create(n); },
  read(i, p) { return require('proxmox-pods/provider').handler(this.k).read(i, p); },
  update(i, o, n) { return require('proxmox-pods/provider').handler(this.k).update(i, o, n); },
  delete(i, p) { return require('proxmox-pods/provider').handler(this.k).delete(i, p); },
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** A provider object for one kind. Programs use the per-kind modules' single instance (providerFor). */
export function makeProvider(kind: string): KindProvider {
  return { k: kind, ...methods };
}

const MODULES: Record<string, string> = {
  Pod: 'pod', StatefulSetPod: 'statefulset-pod', PersistentVolume: 'persistent-volume', HeadlessService: 'headless-service',
  DeploymentBridge: 'deployment-bridge', PortForward: 'port-forward', OciImage: 'oci-image',
};

/**
 * The one provider object of a kind (a module's exports): Pulumi serializes a provider once per object, so one
 * object per kind means one serialization per kind for the whole program, not one per resource.
 */
export function providerFor(kind: string): KindProvider {
  const file = MODULES[kind];
  if (!file) throw new Error(`proxmox-pods: no provider module for kind "${kind}"`);
  return require(`./providers/${file}`) as KindProvider; // eslint-disable-line @typescript-eslint/no-require-imports
}
