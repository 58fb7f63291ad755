// Who uses a template that several OciImages share (two stacks of one program, two images of one reference), recorded
// on the cluster, so that `pulumi destroy` of one stack removes it only when no other owner is left, whatever the
// local content store of the machine running destroy holds.
//
// Where a claim can live on a PVE storage: PVE keeps `notes` and `protected` only for backups (pve-storage
// src/PVE/Storage/Plugin.pm `update_volume_attribute` dies for other types; DirPlugin.pm `$update_volume_notes_impl`:
// "only backups can have notes"), and the upload API takes only iso, vztmpl and import content
// (src/PVE/API2/Storage/Status.pm `upload`). So each claim is a tiny vztmpl of its own beside the template:
// `<template>.claim.<owner tag>.<instance>.tar.zst` (about 150 bytes; a tar holding the owner's id; the instance is
// the image's, claim-instance.ts), uploaded and deleted through the same API as the template, on every storage type
// that holds templates, with no host access.
// One storage listing shows every claim. A Pod does not need its template once created (its rootfs is its own), so
// only OciImages claim; ZFS chains carry their claims as dataset user properties (chain-claims.ts).
//
// Order that keeps a racing create safe: a create claims first, then checks and uploads the template; a delete
// releases its claim first, then lists the claims and deletes the template only when none is left.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PveClient } from '../../proxmox/client';
import { compressLayer, makeTar } from '../../oci/layout/writer';
import type { Deadline } from '../common/duration';
import { OWNER_TAG_PATTERN, ownerId, ownerTag, type OwnerKey } from '../common/owner';
import { CLAIM_INSTANCE_PATTERN, nextClaimInstance, releases, type ReleaseScope } from './claim-instance';

const TEMPLATE_EXT = /\.tar\.zst$/;
const CLAIM_RE = new RegExp(`^(.+)\\.claim\\.(${OWNER_TAG_PATTERN})(?:\\.(${CLAIM_INSTANCE_PATTERN}))?\\.tar\\.zst$`);

/**
 * `oci-0123….tar.zst` + owner + instance → `oci-0123….claim.pp-<16 hex>.<instance>.tar.zst` (claim-instance.ts);
 * without an instance, the name claims had before instances existed. Pure.
 */
export function claimFileName(templateFile: string, owner: OwnerKey, instance?: string): string {
  return `${templateFile.replace(TEMPLATE_EXT, '')}.claim.${ownerTag(owner)}${instance ? `.${instance}` : ''}.tar.zst`;
}

/** One claim on a template: the owner's tag, and the image instance ('' for a claim from before instances). */
export interface TemplateClaim {
  tag: string;
  instance: string;
}

/** The claims on `templateFile`, from a vztmpl listing of its storage. Pure. */
export function claimsIn(templateFile: string, volids: readonly string[]): TemplateClaim[] {
  const base = templateFile.replace(TEMPLATE_EXT, '');
  const claims: TemplateClaim[] = [];
  for (const volid of volids) {
    const m = CLAIM_RE.exec(volid.slice(volid.indexOf('/') + 1));
    if (m && m[1] === base) claims.push({ tag: m[2]!, instance: m[3] ?? '' });
  }
  return claims.sort((a, b) => claimText(a).localeCompare(claimText(b)));
}

/** `pp-<16 hex>` or `pp-<16 hex>.<instance>`, for messages. Pure. */
export function claimText(c: TemplateClaim): string {
  return c.instance ? `${c.tag}.${c.instance}` : c.tag;
}

/** The claim's bytes: deterministic (fixed mtime), so its checksum is too. */
async function claimBytes(owner: OwnerKey, templateFile: string): Promise<Buffer> {
  const body = `${JSON.stringify({ owner: ownerId(owner), template: templateFile })}\n`;
  return compressLayer(await makeTar([{ name: 'proxmox-pods-claim.json', content: body, mtime: new Date(0) }]), 'zstd');
}

export interface TemplateRef {
  node: string;
  storage: string;
  /** The template's file name (`oci-<hex>.tar.zst`). */
  file: string;
}

async function listing(pve: PveClient, t: TemplateRef): Promise<string[]> {
  return (await pve.storageContent(t.node, t.storage, 'vztmpl')).map((c) => c.volid);
}

/**
 * Records `owner`'s claim on the template for an image instance (idempotent: an existing claim is kept) and returns
 * the instance. Without one, a new instance is chosen, later than the owner's claims already there.
 */
export async function claimTemplate(pve: PveClient, t: TemplateRef, owner: OwnerKey, deadline: Deadline, instance?: string): Promise<string> {
  const volids = await listing(pve, t);
  const tag = ownerTag(owner);
  const chosen = instance ?? nextClaimInstance(Date.now(), claimsIn(t.file, volids).filter((c) => c.tag === tag).map((c) => c.instance));
  const file = claimFileName(t.file, owner, chosen);
  if (volids.includes(`${t.storage}:vztmpl/${file}`)) return chosen;
  const bytes = await claimBytes(owner, t.file);
  await pve.uploadToStorage(
    t.node, t.storage,
    { content: 'vztmpl', filename: file, data: Readable.from([bytes]), size: bytes.length, checksum: createHash('sha256').update(bytes).digest('hex'), checksumAlgorithm: 'sha256' },
    { deadlineMs: deadline.remaining() },
  );
  return chosen;
}

/** Removes the claims of `owner` that `scope` takes (already gone is success); returns the claims left. */
export async function releaseTemplate(pve: PveClient, t: TemplateRef, owner: OwnerKey, scope: ReleaseScope, deadline: Deadline): Promise<TemplateClaim[]> {
  const tag = ownerTag(owner);
  for (const c of claimsIn(t.file, await listing(pve, t))) {
    if (c.tag !== tag || !releases(scope, c.instance)) continue;
    await pve.deleteContent(t.node, t.storage, `${t.storage}:vztmpl/${claimFileName(t.file, owner, c.instance)}`, { deadlineMs: deadline.remaining() });
  }
  return templateClaims(pve, t);
}

/** Every claim on the template now. */
export async function templateClaims(pve: PveClient, t: TemplateRef): Promise<TemplateClaim[]> {
  return claimsIn(t.file, await listing(pve, t));
}
