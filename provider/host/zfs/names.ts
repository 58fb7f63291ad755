// The one ZFS naming rule. Every dataset or snapshot name passes it before it reaches `zfs`: commands are argument
// arrays, so the danger is option injection (a leading '-') and names ZFS would read differently ('@' and '#' are
// snapshot and bookmark syntax), not shell syntax. Stricter than ZFS where ZFS allows surprises (spaces, '%').
import { z } from 'zod';
import { InputError } from '../../errors';

const COMPONENT = /^[A-Za-z0-9_.:-]+$/;
const componentOk = (c: string) => COMPONENT.test(c) && c !== '.' && c !== '..' && !c.startsWith('-');

/**
 * Datasets: pool/child/…; components of [A-Za-z0-9_.:-], the pool starting with a letter; no empty components, no
 * leading '-', at most 255 characters (ZFS_MAX_DATASET_NAME_LEN is 256 with the NUL).
 */
export const zfsDatasetSchema = z
  .string()
  .max(255, { message: 'must be at most 255 characters' })
  .regex(/^[A-Za-z][A-Za-z0-9_.:-]*(\/[A-Za-z0-9_.:-]+)*$/, { message: 'must be pool/child/… with components of [A-Za-z0-9_.:-], the pool starting with a letter' })
  .refine((s) => s.split('/').every(componentOk), { message: 'components must not be "." / ".." or start with "-"' });

/** Snapshots: `<dataset>@<name>`, the name one component under the same rule. */
export const zfsSnapshotSchema = z
  .string()
  .max(255, { message: 'must be at most 255 characters' })
  .refine((s) => {
    const at = s.indexOf('@');
    return at > 0 && componentOk(s.slice(at + 1)) && zfsDatasetSchema.safeParse(s.slice(0, at)).success;
  }, { message: 'must be <dataset>@<name> with components of [A-Za-z0-9_.:-]' });

export const isZfsDataset = (s: string): boolean => zfsDatasetSchema.safeParse(s).success;
export const isSnapshotName = (s: string): boolean => zfsSnapshotSchema.safeParse(s).success;

function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Returns `name`, or throws InputError naming `field`. */
export function validateDataset(name: string, field = 'dataset'): string {
  const r = zfsDatasetSchema.safeParse(name);
  if (!r.success) throw new InputError(field, `${shown(name)} is not a valid ZFS dataset name: ${r.error.issues[0]?.message}`);
  return name;
}

/** A dataset below a pool, never the pool itself (what this provider creates and destroys). */
export function validateChildDataset(name: string, field = 'dataset'): string {
  validateDataset(name, field);
  if (!name.includes('/')) throw new InputError(field, `${shown(name)} is a pool, not a dataset under one`, 'use pool/path/name');
  return name;
}

export function validateSnapshot(name: string, field = 'snapshot'): string {
  if (!isSnapshotName(name)) throw new InputError(field, `${shown(name)} is not a valid ZFS snapshot name`, 'use <dataset>@<name>');
  return name;
}

/** `pool/a/b@s` → `pool`. */
export const poolOf = (name: string): string => name.split(/[/@]/)[0]!;
