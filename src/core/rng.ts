// Hand-written because the data order, dropout seeds and sampling must be reproducible across
// resume from a few integers; splitmix32/mulberry32 are tiny, public-domain and well studied.

/** Mixes integers into one 32-bit seed (order-sensitive). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    // fold in the high part too, so step counters above 2^32 still change the seed
    h ^= Math.floor(p / 4294967296) >>> 0;
  }
  return h >>> 0;
}

/** A seeded generator of floats in [0, 1); its whole state is one 32-bit integer. */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}
