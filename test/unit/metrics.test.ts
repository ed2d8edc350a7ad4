// computeMetrics on hand-worked books: the expected numbers are written out, not recomputed.
import { describe, expect, it } from 'vitest';
import { Book } from '../../src/book/book.js';
import { computeMetrics } from '../../src/book/metrics.js';
import {
  M_ASK_VOLUME, M_BEST_ASK, M_BEST_BID, M_BID_VOLUME, M_IMBALANCE, M_MICROPRICE, M_MID, M_SPREAD,
  M_SPREAD_PCT, M_TOTAL_VOLUME, METRIC_COUNT,
} from '../../src/ring/layout.js';

function book(bids: [number, number][], asks: [number, number][], depth = 5): Book {
  const b = new Book(depth);
  b.applySnapshot(Float64Array.from([...bids.flat(), ...asks.flat()]), 0, bids.length, asks.length);
  return b;
}

describe('computeMetrics', () => {
  it('computes every metric of a two-sided book at the given base', () => {
    const out = new Float64Array(4 + METRIC_COUNT + 1).fill(-7);
    computeMetrics(book([[100, 5], [99, 10]], [[101, 3], [102, 7]]), out, 4);
    const m = (i: number): number => out[4 + i];
    expect(m(M_BEST_BID)).toBe(100);
    expect(m(M_BEST_ASK)).toBe(101);
    expect(m(M_MID)).toBe(100.5);
    expect(m(M_SPREAD)).toBe(1);
    expect(m(M_SPREAD_PCT)).toBeCloseTo(0.99502487562, 9); // 1 / 100.5 * 100
    expect(m(M_BID_VOLUME)).toBe(15);
    expect(m(M_ASK_VOLUME)).toBe(10);
    expect(m(M_TOTAL_VOLUME)).toBe(25);
    expect(m(M_IMBALANCE)).toBeCloseTo(0.2, 12); // (15 - 10) / 25
    expect(m(M_MICROPRICE)).toBe(100.625); // (100*3 + 101*5) / 8
    expect(out[3]).toBe(-7); // nothing written outside [base, base + METRIC_COUNT)
    expect(out[4 + METRIC_COUNT]).toBe(-7);
  });

  it('volumes count only kept levels (depth), and microprice leans to the thinner side', () => {
    const out = new Float64Array(METRIC_COUNT);
    computeMetrics(book([[10, 1], [9, 100]], [[12, 9], [13, 100]], 1), out, 0);
    expect(out[M_BID_VOLUME]).toBe(1);
    expect(out[M_ASK_VOLUME]).toBe(9);
    expect(out[M_IMBALANCE]).toBe(-0.8); // (1 - 9) / 10
    expect(out[M_MICROPRICE]).toBe(10.2); // (10*9 + 12*1) / 10: close to the bid, whose side is thin
    expect(out[M_SPREAD_PCT]).toBeCloseTo(18.181818181818, 9); // 2 / 11 * 100
  });

  it('one-sided book: metrics needing both sides are NaN, volumes still reported', () => {
    const out = new Float64Array(METRIC_COUNT);
    computeMetrics(book([[100, 5], [99, 10]], []), out, 0);
    expect(out[M_BEST_BID]).toBe(100);
    for (const i of [M_BEST_ASK, M_MID, M_SPREAD, M_SPREAD_PCT, M_IMBALANCE, M_MICROPRICE]) {
      expect(out[i]).toBeNaN();
    }
    expect([out[M_BID_VOLUME], out[M_ASK_VOLUME], out[M_TOTAL_VOLUME]]).toEqual([15, 0, 15]);

    computeMetrics(book([], [[101, 3]]), out, 0);
    expect(out[M_BEST_BID]).toBeNaN();
    expect(out[M_BEST_ASK]).toBe(101);
    expect(out[M_MID]).toBeNaN();
  });

  it('empty book: every price metric NaN and volumes 0', () => {
    const out = new Float64Array(METRIC_COUNT);
    computeMetrics(new Book(3), out, 0);
    expect(out[M_BEST_BID]).toBeNaN();
    expect(out[M_MICROPRICE]).toBeNaN();
    expect(out[M_TOTAL_VOLUME]).toBe(0);
  });
});
