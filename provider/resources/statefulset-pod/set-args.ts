// The StatefulSet component's arguments (sdk/statefulset.ts), as a zod schema built from the schemas of the
// resources it makes, so its fields, rules, defaults and documentation are the members' own: the template is a
// StatefulSetPod's inputs minus what the set fills in per ordinal, the volume a PersistentVolume's, the service a
// HeadlessService's. The component has no provider of its own: the members' check() validates the values.
import { z } from 'zod';
import { headlessServiceInputsSchema } from '../headless-service/schema';
import { persistentVolumeInputsSchema } from '../persistent-volume/schema';
import { statefulSetPodInputsSchema } from './schema';

const pod = statefulSetPodInputsSchema.shape;
const volume = persistentVolumeInputsSchema.shape;
const service = headlessServiceInputsSchema.shape;

export const statefulSetArgsSchema = z
  .object({
    /**
     * How many members: ordinals 0 … replicas-1. Scaling up adds members at the end; scaling down removes the highest
     * ordinals (their volumes follow `volume.reclaimPolicy`).
     */
    replicas: z.number().int({ message: 'must be a whole number' }).min(0, { message: 'must be 0 or more' }).max(10000),
    namespace: pod.namespace,
    domain: pod.domain,
    /** Every member's pod settings; name, hostname, MAC and address are derived per ordinal. */
    template: statefulSetPodInputsSchema.omit({ set: true, ordinal: true, namespace: true, domain: true, service: true, volume: true, restartPlanned: true, owner: true }),
    /** A PersistentVolume per member (`<namespace>-<set>-<ordinal>`), on the member's node, mounted at `path`. */
    volume: z
      .object({
        sizeGiB: volume.sizeGiB,
        parentDataset: volume.parentDataset,
        reclaimPolicy: volume.reclaimPolicy,
        /**
         * Where the volume is mounted inside each pod.
         * @default "/data"
         */
        path: z.string().startsWith('/', { message: 'must be an absolute path' }).default('/data'),
      })
      .strict()
      .optional(),
    /** The HeadlessService named like the set: where its DNS server listens and which named ports get SRV records. */
    service: z.object({ node: service.node, listen: service.listen, ports: service.ports }).strict().optional(),
  })
  .strict();

export type StatefulSetArgsInput = z.input<typeof statefulSetArgsSchema>;
