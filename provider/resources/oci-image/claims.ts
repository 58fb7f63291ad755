// Who uses a template that several OciImages share (two stacks of one program, two images of one reference), recorded
// on the cluster, so that `pulumi destroy` of one stack removes it only when no other owner is left, whatever the
// local content store of the machine running destroy holds.
//
// Where a claim can live on a PVE storage: PVE keeps `notes` and `protected` only for backups (pve-storage
// src/PVE/Storage/Plugin.pm `update_volume_attribute` dies for other types; DirPlugin.pm `$update_volume_notes_impl`:
// "only backups can have notes"), and the upload API takes only iso, vztmpl and import content
// (src/PVE/API2/Storage/Status.pm `upload`). So each claim is a tiny vztmpl of its own beside the template:
// `<template>.claim.<owner tag>.tar.zst` (about 150 bytes; a tar holding the owner's id), uploaded and deleted
// through the same API as the template, on every storage type that holds templates, with no host access.
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
import { ownerId, ownerTag, type OwnerKey } from '../common/owner';

const TEMPLATE_EXT = /\.tar\.zst$/;
const CLAIM_RE = /^(.+)\.claim\.(pp-[0-9a-f]{16})\.tar\.zst$/;

/** `oci-0123….tar.zst` + owner → `oci-0123….claim.pp-<16 hex>.tar.zst`. Pure. */
export function claimFileName(templateFile: string, owner: OwnerKey): string {
  return `${templateFile.replace(TEMPLATE_EXT, '')}.claim.${ownerTag(owner)}.tar.zst`;
}

/** The owner tags that claim `templateFile`, from a vztmpl listing of its storage. Pure. */
export function claimTags(templateFile: string, volids: readonly string[]): string[] {
  const base = templateFile.replace(TEMPLATE_EXT, '');
  const tags: string[] = [];
  for (const volid of volids) {
    const m = CLAIM_RE.exec(volid.slice(volid.indexOf('/') + 1));
    if (m && m[1] === base) tags.push(m[2]!);
  }
  return tags.sort();
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

/** Records `owner`'s claim on the template (idempotent: an existing claim is kept). */
export async function claimTemplate(pve: PveClient, t: TemplateRef, owner: OwnerKey, deadline: Deadline): Promise<void> {
  const file = claimFileName(t.file, owner);
  if ((await listing(pve, t)).includes(`${t.storage}:vztmpl/${file}`)) return;
  const bytes = await claimBytes(owner, t.file);
  await pve.uploadToStorage(
    t.node, t.storage,
    { content: 'vztmpl', filename: file, data: Readable.from([bytes]), size: bytes.length, checksum: createHash('sha256').update(bytes).digest('hex'), checksumAlgorithm: 'sha256' },
    { deadlineMs: deadline.remaining() },
  );
}

/** Removes `owner`'s claim (already gone is success); returns the tags of the claims left. */
export async function releaseTemplate(pve: PveClient, t: TemplateRef, owner: OwnerKey, deadline: Deadline): Promise<string[]> {
  await pve.deleteContent(t.node, t.storage, `${t.storage}:vztmpl/${claimFileName(t.file, owner)}`, { deadlineMs: deadline.remaining() });
  return templateClaims(pve, t);
}

/** The tags of every owner that claims the template now. */
export async function templateClaims(pve: PveClient, t: TemplateRef): Promise<string[]> {
  return claimTags(t.file, await listing(pve, t));
}
