// One program for every environment. The first stack (dev) pulls an image by tag and verifies it; every later stack
// (staging, prod) names its upstream stack in `promoteFrom` and takes that stack's `imageRef` through a
// StackReference: a reference pinned to the verified digest, so it never resolves the tag itself and runs exactly
// what its upstream ran, whatever the tag points to now. What differs between environments is stack config:
//   image        the tag to pull (first stack only), e.g. registry.lan:5000/team/app:1.4 or oci-layout:/srv/oci/app:1.4
//   promoteFrom  the upstream stack, e.g. organization/proxmox-pods-promotion/dev (every later stack)
//   replicas     pods to run (default 1)
//   nodes        nodes to spread them over, round robin (default: proxmox-pods:node / the only node)
//   size         { cores, memory (MiB), diskGiB } per pod
//   storage      rootfs storage (default proxmox-pods:storage)
//   store        the image content store on the machine running Pulumi (default ~/.cache/proxmox-pods)
import * as pulumi from '@pulumi/pulumi';
import { OciImage, Pod } from '../../sdk';

const config = new pulumi.Config();
const promoteFrom = config.get('promoteFrom');
const tagged = config.get('image');
if (promoteFrom && tagged) {
  throw new Error('set either `image` (the stack that verifies a tag) or `promoteFrom` (a stack that takes its upstream\'s image), not both');
}
if (!promoteFrom && !tagged) {
  throw new Error('set `image` (pulumi config set image <reference>) or `promoteFrom` (pulumi config set promoteFrom organization/<project>/<stack>)');
}

// The upstream's pinned reference: `<registry>/<repo>@sha256:…`, `oci-layout:<dir>@sha256:…` or `oci-archive:<file>@sha256:…`.
const reference: pulumi.Input<string> = promoteFrom
  ? new pulumi.StackReference(promoteFrom).requireOutput('imageRef').apply((ref) => {
      if (typeof ref !== 'string' || !/@sha256:[0-9a-f]{64}$/.test(ref)) throw new Error(`stack ${promoteFrom} exports imageRef ${JSON.stringify(ref)}, not a digest-pinned reference`);
      return ref;
    })
  : tagged!;

const store = config.get('store');
// Numbers may arrive as strings (`pulumi config set --path size.memory 512` stores text): take them as numbers.
const rawSize = config.getObject<Record<string, unknown>>('size') ?? {};
const num = (v: unknown) => (v === undefined ? undefined : Number(v));
const size = { cores: num(rawSize.cores), memory: num(rawSize.memory), diskGiB: num(rawSize.diskGiB) };
const nodes = config.getObject<string[]>('nodes') ?? [];
const replicas = config.getNumber('replicas') ?? 1;
const storage = config.get('storage');

// A template lives on one node's storage (`local` is not shared), so each node gets its own copy of the image.
const imageOn = (node: string | undefined) => new OciImage(node ? `app-${node}` : 'app', { reference, ...(node ? { node } : {}), ...(store ? { store } : {}) });
const images = new Map((nodes.length ? nodes : [undefined]).map((node) => [node, imageOn(node)] as const));
const image = images.values().next().value!;

const pods = Array.from({ length: replicas }, (_, i) => {
  const node = nodes.length ? nodes[i % nodes.length] : undefined;
  return new Pod(`app-${i}`, {
    image: images.get(node)!,
    ...(node ? { node } : {}),
    cores: size.cores ?? 1,
    memory: size.memory ?? 256,
    rootfs: { sizeGiB: size.diskGiB ?? 2, ...(storage ? { storage } : {}) },
    network: { ip: 'dhcp' },
    tags: ['promotion'],
  });
});

/** The verified image, pinned: what the next stack promotes. */
export const imageRef = image.pinnedReference;
/** The same in every stack that runs this image: compare them to see what is promoted where. */
export const imageDigest = image.digest;
export const podVmids = pods.map((p) => p.vmid);
