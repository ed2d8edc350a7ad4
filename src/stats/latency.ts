// Latency recording with HDR histograms (microsecond resolution), the summary /stats shows and the buckets /metrics exposes.

import * as hdr from 'hdr-histogram-js';

/** One hour in microseconds: larger values are clamped (and still counted). */
const HIGHEST_US = 3_600_000_000;

/**
 * Upper bounds (ms) of the Prometheus histogram buckets every summary carries: 50 µs (a frame
 * published at once) to 60 s (a writer catching up after an outage).
 */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000,
]);
const BUCKETS_US = LATENCY_BUCKETS_MS.map((ms) => Math.round(ms * 1000));

export interface LatencySummary {
  count: number;
  /** Percentiles never exceed max_ms and never decrease: p50 ≤ p90 ≤ p99 ≤ p999 ≤ max. */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
  /**
   * The same values as a Prometheus histogram: `counts[i]` of them were ≤ `le_ms[i]`
   * (LATENCY_BUCKETS_MS, to the HDR histogram's three significant digits), `count` is the
   * `+Inf` bucket, `sum_ms` their exact sum. Cumulative since start, like `count`.
   */
  buckets?: { le_ms: readonly number[]; counts: number[]; sum_ms: number };
}

export class LatencyRecorder {
  // A JsHistogram (not hdr.build's interface) so that summary() can read its counts per index.
  private readonly h = new hdr.Float64Histogram(1, HIGHEST_US, 3);
  /** Exact sum of what was recorded (µs): HDR keeps counts per range, not values. */
  private sumUs = 0;

  /** Records one latency given in milliseconds (fractional). Allocation-free. */
  recordMs(ms: number): void {
    let us = Math.round(ms * 1000);
    if (us < 1) us = 1; // clocks of two threads may disagree by less than a microsecond
    else if (us > HIGHEST_US) us = HIGHEST_US;
    this.h.recordValue(us);
    this.sumUs += us;
  }

  summary(): LatencySummary {
    const h = this.h;
    const ms = (us: number) => Math.round(us) / 1000;
    const count = h.totalCount;
    const max = h.maxValue;
    // An HDR percentile is the highest value equivalent to the recorded one (up to 0.1 % above
    // it), while max is exact: clamp, and carry each one up so the list never decreases.
    const p50 = Math.min(h.getValueAtPercentile(50), max);
    const p90 = Math.max(p50, Math.min(h.getValueAtPercentile(90), max));
    const p99 = Math.max(p90, Math.min(h.getValueAtPercentile(99), max));
    const p999 = Math.max(p99, Math.min(h.getValueAtPercentile(99.9), max));
    return {
      count,
      p50_ms: ms(p50),
      p90_ms: ms(p90),
      p99_ms: ms(p99),
      p999_ms: ms(p999),
      max_ms: ms(max),
      mean_ms: count === 0 ? 0 : ms(this.sumUs / count),
      buckets: { le_ms: LATENCY_BUCKETS_MS, counts: this.cumulativeCounts(), sum_ms: this.sumUs / 1000 },
    };
  }

  reset(): void {
    this.h.reset();
    this.sumUs = 0;
  }

  /**
   * Values ≤ each bound of BUCKETS_US, in one pass over the HDR counts up to the max. A range of
   * equivalent values counts toward every bound at or above its lowest value.
   */
  private cumulativeCounts(): number[] {
    const h = this.h;
    const out = new Array<number>(BUCKETS_US.length);
    let b = 0;
    let acc = 0;
    if (h.totalCount > 0) {
      const top = h.countsArrayIndex(h.maxValue);
      for (let i = 0; i <= top && b < BUCKETS_US.length; i++) {
        const n = h.getCountAtIndex(i);
        if (n === 0) continue;
        const v = h.valueFromIndex(i);
        while (b < BUCKETS_US.length && v > BUCKETS_US[b]) out[b++] = acc;
        acc += n;
      }
    }
    while (b < BUCKETS_US.length) out[b++] = acc; // bounds above the max hold every value
    return out;
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
