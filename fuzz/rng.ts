// Seeded randomness: one independent stream per case, so a seed reproduces every case whatever the timing.
//
// Cases run concurrently and finish in any order; drawing them all from one generator would
// make case N depend on how many draws the others made first. Each case instead gets
// `caseRng(seed, stream, index)`, a generator of its own derived by hashing the three.

/** sfc32: small, fast, passes PractRand far beyond what a fuzzer draws. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    [this.a, this.b, this.c, this.d] = [a | 0, b | 0, c | 0, d | 0];
    for (let i = 0; i < 12; i++) this.u32(); // the first outputs of a fresh state are correlated with it
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }

  /** Picks by weight: `[[3, 'a'], [1, 'b']]` gives 'a' three times as often. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of table) total += w;
    let x = this.float() * total;
    for (const [w, v] of table) {
      if ((x -= w) < 0) return v;
    }
    return table[table.length - 1][1];
  }

  /** Small values far more often than large ones: most cases stay short, a few are long. */
  skewed(max: number): number {
    return Math.floor(max ** this.float()) - 1 + (this.chance(0.5) ? 1 : 0);
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
}

/** splitmix32 finalizer: spreads one integer over 32 well-mixed bits. */
function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The generator of case `index` of `stream` ('ws', 'http', …) under `seed`. */
export function caseRng(seed: number, stream: string, index: number): Rng {
  const s = mix(seed ^ mix(hashString(stream)));
  return new Rng(mix(s ^ index), mix(s + index * 3 + 1), mix(index ^ 0x5bd1e995), mix(s ^ hashString(stream + index)));
}

/** A fresh seed for runs that did not name one (printed, so the run can be repeated). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
