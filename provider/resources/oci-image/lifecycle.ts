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
import { ProxmoxPodsError } from '../../errors';
import { etcFilesOfLayers, scaffoldArchive, writeStoreArchive } from '../../oci/convert/oci-archive';
import { Readable } from 'node:stream';
import { nodeChains } from '../common/node-zfs';
import { messageOf, warn } from '../../diagnostics';
import { pinnedReference } from '../../oci/reference';
import { ownerId, ownerTag, scopedOwnerKey, type OwnerKey } from '../common/owner';
import { chainClaimProps, dropClaims, reclaimChain, releaseChain, sweepChains } from './chain-claims';
import { releaseOnDelete, type ReleaseScope } from './claim-instance';
import { READY } from '../../host/zfs';
import { claimsIn, claimText, claimTemplate, releaseTemplate, templateClaims, type TemplateRef } from './claims';
import type { ReadOutcome } from '../types';

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

/** Who claims this image's template and chains: the SDK passes the stack and the resource name. */
export function imageOwner(i: Pick<OciImageInputs, 'owner' | 'reference'>): OwnerKey | undefined {
  return scopedOwnerKey(i.owner, 'OciImage', i.reference);
}

const templateRef = (o: Pick<OciImageOutputs, 'node' | 'templateStorage' | 'manifestDigest'>): TemplateRef => ({ node: o.node, storage: o.templateStorage, file: templateFileName(o.manifestDigest) });

/**
 * Builds the image's layer chain, every dataset claimed for `owner` before it is relied on (chain-claims.ts), then
 * sweeps the parent: what an interrupted destroy of any owner left unclaimed goes now.
 */
async function buildChains(node: string, parent: string, store: ContentStore, pulled: PulledImage, claim: { owner: OwnerKey; instance: string } | undefined, log: (m: string) => void): Promise<string> {
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
    claim ? chainClaimProps(claim.owner, claim.instance) : {},
  );
  await sweepChains(node, parent, log);
  return result.snapshot;
}

/** A failed create takes back the claims its chain build may have placed (on the datasets that exist), then sweeps. */
async function unclaimChains(node: string, parent: string, pulled: PulledImage, owner: OwnerKey, instance: string, log: (m: string) => void): Promise<void> {
  const chains = await nodeChains(node, parent);
  const diffIds = pulled.layers.map((l) => l.diffId);
  await dropClaims(node, chains.datasetsFor(diffIds), owner, `${chains.topDatasetFor(diffIds)}@${READY}`, { exactly: instance });
  await sweepChains(node, parent, log);
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
  const owner = imageOwner(inputs);
  const ref: TemplateRef = { node, storage, file: templateFileName(pulled.manifestDigest) };
  // This image's claims (claim-instance.ts); set once the template claim is recorded.
  let instance: string | undefined;
  let uploadedHere = false;
  try {
    deadline.check();
    const volid = templateVolid(storage, pulled.manifestDigest);
    // Claim before looking: a destroy racing this create then sees the claim and keeps the template (claims.ts).
    if (owner) instance = await claimTemplate(ctx.pve, ref, owner, deadline);
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
        uploadedHere = true;
        if (uploaded !== volid) ctx.log(`PVE stored the template as ${uploaded}`);
        Object.assign(sizes, { template: built.size });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const zfsSnapshot = inputs.zfs ? await buildChains(node, inputs.zfs.parentDataset, store, pulled, owner && instance ? { owner, instance } : undefined, ctx.log) : undefined;
    // ZFS-clone pods are created from the image's own OCI scaffold (its config, /etc/passwd and /etc/group).
    const scaffoldVolid = inputs.zfs ? await uploadScaffold(ctx, node, storage, store, pulled, deadline) : undefined;
    // A destroy elsewhere that listed the claims just before ours was recorded may have deleted the template we found.
    if (existing && !(await ctx.pve.storageContent(node, storage, 'vztmpl')).some((c) => c.volid === volid)) {
      throw new ProxmoxPodsError(`template ${volid} was deleted on ${node} while this image was being created (another stack's destroy); run \`pulumi up\` again to upload it`, 'E_TEMPLATE_GONE');
    }
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
      pinnedReference: pulled.pinnedReference,
      entrypoint: pulled.config.entrypoint,
      cmd: pulled.config.cmd,
      env,
      workdir: pulled.config.workdir,
      user: pulled.config.user,
      exposedPorts: pulled.config.exposedPorts,
      templateVolid: volid,
      ...(zfsSnapshot ? { zfsSnapshot } : {}),
      ...(scaffoldVolid ? { scaffoldVolid } : {}),
      ...(instance ? { claimInstance: instance } : {}),
      ...(pulled.config.stopSignal ? { stopSignal: pulled.config.stopSignal } : {}),
      sizes,
    };
    return { id, outs: { ...base, resolvedDigest: pulled.digest, podImage: podImageOf(base) } };
  } catch (err) {
    // The image was not created: its ref must not keep the blobs alive, nor its claim the template; a template this
    // attempt uploaded goes too when no one else claims it. Best effort: a leftover ref only keeps blobs until the next
    // gc that finds it, a leftover claim is released by the delete of this owner's next image (claim-instance.ts); so a failing clean-up is
    // reported, not raised over the error that matters.
    await store.deleteRef(id).catch((cleanup: unknown) => ctx.log(`store ref ${id} of the failed create was left (its blobs stay until it is removed): ${messageOf(cleanup)}`));
    if (inputs.zfs && owner && instance) {
      await unclaimChains(node, inputs.zfs.parentDataset, pulled, owner, instance, ctx.log).catch((cleanup: unknown) => ctx.log(`could not take back the claims on the layer chain of the failed create (the delete of this resource's next image releases them): ${messageOf(cleanup)}`));
    }
    if (instance && owner) {
      try {
        const left = await releaseTemplate(ctx.pve, ref, owner, { exactly: instance }, deadline);
        if (uploadedHere && left.length === 0) await ctx.pve.deleteContent(node, storage, `${storage}:vztmpl/${ref.file}`, { deadlineMs: deadline.remaining() });
      } catch (cleanup) {
        ctx.log(`could not take back the claim on ${ref.file} after the failed create: ${messageOf(cleanup)}`);
      }
    }
    throw err;
  }
}

/**
 * Drift: the template is gone from the storage → the image no longer exists (`undefined`) and the next `up` recreates
 * it. A storage listing that fails is an error, never read as the template being gone.
 */
export async function readOciImage(id: string, props: OciImageOutputs, ctxIn?: Partial<OciImageContext>): Promise<ReadOutcome<OciImageInputs, OciImageOutputs>> {
  const ctx = ctxOrDefault(ctxIn);
  const content = await ctx.pve.storageContent(props.node, props.templateStorage, 'vztmpl');
  if (!content.some((c) => c.volid === props.templateVolid)) return undefined;
  // The template is there; is our claim on it? (The same listing holds both: claims.ts.)
  const owner = imageOwner(props);
  const mine = owner ? ownerTag(owner) : undefined;
  const claimed = mine ? claimsIn(templateRef(props).file, content.map((c) => c.volid)).some((c) => c.tag === mine && c.instance === (props.claimInstance ?? '')) : true;
  if (props.zfsSnapshot && props.zfs) {
    // The chain was destroyed behind Pulumi's back: gone too, so the next `up` builds it again (same ChainID names,
    // so pods of this image keep their inputs). Reading needs only `zfs list`, over SSH as well.
    const chains = await nodeChains(props.node, props.zfs.parentDataset);
    if (!(await chains.snapshotExists(props.zfsSnapshot))) return undefined;
  }
  const store = await openStore(props);
  if (!(await store.getRef(id))) {
    // The local store was wiped or this is another machine: record the ref again so deletes still count it.
    await store.setRef({ name: id, reference: props.reference, digest: props.digest, manifestDigest: props.manifestDigest, zfsParent: props.zfs?.parentDataset ?? null });
  }
  // States written before pinnedReference existed get it from what they recorded.
  const { claimed: _was, ...rest } = props;
  return { id, props: { ...rest, pinnedReference: props.pinnedReference ?? pinnedReference(props.reference, props.digest), ...(claimed ? {} : { claimed: false }) } };
}

/**
 * State-only changes (credentials, insecure registries, store, timeouts), and a new owner: its claims are recorded on
 * the cluster before the old owner's go, so the template is never unclaimed in between.
 */
export async function updateOciImage(olds: OciImageOutputs, news: OciImageInputs, ctxIn?: Partial<OciImageContext>): Promise<{ outs: OciImageOutputs }> {
  const { credentials: _secret, ...kept } = news;
  const outs: OciImageOutputs = { ...olds, ...kept, platform: olds.platform, node: olds.node, resolvedDigest: olds.digest };
  delete outs.claimed;
  const before = imageOwner(olds);
  const after = imageOwner(outs);
  // The claims the image had: its instance's, or from before instances (claim-instance.ts).
  const had: ReleaseScope = olds.claimInstance ? { exactly: olds.claimInstance } : { legacy: true };
  if (after && before && !ownerChanged(before, after) && olds.claimed === false) {
    // Refresh found our claim gone: record it again (claimTemplate keeps an existing one). State from before
    // instances gets one now.
    const deadline = new Deadline(`update OciImage ${olds.reference}`, timeoutMs(news.timeouts, 'update'));
    outs.claimInstance = await claimTemplate(ctxOrDefault(ctxIn).pve, templateRef(olds), after, deadline, olds.claimInstance);
  } else if (after && (!before || ownerChanged(before, after))) {
    const ctx = ctxOrDefault(ctxIn);
    const deadline = new Deadline(`update OciImage ${olds.reference}`, timeoutMs(news.timeouts, 'update'));
    const instance = await claimTemplate(ctx.pve, templateRef(olds), after, deadline, olds.claimInstance);
    outs.claimInstance = instance;
    if (olds.zfsSnapshot && olds.zfs) await reclaimChain(olds.node, olds.zfs.parentDataset, olds.zfsSnapshot, before ? { owner: before, scope: had } : undefined, after, instance);
    if (before) await releaseTemplate(ctx.pve, templateRef(olds), before, had, deadline);
  }
  return { outs };
}

const ownerChanged = (a: OwnerKey, b: OwnerKey) => ownerId(a) !== ownerId(b);

/**
 * Idempotent. The template and chains go only when no owner is left, as the cluster records it (claims.ts,
 * chain-claims.ts), whatever this machine's content store holds. State written before owner records (no `owner`):
 * other owners' claims still keep the template; with none, the local store decides, as it did in older versions.
 */
export async function deleteOciImage(id: string, props: OciImageOutputs, ctxIn?: Partial<OciImageContext>): Promise<void> {
  const ctx = ctxOrDefault(ctxIn);
  const deadline = new Deadline(`delete OciImage ${props.reference ?? id}`, timeoutMs(props.timeouts, 'delete'));
  const store = await openStore(props);
  await store.deleteRef(id);
  if (props.templateVolid && props.node && props.manifestDigest) {
    const owner = imageOwner(props);
    const ref = templateRef(props);
    const scope = releaseOnDelete(props.claimInstance);
    const left = (owner ? await releaseTemplate(ctx.pve, ref, owner, scope, deadline) : await templateClaims(ctx.pve, ref)).map(claimText);
    const sharing = owner ? [] : (await store.listRefs()).filter((r) => r.name.startsWith(REF_PREFIX) && r.manifestDigest === props.manifestDigest).map((r) => r.name);
    if (left.length) {
      ctx.log(`template ${props.templateVolid} is kept: ${left.length} other image${left.length === 1 ? '' : 's'} still claim${left.length === 1 ? 's' : ''} it (${left.join(', ')})`);
    } else if (sharing.length) {
      ctx.log(`template ${props.templateVolid} is kept: ${sharing.join(', ')} still use it`);
    } else {
      await ctx.pve.deleteContent(props.node, props.templateStorage, props.templateVolid, { deadlineMs: deadline.remaining() });
      // The image's OCI scaffold (for ZFS-clone pods) belongs to the same manifest and the same claims: it goes too.
      if (props.scaffoldVolid) await ctx.pve.deleteContent(props.node, props.templateStorage, props.scaffoldVolid, { deadlineMs: deadline.remaining() });
    }
    // A chain is judged on its own claims (the other owners of the template may not use ZFS); pods cloned from it keep
    // it too (ZFS refuses, and we say so). Without an owner record, as in older versions: only with the template.
    const templateKept = left.length > 0 || sharing.length > 0;
    if (props.zfsSnapshot && props.zfs && (owner || !templateKept)) await releaseChain(props.node, props.zfs.parentDataset, props.zfsSnapshot, owner, scope, ctx.log);
  }
  await store.gc();
}
