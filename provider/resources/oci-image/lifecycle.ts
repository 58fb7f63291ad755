// The OciImage's I/O: pull (verified) into the content store, write the platform image as a single-image OCI archive
// from the verified blobs, upload it with its checksum as the template (PVE 9.1 creates CTs from OCI archives with
// its own mapping of the image config: pve-container Create.pm restore_oci_archive), and keep store refs so that
// templates and blobs shared by several images are only removed with the last of them. With `zfs`, the layer
// chains are built too, plus the small OCI-archive scaffold pods cloned from them are created from.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { PveClient } from '../../proxmox/client';
import { ContentStore, defaultStorePath, pullImage, resolveDigest, formatPlatform, parsePlatform, type PulledImage, type PullProgress } from '../../oci';
import { ApplyOptionsSchema, applyLayer, PVE_UNPRIVILEGED_IDMAP } from '../../oci/unpack';
import { Deadline, timeoutMs } from '../common/duration';
import { pveClient } from '../common/connection';
import { envRecord, podImageOf, scaffoldFileName, templateFileName, templateVolid } from './plan';
import type { OciImageInputs, OciImageOutputs, OciImageSizes } from './schema';
import { etcFilesOfLayers, scaffoldArchive, writeStoreArchive } from '../../oci/convert/oci-archive';
import { Readable } from 'node:stream';
import { ChainInUseError } from '../../oci/convert/zfs';
import { nodeChains } from '../common/node-zfs';

export interface OciImageContext {
  pve: PveClient;
  /** Progress and notes (dropped env entries, skipped uploads). */
  log: (message: string) => void;
  onProgress?: (p: PullProgress) => void;
}

/** Store refs of OciImage resources start with this; other refs (the CLI's) never keep a template alive. */
export const REF_PREFIX = 'ociimage-';

function ctxOrDefault(ctx?: Partial<OciImageContext>): OciImageContext {
  return { pve: ctx?.pve ?? pveClient(), log: ctx?.log ?? (() => undefined), ...(ctx?.onProgress ? { onProgress: ctx.onProgress } : {}) };
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

/** The template: the pulled platform image as an OCI archive in `dir`, every blob the store's verified bytes. */
async function buildTemplate(store: ContentStore, pulled: PulledImage, dir: string, deadline: Deadline): Promise<{ path: string; size: number; sha256: string }> {
  const built = await writeStoreArchive(store, pulled.manifestDigest, join(dir, templateFileName(pulled.manifestDigest)));
  deadline.check();
  return built;
}

/**
 * The ZFS-clone path's create template: PVE derives entrypoint, env, user (from /etc/passwd and /etc/group), working
 * directory and stop signal from the archive it creates from, so the scaffold carries the image's config and those two
 * files; the rootfs PVE extracts from it is then replaced by the clone.
 */
async function uploadScaffold(ctx: OciImageContext, node: string, storage: string, store: ContentStore, pulled: PulledImage, deadline: Deadline): Promise<string> {
  const filename = scaffoldFileName(pulled.manifestDigest);
  const volid = `${storage}:vztmpl/${filename}`;
  if ((await ctx.pve.storageContent(node, storage, 'vztmpl')).some((c) => c.volid === volid)) return volid;
  const config = JSON.parse((await store.readDocument(pulled.configDigest)).toString('utf8')) as Record<string, unknown>;
  const etc = await etcFilesOfLayers(pulled.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, open: () => createReadStream(store.blobPath(l.digest)) })));
  const s = await scaffoldArchive(config, etc);
  return ctx.pve.uploadToStorage(node, storage, { content: 'vztmpl', filename, data: Readable.from([s.bytes]), size: s.bytes.length, checksum: s.sha256, checksumAlgorithm: 'sha256' }, { deadlineMs: deadline.remaining() });
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
        Object.assign(sizes, { template: built.size });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    // Whether this image holds ZFS chains decides, at delete, whether an image sharing its template shares them too.
    const ref = await store.getRef(id);
    if (ref) await store.setRef({ ...ref, zfsParent: inputs.zfs?.parentDataset ?? null });
    const zfsSnapshot = inputs.zfs ? await buildChains(node, inputs.zfs.parentDataset, store, pulled) : undefined;
    const scaffoldVolid = inputs.zfs ? await uploadScaffold(ctx, node, storage, store, pulled, deadline) : undefined;
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
      ...(scaffoldVolid ? { scaffoldVolid } : {}),
      ...(pulled.config.stopSignal ? { stopSignal: pulled.config.stopSignal } : {}),
      sizes,
    };
    return { id, outs: { ...base, resolvedDigest: pulled.digest, podImage: podImageOf(base) } };
  } catch (err) {
    // Nothing was uploaded (the upload is the last step): the ref must not keep the blobs alive either.
    await store.deleteRef(id).catch(() => undefined);
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
    await store.setRef({ name: id, reference: props.reference, digest: props.digest, manifestDigest: props.manifestDigest, zfsParent: props.zfs?.parentDataset ?? null });
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
  // The scaffold is shared by the images of this manifest that have chains, the chains by those under the same
  // parent; a ref that predates the zfsParent field might be either, so it keeps both.
  const sharingScaffold = sharing.filter((r) => r.zfsParent !== null);
  const sharingChain = sharing.filter((r) => r.zfsParent === undefined || r.zfsParent === props.zfs?.parentDataset);
  if (sharing.length) ctx.log(`template ${props.templateVolid} is kept: ${sharing.map((r) => r.name).join(', ')} still use it`);
  else if (props.templateVolid && props.node) await ctx.pve.deleteContent(props.node, props.templateStorage, props.templateVolid, { deadlineMs: deadline.remaining() });
  if (props.scaffoldVolid && props.node && !sharingScaffold.length) {
    await ctx.pve.deleteContent(props.node, props.templateStorage, props.scaffoldVolid, { deadlineMs: deadline.remaining() });
  }
  if (props.node && !sharingChain.length) {
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
