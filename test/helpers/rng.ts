// Seeded generation for tests that draw many valid inputs: a failing case is replayed from its seed.

/** mulberry32: a small, fast PRNG whose sequence depends only on the seed. Values in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** pick/maybe/int over one generator, so generators read as the input ranges they draw from. */
export function drawer(seed: number) {
  const r = rng(seed);
  return {
    r,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!,
    maybe: (p = 0.5) => r() < p,
    int: (min: number, max: number) => min + Math.floor(r() * (max - min + 1)),
  };
}
