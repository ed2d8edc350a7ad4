// memoryPoints + envelopePrefix: historical_data frames read from a hand-written history ring, parsed back.
import { describe, expect, it } from 'vitest';
import { type MemoryHistoryTask, effectiveResolution, envelopePrefix, memoryPoints } from '../../src/protocol/history.js';
import {
  HISTORY_POINT_FIELDS, METRIC_COUNT, METRIC_NAMES, M_BEST_BID, M_MID, P_BUCKET, P_COUNT, P_EPOCH, P_METRICS, P_SEQ,
} from '../../src/ring/layout.js';
import { SymbolStore, createStoreBuffer } from '../../src/ring/symbol-store.js';

const geometry = { depth: 2, rawCapacity: 64, historyCapacity: 256 };
const BASE_MS = 1000;
const EPOCH = 1_767_225_600_000; // an epoch number as the shard makes them (Date.now() at start)
/** 2026-01-15T00:00:00Z, a multiple of every resolution used here. */
const DAY_MS = Date.parse('2026-01-15T00:00:00.000Z');
const DAY_BUCKET = DAY_MS / BASE_MS;
const decoder = new TextDecoder();

interface Point { time: string; seq: number; count: number; [metric: string]: number | string }
interface Frame {
  type: string; symbol: string; epoch: number; seq: number; from: string;
  resolution_ms: number; points: number; data: Point[];
}

/** A store plus the shard's write sequence for history points (shard.ts, step 3). */
class History {
  readonly sab = createStoreBuffer(geometry);
  readonly store = new SymbolStore(this.sab, geometry);
  private seq = 0;

  /** Writes the point of `bucket` (`count` updates folded in, metrics derived from the seq). */
  point(bucket: number, count = 1, epoch = EPOCH): number {
    this.seq += count;
    const f = this.store.f64;
    const p = this.store.historySlot(bucket);
    this.store.beginWrite(p * 2);
    f[p + P_BUCKET] = bucket;
    f[p + P_EPOCH] = epoch;
    f[p + P_SEQ] = this.seq;
    f[p + P_COUNT] = count;
    for (let m = 0; m < METRIC_COUNT; m++) f[p + P_METRICS + m] = metric(this.seq, m);
    this.store.endWrite(p * 2);
    return this.seq;
  }

  /** Commits the header as the shard does after the update that wrote `lastBucket` (step 5). */
  commit(lastBucket: number, epoch = EPOCH): void {
    this.store.commitHeader(epoch, this.seq, lastBucket * BASE_MS, this.seq - 1, lastBucket);
  }

  build(fromMs: number, resolutionMs = BASE_MS, symbol = 'US.AAPL'): Frame {
    const res = effectiveResolution(resolutionMs, BASE_MS);
    const task: MemoryHistoryTask = { kind: 'memory', store: this.sab, geometry, fromMs, baseResolutionMs: BASE_MS, resolutionMs: res };
    const r = memoryPoints(task);
    const prefix = envelopePrefix({
      symbol, epoch: r.epoch, seq: r.lastSeq, fromMs, resolutionMs: res, points: r.points, sources: { memory: r.points, database: 0 },
    });
    const text = prefix + decoder.decode(new Uint8Array(r.buffer, r.offset, r.length)) + ']}';
    const frame = JSON.parse(text) as Frame; // throws if the frame is not valid JSON
    expect(r.points).toBe(frame.points);
    expect(r.lastSeq).toBe(frame.seq);
    expect(r.epoch).toBe(frame.epoch);
    return frame;
  }
}

/** Metric `m` of the point whose last seq is `seq`: distinct per point and per metric. */
const metric = (seq: number, m: number): number => 100 + seq + m / 100;
const iso = (ms: number): string => new Date(ms).toISOString();

describe('memory history points', () => {
  it('frames every point since fromMs as historical_data', () => {
    const h = new History();
    const seqs = [0, 1, 2].map((i) => h.point(DAY_BUCKET + i, 2));
    h.commit(DAY_BUCKET + 2);
    const f = h.build(DAY_MS);
    expect(f).toMatchObject({
      type: 'historical_data', symbol: 'US.AAPL', epoch: EPOCH, seq: seqs[2], from: '2026-01-15T00:00:00.000Z',
      resolution_ms: BASE_MS, points: 3,
    });
    expect(f.data).toHaveLength(f.points);
    expect(f.data.map((p) => p.time)).toEqual([0, 1, 2].map((i) => iso(DAY_MS + i * BASE_MS)));
    expect(f.data.map((p) => p.seq)).toEqual(seqs);
    expect(f.data.map((p) => p.count)).toEqual([2, 2, 2]);
    for (const p of f.data) {
      for (let m = 0; m < METRIC_COUNT; m++) expect(p[METRIC_NAMES[m]]).toBeCloseTo(metric(p.seq, m), 8);
    }
  });

  it('excludes points before fromMs', () => {
    const h = new History();
    h.point(DAY_BUCKET - 2);
    h.point(DAY_BUCKET - 1);
    const first = h.point(DAY_BUCKET);
    const last = h.point(DAY_BUCKET + 1);
    h.commit(DAY_BUCKET + 1);
    const f = h.build(DAY_MS);
    expect(f.data.map((p) => p.seq)).toEqual([first, last]);
    expect(f.data[0].time).toBe(iso(DAY_MS));
    // fromMs inside a bucket: that bucket started before fromMs, so it is left out too
    expect(h.build(DAY_MS + 1).data.map((p) => p.seq)).toEqual([last]);
  });

  it('skips buckets without a point', () => {
    const h = new History();
    const a = h.point(DAY_BUCKET + 1);
    const b = h.point(DAY_BUCKET + 4);
    const c = h.point(DAY_BUCKET + 9);
    h.commit(DAY_BUCKET + 9);
    const f = h.build(DAY_MS);
    expect(f.points).toBe(3);
    expect(f.data.map((p) => [p.time, p.seq])).toEqual([
      [iso(DAY_MS + 1000), a], [iso(DAY_MS + 4000), b], [iso(DAY_MS + 9000), c],
    ]);
  });

  it('downsamples to 5× the base: the last point of each group, counts summed, time at the group start', () => {
    const h = new History();
    // group 0: buckets 0..4 (points at 0, 2, 3); group 1: 5..9 (none); group 2: 10..14 (point at 11, 14)
    h.point(DAY_BUCKET + 0, 1);
    h.point(DAY_BUCKET + 2, 4);
    const g0 = h.point(DAY_BUCKET + 3, 2);
    h.point(DAY_BUCKET + 11, 3);
    const g2 = h.point(DAY_BUCKET + 14, 5);
    h.commit(DAY_BUCKET + 14);
    const f = h.build(DAY_MS, 5 * BASE_MS);
    expect(f.resolution_ms).toBe(5000);
    expect(f.points).toBe(2);
    expect(f.seq).toBe(g2);
    expect(f.data.map((p) => ({ time: p.time, seq: p.seq, count: p.count }))).toEqual([
      { time: iso(DAY_MS), seq: g0, count: 7 },
      { time: iso(DAY_MS + 10_000), seq: g2, count: 8 },
    ]);
    // the metrics are those of the last point of the group
    expect(f.data[0][METRIC_NAMES[M_MID]]).toBeCloseTo(metric(g0, M_MID), 8);
    expect(f.data[1][METRIC_NAMES[M_BEST_BID]]).toBeCloseTo(metric(g2, M_BEST_BID), 8);
  });

  it('keeps an open last group: its newest point so far', () => {
    const h = new History();
    h.point(DAY_BUCKET + 5);
    const s = h.point(DAY_BUCKET + 6, 2);
    h.commit(DAY_BUCKET + 7); // bucket 7 has no point yet
    const f = h.build(DAY_MS, 5 * BASE_MS);
    expect(f.data).toEqual([expect.objectContaining({ time: iso(DAY_MS + 5000), seq: s, count: 3 })]);
  });

  it.each([
    [7400, 7000],
    [7600, 8000],
    [2500, 3000], // halves round up
    [1000, 1000],
    [300, 1000], // below the base: the base
    [0, 1000],
  ])('rounds resolution %i ms to the nearest multiple of the base: %i ms', (requested, expected) => {
    const h = new History();
    h.point(DAY_BUCKET);
    h.commit(DAY_BUCKET);
    const f = h.build(DAY_MS, requested);
    expect(f.resolution_ms).toBe(expected);
    expect(f.points).toBe(1);
  });

  it('groups by the rounded resolution', () => {
    const h = new History();
    for (let b = 0; b < 8; b++) h.point(DAY_BUCKET + b);
    h.commit(DAY_BUCKET + 7);
    const f = h.build(DAY_MS, 3900); // → 4000: groups 0..3 and 4..7
    expect(f.data.map((p) => [p.time, p.count])).toEqual([[iso(DAY_MS), 4], [iso(DAY_MS + 4000), 4]]);
  });

  it('gives an empty frame for a store never written', () => {
    const h = new History();
    const f = h.build(DAY_MS);
    expect(f).toEqual({
      type: 'historical_data', symbol: 'US.AAPL', epoch: 0, seq: 0, from: '2026-01-15T00:00:00.000Z',
      resolution_ms: BASE_MS, points: 0, sources: { memory: 0, database: 0 }, data: [],
    });
  });

  it('gives an empty frame when every point is before fromMs', () => {
    const h = new History();
    h.point(DAY_BUCKET - 10);
    h.commit(DAY_BUCKET - 10);
    const f = h.build(DAY_MS);
    expect(f).toMatchObject({ points: 0, seq: 0, data: [] });
  });

  it('reads only the last historyCapacity buckets when more have elapsed', () => {
    const cap = geometry.historyCapacity;
    const h = new History();
    const last = DAY_BUCKET + 1000;
    const oldest = last - cap + 1;
    // After fromMs but older than the window, and never overwritten: its slot is that of
    // bucket oldest - 100 + cap, inside the window, which got no point of its own.
    h.point(oldest - 100);
    const kept = [oldest, oldest + 50, last].map((b) => h.point(b));
    h.commit(last);
    // the stale point is still readable: only the window keeps it out of the frame
    expect(h.store.readPoint(oldest - 100, new Float64Array(HISTORY_POINT_FIELDS), 0)).toBe(true);
    const f = h.build(DAY_MS);
    expect(f.data.map((p) => p.seq)).toEqual(kept);
    expect(f.data.map((p) => p.time)).toEqual([oldest, oldest + 50, last].map((b) => iso(b * BASE_MS)));
    expect(f.seq).toBe(kept[2]);
  });

  it('does not read an old slot as a newer bucket that shares it', () => {
    const cap = geometry.historyCapacity;
    const h = new History();
    const last = DAY_BUCKET + 600;
    // bucket last - cap + 10 is in the window; bucket last - 2 * cap + 10 shares its slot
    h.point(last - 2 * cap + 10);
    const s = h.point(last);
    h.commit(last);
    const f = h.build(DAY_MS);
    expect(f.data.map((p) => p.seq)).toEqual([s]);
  });

  it('takes epoch and seq from the newest point', () => {
    const h = new History();
    h.point(DAY_BUCKET, 1, EPOCH);
    const s = h.point(DAY_BUCKET + 1, 1, EPOCH + 5);
    h.commit(DAY_BUCKET + 1, EPOCH + 5);
    const f = h.build(DAY_MS);
    expect(f.epoch).toBe(EPOCH + 5);
    expect(f.seq).toBe(s);
  });

  it('writes the symbol and the from instant as given', () => {
    const h = new History();
    h.point(DAY_BUCKET);
    h.commit(DAY_BUCKET);
    const from = DAY_MS - 123;
    const f = h.build(from, BASE_MS, 'BTC-USD:PERP');
    expect(f.symbol).toBe('BTC-USD:PERP');
    expect(f.from).toBe(iso(from));
  });
});
