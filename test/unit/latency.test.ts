// LatencyRecorder's summary: percentiles bounded by the exact max and monotone, exact mean, cumulative Prometheus buckets.
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS, LatencyRecorder, type LatencySummary } from '../../src/stats/latency.js';

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectOrdered(s: LatencySummary): void {
  const list = [s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms];
  for (let i = 1; i < list.length; i++) expect(list[i - 1], `${list.join(' ≤ ')}`).toBeLessThanOrEqual(list[i]);
}

describe('LatencyRecorder.summary', () => {
  it('never reports p99.9 above max when the max sits inside an HDR bucket (max 144.174 ms, bucket top 144.255)', () => {
    const r = new LatencyRecorder();
    for (let i = 0; i < 998; i++) r.recordMs(1);
    r.recordMs(144.174);
    r.recordMs(144.174);
    const s = r.summary();
    expect(s.max_ms).toBe(144.174);
    expect(s.p999_ms).toBe(144.174); // HDR's own answer is the bucket's top, 144.255
    expect(s.p50_ms).toBe(1);
    expectOrdered(s);
  });

  it('bounds every percentile and the mean by the max of a single value', () => {
    const r = new LatencyRecorder();
    r.recordMs(144.174);
    const s = r.summary();
    expect([s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.mean_ms]).toEqual([144.174, 144.174, 144.174, 144.174, 144.174]);
  });

  it('stays monotone and within the max over many random distributions', () => {
    const rnd = random(7);
    for (let run = 0; run < 200; run++) {
      const r = new LatencyRecorder();
      const n = 1 + Math.floor(rnd() * 2000);
      for (let i = 0; i < n; i++) r.recordMs(Math.exp(rnd() * 14) / 100); // 10 µs … ~12 s, log-spread
      expectOrdered(r.summary());
    }
  });

  it('reports an empty recorder as zeros, buckets included', () => {
    const s = new LatencyRecorder().summary();
    expect(s).toMatchObject({ count: 0, p50_ms: 0, p999_ms: 0, max_ms: 0, mean_ms: 0 });
    expect(s.buckets!.counts).toEqual(LATENCY_BUCKETS_MS.map(() => 0));
    expect(s.buckets!.sum_ms).toBe(0);
  });

  it('carries cumulative bucket counts at fixed bounds and the exact sum', () => {
    const r = new LatencyRecorder();
    const values = [0.03, 0.05, 0.2, 0.9, 1, 3, 3, 40, 700, 90_000];
    for (const v of values) r.recordMs(v);
    const s = r.summary();
    const b = s.buckets!;
    expect(b.le_ms).toEqual(LATENCY_BUCKETS_MS);
    expect(b.counts).toEqual(LATENCY_BUCKETS_MS.map((le) => values.filter((v) => v <= le).length));
    expect(b.counts.at(-1)).toBe(9); // 90 s is above the last bound: only in +Inf (= count)
    expect(s.count).toBe(10);
    expect(b.sum_ms).toBeCloseTo(values.reduce((a, v) => a + v, 0), 6);
    expect(s.mean_ms).toBeCloseTo(b.sum_ms / 10, 3);
    for (let i = 1; i < b.counts.length; i++) expect(b.counts[i]).toBeGreaterThanOrEqual(b.counts[i - 1]);
  });

  it('forgets everything on reset()', () => {
    const r = new LatencyRecorder();
    r.recordMs(5);
    r.reset();
    const s = r.summary();
    expect(s.count).toBe(0);
    expect(s.buckets!.sum_ms).toBe(0);
    expect(s.buckets!.counts.at(-1)).toBe(0);
  });
});
