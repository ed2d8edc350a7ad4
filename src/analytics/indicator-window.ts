// The rolling window behind SMA and Bollinger bands: the last N closes, their mean and variance in O(1) per close, without drift.

/** M2 below this fraction of its peak has lost six of its digits to cancellation. */
const CANCELLED = 1e-6;

/**
 * The last N values in a ring, with their sum and M2 (the sum of squared deviations from the mean),
 * both kept relative to a shift K near the values: prices are large and their spread small, and
 * x − K is exact for x within a factor 2 of K, so the rounding scales with the spread, not the price.
 * Each push adjusts both in O(1) (Welford's update, in its sliding form once full). Both are
 * recomputed from the ring around K = the window's mean every N pushes, so the rounding of
 * add-then-subtract never accumulates past one lap, and whenever M2 falls below a millionth of its
 * peak since the last recomputation: subtracting the squares of moves that left the window leaves their
 * rounding behind, which the square root would turn into a band around a flat market. Amortized O(1):
 * a fall that deep needs the values behind the peak to leave the window.
 */
export class RollingWindow {
  private readonly xs: Float64Array;
  private n = 0;
  private next = 0; // slot of the oldest value once full
  private shift = 0; // K: the first value, then the mean at each recomputation
  private sum = 0; // Σ(x − K)
  private m2 = 0;
  private peak = 0; // the largest M2 since the last recomputation
  private pushesSinceExact = 0;

  constructor(readonly size: number) {
    this.xs = new Float64Array(size);
  }

  get full(): boolean { return this.n === this.size; }
  get mean(): number { return this.shift + this.sum / this.n; }
  /** Population variance; rounding can take M2 a hair below zero when the values are equal. */
  get variance(): number { return this.m2 > 0 ? this.m2 / this.n : 0; }

  push(x: number): void {
    const size = this.size;
    if (this.n === 0) this.shift = x;
    const d = x - this.shift;
    if (this.n < size) {
      const before = this.n === 0 ? 0 : this.sum / this.n;
      this.xs[this.n++] = x;
      this.sum += d;
      this.m2 += (d - before) * (d - this.sum / this.n);
      this.peak = this.m2 > 0 ? this.m2 : 0; // M2 only grows while the window fills
      return;
    }
    const dOld = this.xs[this.next] - this.shift;
    this.xs[this.next] = x;
    this.next = this.next + 1 === size ? 0 : this.next + 1;
    const before = this.sum / size;
    this.sum += d - dOld;
    this.m2 += (d - dOld) * (d - this.sum / size + dOld - before);
    if (this.m2 > this.peak) this.peak = this.m2;
    if (++this.pushesSinceExact === size || this.m2 < this.peak * CANCELLED) this.exact();
  }

  private exact(): void {
    this.pushesSinceExact = 0;
    let total = 0;
    for (let i = 0; i < this.size; i++) total += this.xs[i];
    const shift = total / this.size;
    let sum = 0;
    let m2 = 0;
    for (let i = 0; i < this.size; i++) {
      const d = this.xs[i] - shift;
      sum += d;
      m2 += d * d;
    }
    this.shift = shift;
    this.sum = sum;
    // The two-pass correction for the rounding of `shift`; clamped, as a negative peak would make
    // every later push recompute.
    this.m2 = Math.max(0, m2 - (sum * sum) / this.size);
    this.peak = this.m2;
  }
}
