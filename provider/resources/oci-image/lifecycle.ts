// The OciImage's I/O: pull (verified) into the content store, unpack into a private staging rootfs, pack the
// tar.zst template, upload it with its checksum, and keep store refs so that templates and blobs shared by several
// images are only removed with the last of them.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { PveClient } from '../../proxmox/client';
import { ContentStore, defaultStorePath, pullImage, resolveDigest, formatPlatform, parsePlatform, type PulledImage, type PullProgress } from '../../oci';
import { ApplyOptionsSchema, applyLayer, PVE_UNPRIVILEGED_IDMAP, unpackImage } from '../../oci/unpack';
import { Deadline, timeoutMs } from '../common/duration';
import { pveClient } from '../common/connection';
import { envRecord, podImageOf, templateFileName, templateVolid } from './plan';
import type { OciImageInputs, OciImageOutputs, OciImageSizes } from './schema';
import { packTemplate } from '../../oci/convert/template';
import { ChainInUseError } from '../../host/zfs';
import { nodeChains } from '../common/node-zfs';
import { messageOf, warn } from '../../diagnostics';

export interface OciImageContext {
  pve: PveClient;
  /** Notes for the user (dropped env entries, skipped uploads, kept templates and chains); warnings by default. */
  log: (message: string) => void;
  onProgress?: (p: PullProgress) => void;
}

/** Store refs of OciImage resources start with this; other refs (the CLI's) never keep a template alive. */
export const REF_PREFIX = 'ociimage-';

function ctxOrDefault(ctx?: Partial<OciImageContext>): OciImageContext {
  return { pve: ctx?.pve ?? pveClient(), log: ctx?.log ?? ((message) => warn(message)), ...(ctx?.onProgress ? { onProgress: ctx.onProgress } : {}) };
}

export function openStore(inputs: Pick<OciImageInputs, 'store'>): Promise<ContentStore> {
  return ContentStore.open(inputs.store ?? defaultStorePath());
}

function sourceOptions(inputs: Pick<OciImageInputs, 'credentials' | 'insecureRegistries'>) {
  return { ...(inputs.credentials ? { credentials: inputs.credentials } : {}), ...(inputs.insecureRegistries ? { insecureRegistries: inputs.insecureRegistries } : {}) };
}

/** The digest the reference points to now: a manifest request (HEAD where the registry allows), never layers. */
export function currentDigest(inputs: Pick<OciImageInputs, 'reference' | 'credentials' | 'insecureRegistries'>): Promise<string> {
  return resolveDigest(inputs.reference, sourceOptions(inputs));
}

export const canonicalPlatform = (p: string) => formatPlatform(parsePlatform(p));

/** Unpacks the pulled layers (ownership as in the image) and packs them as a template in `dir`. */
async function buildTemplate(store: ContentStore, pulled: PulledImage, dir: string, deadline: Deadline): Promise<{ path: string; size: number; sha256: string; unpacked: number }> {
  const rootfs = join(dir, 'rootfs');
  // No uid shift here: PVE extracts a template for an unprivileged CT through lxc-usernsexec, which maps 0 → 100000
  // itself; shifted ids in the tar would land outside the container's range.
  const stats = await unpackImage({
    target: rootfs,
    idmap: null,
    layers: pulled.layers.map((l) => ({ path: store.blobPath(l.digest), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId, size: l.size })),
  });
  deadline.check();
  const packed = await packTemplate({ rootfs, outDir: dir, name: templateFileName(pulled.manifestDigest).replace(/\.tar\.zst$/, '') });
  return { ...packed, unpacked: stats.bytes };
}

async function buildChains(node: string, parent: string, store: ContentStore, pulled: PulledImage): Promise<string> {
  const chains = await nodeChains(node, parent, { localOnly: true });
  const opts = ApplyOptionsSchema.parse({ idmap: PVE_UNPRIVILEGED_IDMAP });
  const result = await chains.ensureChain(
    pulled.layers.map((l) => ({
      digest: l.digest,
      diffId: l.diffId,
      apply: async (mountpoint: string) => {
        await applyLayer(mountpoint, { stream: createReadStream(store.blobPath(l.digest)), mediaType: l.mediaType, digest: l.digest, diffId: l.diffId, compressedSize: l.size }, opts);
      },
    })),
  );
  return result.snapshot;
}

export async function createOciImage(inputs: OciImageInputs, ctxIn?: Partial<OciImageContext>): Promise<{ id: string; outs: OciImageOutputs }> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`create OciImage ${inputs.reference}`, timeoutMs(inputs.timeouts, 'create'));
  const node = inputs.node ?? (await ctx.pve.defaultNode());
  const storage = inputs.templateStorage;
  const store = await openStore(inputs);
  const id = `${REF_PREFIX}${randomBytes(8).toString('hex')}`;
  const platform = canonicalPlatform(inputs.platform);
  const pulled = await pullImage(inputs.reference, { store, platform, refName: id, ...sourceOptions(inputs), ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) });
  try {
    deadline.check();
    const volid = templateVolid(storage, pulled.manifestDigest);
    const existing = (await ctx.pve.storageContent(node, storage, 'vztmpl')).find((c) => c.volid === volid);
    const sizes: OciImageSizes = { compressed: pulled.totalSize, template: existing?.size ?? 0 };
    if (existing) {
      ctx.log(`template ${volid} is already on ${node}; upload skipped`);
    } else {
      const tmp = join(store.root, 'tmp');
      await mkdir(tmp, { recursive: true, mode: 0o700 });
      const dir = await mkdtemp(join(tmp, 'template-'));
      try {
        const built = await buildTemplate(store, pulled, dir, deadline);
        deadline.check();
        const uploaded = await ctx.pve.uploadToStorage(
          node, storage,
          { content: 'vztmpl', filename: templateFileName(pulled.manifestDigest), data: built.path, size: built.size, checksum: built.sha256, checksumAlgorithm: 'sha256' },
          { deadlineMs: deadline.remaining() },
        );
        if (uploaded !== volid) ctx.log(`PVE stored the template as ${uploaded}`);
        Object.assign(sizes, { unpacked: built.unpacked, template: built.size });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const zfsSnapshot = inputs.zfs ? await buildChains(node, inputs.zfs.parentDataset, store, pulled) : undefined;
    const { env, dropped } = envRecord(pulled.config.env);
    if (dropped.length) ctx.log(`image environment entries PVE cannot take were left out: ${dropped.join(', ')}`);
    const { credentials: _secret, ...kept } = inputs;
    const base = {
      ...kept,
      platform,
      node,
      digest: pulled.digest,
      manifestDigest: pulled.manifestDigest,
      resolvedReference: pulled.resolvedReference,
      entrypoint: pulled.config.entrypoint,
      cmd: pulled.config.cmd,
      env,
      workdir: pulled.config.workdir,
      user: pulled.config.user,
      exposedPorts: pulled.config.exposedPorts,
      templateVolid: volid,
      ...(zfsSnapshot ? { zfsSnapshot } : {}),
      sizes,
    };
    return { id, outs: { ...base, resolvedDigest: pulled.digest, podImage: podImageOf(base) } };
  } catch (err) {
    // Nothing was uploaded (the upload is the last step): the ref must not keep the blobs alive either. Failing to
    // drop it only keeps blobs until the next gc that finds it: say so, the create's own error is what counts.
    await store.deleteRef(id).catch((cleanup: unknown) => ctx.log(`store ref ${id} of the failed create was left (its blobs stay until it is removed): ${messageOf(cleanup)}`));
    throw err;
  }
}

/** Drift: the template is gone from the storage → the image no longer exists and the next `up` recreates it. */
export async function readOciImage(id: string, props: OciImageOutputs, ctxIn?: Partial<OciImageContext>): Promise<{ id: string; props: OciImageOutputs | Record<string, never> }> {
  const ctx = ctxOrDefault(ctxIn);
  const content = await ctx.pve.storageContent(props.node, props.templateStorage, 'vztmpl');
  if (!content.some((c) => c.volid === props.templateVolid)) return { id: '', props: {} };
  if (props.zfsSnapshot && props.zfs) {
    // The chain was destroyed behind Pulumi's back: gone too, so the next `up` builds it again (same ChainID names,
    // so pods of this image keep their inputs). Reading needs only `zfs list`, over SSH as well.
    const chains = await nodeChains(props.node, props.zfs.parentDataset);
    if (!(await chains.snapshotExists(props.zfsSnapshot))) return { id: '', props: {} };
  }
  const store = await openStore(props);
  if (!(await store.getRef(id))) {
    // The local store was wiped or this is another machine: record the ref again so deletes still count it.
    await store.setRef({ name: id, reference: props.reference, digest: props.digest, manifestDigest: props.manifestDigest });
  }
  return { id, props };
}

/** State-only changes (credentials, insecure registries, store, timeouts). */
export function updateOciImage(olds: OciImageOutputs, news: OciImageInputs): { outs: OciImageOutputs } {
  const { credentials: _secret, ...kept } = news;
  return { outs: { ...olds, ...kept, platform: olds.platform, node: olds.node, resolvedDigest: olds.digest } };
}

/** Idempotent. The template goes only when no other OciImage in this store uses the same platform manifest. */
export async function deleteOciImage(id: string, props: OciImageOutputs, ctxIn?: Partial<OciImageContext>): Promise<void> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`delete OciImage ${props.reference ?? id}`, timeoutMs(props.timeouts, 'delete'));
  const store = await openStore(props);
  await store.deleteRef(id);
  const sharing = (await store.listRefs()).filter((r) => r.name.startsWith(REF_PREFIX) && r.manifestDigest === props.manifestDigest);
  if (sharing.length) {
    ctx.log(`template ${props.templateVolid} is kept: ${sharing.map((r) => r.name).join(', ')} still use it`);
  } else if (props.templateVolid && props.node) {
    await ctx.pve.deleteContent(props.node, props.templateStorage, props.templateVolid, { deadlineMs: deadline.remaining() });
    if (props.zfsSnapshot && props.zfs) {
      // A chain that pods were cloned from stays until they are gone (deferred; refused by ZFS anyway).
      const top = props.zfsSnapshot.replace(/@ready$/, '');
      await (await nodeChains(props.node, props.zfs.parentDataset, { localOnly: true })).destroyChain(top).catch((err) => {
        if (!(err instanceof ChainInUseError)) throw err;
        ctx.log(`layer chain ${top} is kept: pods were cloned from it (${err.clones.join(', ')})`);
      });
    }
  }
  await store.gc();
}
