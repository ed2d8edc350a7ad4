// Error-free transformations and a double-double accumulator: sums of products (quote volume) without drift.
//
// A running double sum loses up to half an ulp per addition and the losses add up with the
// count of trades. Here every addition and every product keeps its rounding error (TwoSum,
// Knuth; TwoProduct, Dekker) in a second double, so the sum is as accurate as if it were
// carried in twice the precision and rounded once (Ogita, Rump, Oishi: "Dot2"). TwoSum is the
// branch-free form of Neumaier's compensated summation.
//
// An accumulator is two consecutive slots of a Float64Array: [i] the sum rounded to a double
// (read it as the value), [i + 1] what that rounding left out. Nothing here allocates.

/** 2^27 + 1: splits a double into two halves of 26 and 27 bits whose products are exact. */
const SPLITTER = 134_217_729;

/** The rounding error of `s = a + b`: a + b = s + error exactly (TwoSum). */
export function twoSumError(a: number, b: number, s: number): number {
  const bb = s - a;
  return (a - (s - bb)) + (b - bb);
}

/** The rounding error of `p = a * b`: a·b = p + error exactly, for |a|, |b| below 2^996 (TwoProduct). */
export function twoProductError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** acc[i], acc[i + 1] += hi + lo, renormalized so that acc[i] is the sum rounded to a double. */
export function addCompensated(acc: Float64Array, i: number, hi: number, lo: number): void {
  const s = acc[i] + hi;
  const e = acc[i + 1] + lo + twoSumError(acc[i], hi, s);
  const r = s + e;
  acc[i + 1] = twoSumError(s, e, r);
  acc[i] = r;
}

/** acc[i], acc[i + 1] += a·b, the product's rounding error kept. */
export function addProduct(acc: Float64Array, i: number, a: number, b: number): void {
  const p = a * b;
  addCompensated(acc, i, p, twoProductError(a, b, p));
}
