// Book: snapshot truncation, delta upsert/delete ordering and depth, copy, record round trip, crossing.
import { describe, expect, it } from 'vitest';
import { Book } from '../../src/book/book.js';
import { R_ASK_COUNT, R_BID_COUNT, R_LEVELS, rawRecordFields } from '../../src/ring/layout.js';

/** Levels as the shard sees them: bid pairs then ask pairs, in one Float64Array. */
function levels(bids: [number, number][], asks: [number, number][]): Float64Array {
  return Float64Array.from([...bids.flat(), ...asks.flat()]);
}
function sides(b: Book): { bids: number[][]; asks: number[][] } {
  const bids: number[][] = [];
  const asks: number[][] = [];
  for (let i = 0; i < b.bidCount; i++) bids.push([b.bidPx[i], b.bidSz[i]]);
  for (let i = 0; i < b.askCount; i++) asks.push([b.askPx[i], b.askSz[i]]);
  return { bids, asks };
}
function snapshot(b: Book, bids: [number, number][], asks: [number, number][]): void {
  b.applySnapshot(levels(bids, asks), 0, bids.length, asks.length);
}
function delta(b: Book, bids: [number, number][], asks: [number, number][]): void {
  b.applyDelta(levels(bids, asks), 0, bids.length, asks.length);
}

describe('Book.applySnapshot', () => {
  it('keeps the best depth levels per side and reads asks after all bids', () => {
    const b = new Book(2);
    snapshot(b, [[100, 1], [99, 2], [98, 3]], [[101, 4], [102, 5], [103, 6], [104, 7]]);
    expect(sides(b)).toEqual({ bids: [[100, 1], [99, 2]], asks: [[101, 4], [102, 5]] });
  });

  it('honours a base offset and replaces earlier state', () => {
    const b = new Book(5);
    snapshot(b, [[10, 1], [9, 1], [8, 1]], [[11, 1]]);
    const src = new Float64Array([-1, -1, -1, 50, 2, 51, 3]);
    b.applySnapshot(src, 3, 1, 1);
    expect(sides(b)).toEqual({ bids: [[50, 2]], asks: [[51, 3]] });
  });

  it('rejects a depth that is not a positive integer', () => {
    expect(() => new Book(0)).toThrow(RangeError);
    expect(() => new Book(1.5)).toThrow(/depth/);
  });
});

describe('Book.applyDelta', () => {
  it('inserts new levels in sorted position on both sides', () => {
    const b = new Book(5);
    snapshot(b, [[100, 1], [98, 1]], [[101, 1], [103, 1]]);
    delta(b, [[99, 2], [96, 3], [100.5, 4]], [[102, 5], [100.75, 6], [110, 7]]);
    expect(sides(b)).toEqual({
      bids: [[100.5, 4], [100, 1], [99, 2], [98, 1], [96, 3]],
      asks: [[100.75, 6], [101, 1], [102, 5], [103, 1], [110, 7]],
    });
  });

  it('updates the size of an existing level in place', () => {
    const b = new Book(3);
    snapshot(b, [[100, 1], [99, 1]], [[101, 1]]);
    delta(b, [[99, 42]], [[101, 7]]);
    expect(sides(b)).toEqual({ bids: [[100, 1], [99, 42]], asks: [[101, 7]] });
  });

  it('deletes a level with size 0 and shifts the rest up; deleting an absent level is a no-op', () => {
    const b = new Book(4);
    snapshot(b, [[100, 1], [99, 2], [98, 3]], [[101, 1], [102, 2]]);
    delta(b, [[100, 0], [97.5, 0]], [[102, 0], [150, 0]]);
    expect(sides(b)).toEqual({ bids: [[99, 2], [98, 3]], asks: [[101, 1]] });
    delta(b, [], [[101, 0]]);
    expect(sides(b).asks).toEqual([]);
  });

  it('stays truncated to depth: a better level pushes out the worst, a worse one is ignored', () => {
    const b = new Book(3);
    snapshot(b, [[100, 1], [99, 1], [98, 1]], [[101, 1], [102, 1], [103, 1]]);
    delta(b, [[99.5, 9], [90, 9]], [[101.5, 9], [200, 9]]);
    expect(sides(b)).toEqual({
      bids: [[100, 1], [99.5, 9], [99, 1]],
      asks: [[101, 1], [101.5, 9], [102, 1]],
    });
    expect(b.bidCount).toBe(3);
    expect(b.askCount).toBe(3);
  });

  it('applies levels in the order given, so a later entry for the same price wins', () => {
    const b = new Book(3);
    delta(b, [[100, 5], [100, 0], [99, 1], [99, 3]], []);
    expect(sides(b).bids).toEqual([[99, 3]]);
  });
});

describe('Book.copyFrom and clear', () => {
  it('copies levels and counts without sharing arrays', () => {
    const a = new Book(3);
    snapshot(a, [[100, 1], [99, 2]], [[101, 3]]);
    const b = new Book(3);
    b.copyFrom(a);
    expect(sides(b)).toEqual(sides(a));
    delta(a, [[100, 0]], []);
    expect(sides(b).bids).toEqual([[100, 1], [99, 2]]);
    b.clear();
    expect(sides(b)).toEqual({ bids: [], asks: [] });
  });

  it('refuses a book of another depth', () => {
    expect(() => new Book(3).copyFrom(new Book(4))).toThrow(RangeError);
  });
});

describe('Book record round trip', () => {
  it('writes counts, levels and zeroed unused slots, and reads them back', () => {
    const depth = 3;
    const base = 7;
    const f64 = new Float64Array(base + rawRecordFields(depth)).fill(-9);
    const a = new Book(depth);
    snapshot(a, [[100, 1], [99, 2]], [[101, 3]]);
    a.writeToRecord(f64, base);
    expect(f64[base + R_BID_COUNT]).toBe(2);
    expect(f64[base + R_ASK_COUNT]).toBe(1);
    const bidSlots = Array.from(f64.subarray(base + R_LEVELS, base + R_LEVELS + 2 * depth));
    const askSlots = Array.from(f64.subarray(base + R_LEVELS + 2 * depth, base + R_LEVELS + 4 * depth));
    expect(bidSlots).toEqual([100, 1, 99, 2, 0, 0]);
    expect(askSlots).toEqual([101, 3, 0, 0, 0, 0]);

    const b = new Book(depth);
    snapshot(b, [[1, 1], [0.5, 1], [0.25, 1]], [[2, 1], [3, 1], [4, 1]]);
    b.loadFromRecord(f64, base);
    expect(sides(b)).toEqual(sides(a));
  });
});

describe('Book.crossedOrLocked', () => {
  it('is true only when both sides exist and best bid >= best ask', () => {
    const b = new Book(2);
    snapshot(b, [[100, 1]], [[101, 1]]);
    expect(b.crossedOrLocked()).toBe(false);
    snapshot(b, [[101, 1]], [[101, 1]]);
    expect(b.crossedOrLocked()).toBe(true);
    snapshot(b, [[102, 1]], [[101, 1]]);
    expect(b.crossedOrLocked()).toBe(true);
    snapshot(b, [[102, 1]], []);
    expect(b.crossedOrLocked()).toBe(false);
    snapshot(b, [], [[1, 1]]);
    expect(b.crossedOrLocked()).toBe(false);
  });
});
