// Latency recording with HDR histograms (microsecond resolution) and the summary /stats shows.

import * as hdr from 'hdr-histogram-js';

/** One hour in microseconds: larger values are clamped (and still counted). */
const HIGHEST_US = 3_600_000_000;

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
}

export class LatencyRecorder {
  private readonly h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 64,
  });

  /** Records one latency given in milliseconds (fractional). Allocation-free. */
  recordMs(ms: number): void {
    let us = Math.round(ms * 1000);
    if (us < 1) us = 1; // clocks of two threads may disagree by less than a microsecond
    else if (us > HIGHEST_US) us = HIGHEST_US;
    this.h.recordValue(us);
  }

  summary(): LatencySummary {
    const h = this.h;
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      p50_ms: ms(h.getValueAtPercentile(50)),
      p90_ms: ms(h.getValueAtPercentile(90)),
      p99_ms: ms(h.getValueAtPercentile(99)),
      p999_ms: ms(h.getValueAtPercentile(99.9)),
      max_ms: ms(h.maxValue),
      mean_ms: ms(h.mean),
    };
  }

  reset(): void {
    this.h.reset();
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
