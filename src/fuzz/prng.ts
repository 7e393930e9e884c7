/**
 * The fuzzer's random numbers: deterministic from `--seed` and the run number, so that a run can be repeated and a
 * finding reproduced; independent streams per run.
 *
 * Emulates: nothing. Source of truth: the SplitMix32 mixer (a 32-bit variant of Steele, Lea and Flood's SplitMix)
 * for seeding and xoshiro128** (Blackman and Vigna) as the generator; both are public-domain algorithms written
 * here from their descriptions.
 * Does not: serve anything security-related (cookies use `core/random.ts`).
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A deterministic generator (xoshiro128**). */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** The stream of run `run` of campaign `seed`. */
  constructor(seed: number, run = 0) {
    const st = { s: (seed >>> 0) ^ Math.imul(run >>> 0, 0x27d4eb2d) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const r = Math.imul(this.rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = this.rotl(this.d, 11);
    return r;
  }

  private rotl(x: number, k: number): number {
    return (x << k) | (x >>> (32 - k));
  }

  /** A uniform integer in 0…n−1 (n ≥ 1). */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}
