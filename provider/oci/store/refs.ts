// Reference records: one file per OciImage (refs/<name>.json) naming the digests it keeps alive.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isValidDigest } from '../digest';
import { InputError } from '../../errors';
import { StoreError } from '../errors';

export const refRecordSchema = z.object({
  name: z.string(),
  reference: z.string(),
  /** The digest the reference resolved to (an index or a manifest). */
  digest: z.string().refine(isValidDigest),
  /** The platform manifest actually pulled. */
  manifestDigest: z.string().refine(isValidDigest),
  /** OciImage refs: the parent dataset of its ZFS chains, null for none; absent in refs written before it existed. */
  zfsParent: z.string().nullable().optional(),
  updatedAt: z.string(),
});
export type RefRecord = z.infer<typeof refRecordSchema>;

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._:@+=-]{0,199}$/;

export function validateRefName(name: string): string {
  if (!NAME.test(name)) throw new InputError('refName', `${JSON.stringify(name)} cannot name a store reference`, 'use letters, digits and . _ : @ + = - (at most 200)');
  return name;
}

export async function writeRef(dir: string, record: RefRecord): Promise<void> {
  validateRefName(record.name);
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${record.name}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  await fs.writeFile(tmp, JSON.stringify(record), { mode: 0o644 });
  await fs.rename(tmp, join(dir, `${record.name}.json`));
}

export async function readRef(dir: string, name: string): Promise<RefRecord | undefined> {
  validateRefName(name);
  try {
    return refRecordSchema.parse(JSON.parse(await fs.readFile(join(dir, `${name}.json`), 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function removeRef(dir: string, name: string): Promise<boolean> {
  validateRefName(name);
  try { await fs.unlink(join(dir, `${name}.json`)); return true; } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function listRefs(dir: string): Promise<RefRecord[]> {
  let names: string[];
  try { names = await fs.readdir(dir); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: RefRecord[] = [];
  for (const file of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    let rec: RefRecord | undefined;
    try {
      rec = await readRef(dir, file.slice(0, -5)); // undefined: removed since readdir
    } catch (err) {
      // A ref that cannot be read still keeps its image alive: leaving it out would let gc and deletes take blobs and
      // templates it needs.
      throw new StoreError(`${join(dir, file)} is not a readable ref (${(err as Error).message}); fix or remove it`);
    }
    if (rec) out.push(rec);
  }
  return out;
}
