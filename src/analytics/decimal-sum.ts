// Exact sums of decimals of at most 10 places (PostgreSQL numeric of scale 10), kept as whole units and 1e-10 units.
//
// A size arrives as the double nearest its decimal string. Adding doubles drifts (0.1 + 0.2 is
// not 0.3) and the error grows with the number of trades, so sizes are never summed in floating
// point: each one is split into its whole part and its fraction counted in 1e-10 units, both
// integers recovered exactly from the double, and the integers are summed exactly (a double
// holds integers exactly up to 2^53). The exposed number is rounded once, to the double nearest
// the exact decimal sum: the number a reader gets by parsing numeric's `sum(size)`.
//
// Recovering the decimal from its double is exact when it has at most 10 places and either is
// below 2^18 (where a double resolves 1e-10 to within a quarter unit) or has at most 15
// significant digits (every such decimal is the shortest one that reads back as its double).
// Otherwise the shortest decimal of at most 10 places that reads back as the double is taken,
// as Number's toString would; more than 10 places round to 10, as numeric(…, 10) stores them.
//
// An accumulator is two consecutive slots of a Float64Array: [i] whole units (any integer),
// [i + 1] 1e-10 units in [0, 1e10). Nothing here allocates.

import { twoSumError } from './compensated-sum.js';

/** 1e-10 units per whole unit: numeric's scale of 10. */
export const DECIMAL_UNITS = 1e10;
/** Below this a double is within a quarter of a 1e-10 unit of its decimal: the nearest unit is the decimal's. */
const FINE_BELOW = 262_144; // 2^18
/** Largest whole part for which whole·1e10 + units stays below 2^53, an exact double integer. */
const EXACT_WHOLE_BELOW = 900_719;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

// A double's bits, read without allocating: the host's order, as every typed array here.
const scratch = new Float64Array(1);
const words = new Uint32Array(scratch.buffer);
const LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/** Loads `x` into the scratch and returns half its ulp (x normal, at least 2^-969). */
function loadHalfUlp(x: number): number {
  scratch[0] = x;
  const exponent = (words[HI] >>> 20) & 0x7ff;
  const hi = words[HI];
  const lo = words[LO];
  words[HI] = (exponent - 53) << 20; // 2^(e-53): half of 2^(e-52), the ulp of x
  words[LO] = 0;
  const half = scratch[0];
  words[HI] = hi; // leaves x loaded for loadedIsOdd / loadedIsPowerOfTwo
  words[LO] = lo;
  return half;
}
const loadedIsOdd = (): boolean => (words[LO] & 1) === 1;
const loadedIsPowerOfTwo = (): boolean => (words[HI] & 0xfffff) === 0 && words[LO] === 0;

/**
 * The fraction of `x` (x ≥ 0, whole part Math.floor(x)) in 1e-10 units: an integer in
 * [0, 1e10], 1e10 when the decimal is the next whole number (the caller carries it).
 */
export function fractionUnits(x: number): number {
  const f = x - Math.floor(x); // exact: floor(x) and x share their leading bits
  if (f === 0) return 0;
  if (x < FINE_BELOW) return Math.round(f * DECIMAL_UNITS);
  // A double here spans more than half a unit: several decimals of 10 places may read back as
  // x. Take the shortest, trying 0, 1, … 10 places: the nearest candidate at each scale reads
  // back as x when it lies within the half ulp around x (a quarter below a power of two).
  const halfUlp = loadHalfUlp(x);
  const even = !loadedIsOdd();
  const halfBelow = loadedIsPowerOfTwo() ? halfUlp / 2 : halfUlp;
  for (let k = 0; k <= 10; k++) {
    const p = POW10[k];
    const fp = f * p;
    const u = Math.round(fp);
    // f·p − u exactly enough to compare: fp − u is exact (Sterbenz), the product's error kept.
    const d = (fp - u) + twoProductErrorPow10(f, p, fp);
    const limit = (d > 0 ? halfBelow : halfUlp) * p; // d > 0: the candidate lies below x
    const dist = Math.abs(d);
    if (dist < limit || (dist === limit && even)) return u * POW10[10 - k];
  }
  return Math.round(f * DECIMAL_UNITS);
}

/** a·p − fl(a·p) for p a power of ten up to 1e10 (at most 24 significant bits): Dekker's split of a only. */
function twoProductErrorPow10(a: number, p: number, ap: number): number {
  const t = 134_217_729 * a;
  const ah = t - (t - a);
  const al = a - ah;
  return (ah * p - ap) + al * p;
}

/** acc[i], acc[i + 1] += x, exactly (x read as its decimal of at most 10 places). */
export function addDecimal(acc: Float64Array, i: number, x: number): void {
  let whole: number;
  let units: number;
  if (x >= 0) {
    whole = Math.floor(x);
    units = fractionUnits(x);
  } else {
    whole = -Math.floor(-x);
    units = -fractionUnits(-x);
  }
  whole += acc[i];
  units += acc[i + 1];
  if (units >= DECIMAL_UNITS) {
    units -= DECIMAL_UNITS;
    whole += 1;
  } else if (units < 0) {
    units += DECIMAL_UNITS;
    whole -= 1;
  }
  acc[i] = whole;
  acc[i + 1] = units;
}

/** The double nearest whole + units·1e-10 (ties to even), as parsing its decimal text gives. */
export function decimalNumber(whole: number, units: number): number {
  if (whole < 0) return units === 0 ? -decimalNumber(-whole, 0) : -decimalNumber(-whole - 1, DECIMAL_UNITS - units);
  // One exact integer, one correctly rounded division.
  if (whole < EXACT_WHOLE_BELOW) return (whole * DECIMAL_UNITS + units) / DECIMAL_UNITS;
  // Above, r = whole + units/1e10 is rounded twice and can miss by one ulp: measure the residual
  // (exact value − r) in 1e-10 units and step once. whole ≥ 2^19, so r − whole is exact (Sterbenz)
  // and an ulp of r is a multiple of 2^-33: the residual is computed with no rounding that matters.
  let r = whole + units / DECIMAL_UNITS;
  const g = r - whole;
  const gp = g * DECIMAL_UNITS;
  const s = units - gp;
  const residual = s + (twoSumError(units, -gp, s) - twoProductErrorPow10(g, DECIMAL_UNITS, gp));
  const halfUlp = loadHalfUlp(r);
  const half = halfUlp * DECIMAL_UNITS;
  const odd = loadedIsOdd();
  if (residual > half || (residual === half && odd)) return r + 2 * halfUlp;
  const halfBelow = loadedIsPowerOfTwo() ? half / 2 : half;
  if (-residual > halfBelow || (-residual === halfBelow && odd)) r -= (loadedIsPowerOfTwo() ? 1 : 2) * halfUlp;
  return r;
}

const differenceScratch = new Float64Array(2);

/** The double nearest a − b, both read as their decimals of at most 10 places (exact until rounded once). */
export function decimalDifference(a: number, b: number): number {
  const acc = differenceScratch;
  acc[0] = 0;
  acc[1] = 0;
  addDecimal(acc, 0, a);
  addDecimal(acc, 0, -b);
  return decimalNumber(acc[0], acc[1]);
}

