/** A small seeded PRNG (mulberry32), so fleet runs and their faults are reproducible with --seed. */
export type Rng = () => number;

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function between(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Waiting time to the next event of a Poisson process with `ratePerS` events a second. */
export function exponential(rng: Rng, ratePerS: number): number {
  return -Math.log(1 - rng()) / ratePerS;
}
