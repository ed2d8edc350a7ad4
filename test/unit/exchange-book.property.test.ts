// BookSide against a plain Map model: after any sequence of sets and deletes, the sorted levels are the model's, best first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BookSide } from '../../src/feeds/exchange-book.js';
import { Backoff } from '../../src/feeds/backoff.js';

const op = fc.record({ price: fc.integer({ min: 1, max: 60 }).map((p) => p / 4), size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 }).map((s) => s / 8)) });

describe('BookSide', () => {
  for (const descending of [true, false]) {
    it(`keeps ${descending ? 'bids' : 'asks'} equal to a map model, best first, through growth`, () => {
      fc.assert(fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 30 }), (ops, depth) => {
        const side = new BookSide(descending, 2); // tiny: every run grows it
        const model = new Map<number, number>();
        for (const { price, size } of ops) {
          side.set(price, size);
          if (size === 0) model.delete(price);
          else model.set(price, size);
        }
        const want = [...model.entries()].sort((a, b) => (descending ? b[0] - a[0] : a[0] - b[0]));
        expect(side.count).toBe(want.length);
        const px = new Float64Array(depth);
        const sz = new Float64Array(depth);
        const k = side.top(px, sz, depth);
        expect(k).toBe(Math.min(depth, want.length));
        for (let i = 0; i < k; i++) expect([px[i], sz[i]]).toEqual(want[i]);
      }));
    });
  }
});

describe('Backoff', () => {
  it('grows from about the first delay to the cap, jittered, and starts over after reset', () => {
    const lo = new Backoff(500, 8000, () => 0);
    const hi = new Backoff(500, 8000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => hi.next())).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect([1, 2, 3].map(() => lo.next())).toEqual([250, 250, 250]);
    hi.reset();
    expect(hi.next()).toBe(500);
  });
});
