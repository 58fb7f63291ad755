// Unpack options as zod schemas: limits against decompression bombs and hostile archives, the id map that
// shifts ownership for unprivileged Proxmox containers, and device/FIFO policy.
import { z } from 'zod';

const GiB = 1024 ** 3;

export const LimitsSchema = z.object({
  /** Decompressed bytes of one layer (tar stream including padding). */
  maxLayerBytes: z.number().int().positive().default(64 * GiB),
  /** Decompressed bytes of all layers together. */
  maxImageBytes: z.number().int().positive().default(128 * GiB),
  /** Decompressed/compressed ratio, applied when the compressed size is known (node-tar uses 1000). */
  maxRatio: z.number().positive().default(1000),
  /** The ratio limit never goes below this many bytes, so tiny layers of sparse files stay legal. */
  ratioFloorBytes: z.number().int().nonnegative().default(64 * 1024 * 1024),
  /** Tar entries per layer, metadata headers included. */
  maxEntries: z.number().int().positive().default(1_000_000),
  /** Path components of one entry. */
  maxDepth: z.number().int().positive().default(1024),
  /** Bytes of one entry path or link target. */
  maxPathBytes: z.number().int().positive().default(4096),
  /** Bytes of one PAX / GNU long-name header record (Go's archive/tar uses 1 MiB). */
  maxHeaderBytes: z.number().int().positive().default(1024 * 1024),
}).strict();
export type Limits = z.infer<typeof LimitsSchema>;
export type LimitsInput = z.input<typeof LimitsSchema>;

const IdRangeSchema = z.object({
  /** First id inside the container (0 for the whole range). */
  container: z.number().int().nonnegative().default(0),
  /** Host id that `container` maps to. */
  host: z.number().int().nonnegative(),
  size: z.number().int().positive(),
}).strict();

export const IdMapSchema = z.object({ uid: IdRangeSchema, gid: IdRangeSchema }).strict();
export type IdMap = z.infer<typeof IdMapSchema>;
export type IdMapInput = z.input<typeof IdMapSchema>;

/** What Proxmox gives an unprivileged container by default: `u/g 0 100000 65536`. */
export const PVE_UNPRIVILEGED_IDMAP: IdMap = {
  uid: { container: 0, host: 100000, size: 65536 },
  gid: { container: 0, host: 100000, size: 65536 },
};

export const ApplyOptionsSchema = z.object({
  limits: LimitsSchema.default(LimitsSchema.parse({})),
  /** null = ownership kept as in the image (privileged container or a plain extraction). */
  idmap: IdMapSchema.nullable().default(null),
  /** Create char/block devices (needs root; LXC populates /dev anyway, so the default skips and counts them). */
  allowDevices: z.boolean().default(false),
  fifos: z.enum(['create', 'skip']).default('create'),
  /** Apply xattrs via setfattr; 'skip' counts them instead. */
  xattrs: z.enum(['apply', 'skip']).default('apply'),
}).strict();
export type ApplyOptions = z.infer<typeof ApplyOptionsSchema>;
export type ApplyOptionsInput = z.input<typeof ApplyOptionsSchema>;
