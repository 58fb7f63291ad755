// Deterministic, compressible-but-not-trivial layer contents for the image benchmark: each 4 KiB block is a quarter
// pseudo-random bytes and three quarters words, which gzips about 3:1 like typical binaries and text.
import type { TarEntrySpec } from '../provider/oci';

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua proxmox pods layer chain digest verify unpack'.split(' ');

export class Prng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0 || 1; }
  next(): number {
    // xorshift32
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
}

export function blob(size: number, rng: Prng): Buffer {
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  while (o < size) {
    const block = Math.min(4096, size - o);
    const rand = Math.floor(block / 16) * 4;
    for (let i = 0; i < rand; i += 4) out.writeUInt32LE(rng.next(), o + i);
    let p = o + rand;
    const end = o + block;
    while (p < end) {
      const w = WORDS[rng.next() % WORDS.length]!;
      p += out.write(`${w} `, p, Math.min(w.length + 1, end - p), 'latin1');
    }
    o = end;
  }
  return out;
}

export interface LayerPlan { name: string; files: number; fileBytes: number; dirs: number }

/** ~226 MiB over four layers; one of them with thousands of small files. */
export const BENCH_LAYERS: LayerPlan[] = [
  { name: 'base', files: 6000, fileBytes: 5 * 1024, dirs: 60 },
  { name: 'libs', files: 4, fileBytes: 25 * 1024 * 1024, dirs: 1 },
  { name: 'app', files: 2, fileBytes: 40 * 1024 * 1024, dirs: 1 },
  { name: 'assets', files: 1000, fileBytes: 16 * 1024, dirs: 10 },
];

/**
 * The layers at `scale` (BENCH_SCALE; 1 is the figures the README reports): file counts and sizes shrink together,
 * so a small run (npm test's smoke test) exercises every path of the full one in seconds.
 */
export function scaledLayers(scale: number): LayerPlan[] {
  if (!(scale > 0 && scale <= 1)) throw new Error(`BENCH_SCALE must be in (0, 1], got ${scale}`);
  const root = Math.sqrt(scale);
  return BENCH_LAYERS.map((p) => ({ ...p, files: Math.max(1, Math.round(p.files * root)), fileBytes: Math.max(512, Math.round(p.fileBytes * root)), dirs: Math.max(1, Math.round(p.dirs * root)) }));
}

export function layerEntries(plan: LayerPlan, seed: number): TarEntrySpec[] {
  const rng = new Prng(seed);
  const entries: TarEntrySpec[] = [{ name: `${plan.name}/`, type: 'directory' }];
  for (let d = 0; d < plan.dirs; d++) entries.push({ name: `${plan.name}/d${d}/`, type: 'directory' });
  for (let f = 0; f < plan.files; f++) {
    entries.push({ name: `${plan.name}/d${f % plan.dirs}/f${f}.bin`, content: blob(plan.fileBytes, rng), mode: f % 7 === 0 ? 0o755 : 0o644 });
  }
  return entries;
}
