// StatefulSet: a component that owns, per ordinal, a PersistentVolume (optional) and a StatefulSetPod, plus the
// HeadlessService that names them. Scaling up adds members at the end; scaling down removes the highest ordinals
// (their volumes follow the reclaim policy).
import * as pulumi from '@pulumi/pulumi';
import type { StatefulSetArgsInput } from '../provider/resources/statefulset-pod/set-args';
import { HeadlessService } from './headless-service';
import type { InputLeaves } from './inputs';
import { PersistentVolume } from './persistent-volume';
import { StatefulSetPod, type StatefulSetPodArgs } from './statefulset-pod';

/**
 * Derived from the schema (provider/resources/statefulset-pod/set-args.ts). The component reads `replicas`, `namespace`
 * and which of `volume`/`service` are given while the program runs, so those stay plain values; every other field
 * accepts a Pulumi Input, and the template takes what a StatefulSetPod takes (an OciImage as `image` included).
 */
export type StatefulSetArgs = Pick<StatefulSetArgsInput, 'replicas' | 'namespace'> &
  InputLeaves<Omit<StatefulSetArgsInput, 'replicas' | 'namespace' | 'template'>> & {
    /** Every member's pod settings; name, hostname, MAC and address are derived per ordinal. */
    template: Omit<StatefulSetPodArgs, 'set' | 'ordinal' | 'namespace' | 'domain' | 'service' | 'volume'>;
  };

export class StatefulSet extends pulumi.ComponentResource {
  readonly pods: StatefulSetPod[] = [];
  readonly volumes: PersistentVolume[] = [];
  readonly service?: HeadlessService;

  constructor(name: string, args: StatefulSetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('proxmox-pods:index:StatefulSet', name, {}, opts);
    if (!Number.isInteger(args.replicas) || args.replicas < 0) throw new Error(`StatefulSet ${name}: replicas must be a whole number ≥ 0`);
    const namespace = args.namespace ?? 'default';
    for (let ordinal = 0; ordinal < args.replicas; ordinal++) {
      let volume: StatefulSetPodArgs['volume'];
      if (args.volume) {
        const v = new PersistentVolume(`${name}-data-${ordinal}`, {
          name: `${namespace}-${name}-${ordinal}`,
          ordinal,
          sizeGiB: args.volume.sizeGiB,
          parentDataset: args.volume.parentDataset,
          reclaimPolicy: args.volume.reclaimPolicy,
          node: args.template.node,
        }, { parent: this });
        this.volumes.push(v);
        volume = { hostPath: v.hostPath, path: args.volume.path ?? '/data', node: v.node };
      }
      this.pods.push(
        new StatefulSetPod(`${name}-${ordinal}`, {
          ...args.template,
          set: name,
          ordinal,
          namespace,
          domain: args.domain,
          service: args.service ? name : undefined,
          volume,
        }, { parent: this }),
      );
    }
    if (args.service) {
      this.service = new HeadlessService(name, {
        name,
        namespace,
        domain: args.domain,
        node: args.service.node,
        listen: args.service.listen,
        ports: args.service.ports,
        pods: this.pods.map((p) => pulumi.all([p.podName, p.ip, p.status]).apply(([n, ip, status]) => ({ name: n, ip, ready: status === 'running' }))),
      }, { parent: this });
    }
    this.registerOutputs({ pods: this.pods.map((p) => p.podName) });
  }
}
