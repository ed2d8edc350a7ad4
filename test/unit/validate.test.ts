// checkLevels on hand-made input records: every reject code, plus the encoder's record layout.
import { describe, expect, it } from 'vitest';
import { Book } from '../../src/book/book.js';
import {
  checkCrossing, checkLevels, REJECT_BAD_KIND, REJECT_BAD_PRICE, REJECT_BAD_SIZE, REJECT_CROSSED,
  REJECT_EMPTY, REJECT_LOCKED, REJECT_NONE, REJECT_REASONS, REJECT_TOO_MANY_LEVELS, REJECT_UNORDERED,
} from '../../src/book/validate.js';
import { writeInputRecord } from '../../src/feeds/encode-input.js';
import { createBookUpdate, KIND_DELTA, KIND_SNAPSHOT } from '../../src/feeds/types.js';
import {
  IN_ASK_COUNT, IN_BID_COUNT, IN_EXCHANGE_TS, IN_FEED_TS, IN_KIND, IN_LEVELS, IN_SYMBOL, inputRecordBytes,
} from '../../src/ring/layout.js';

const BASE = 3; // records do not start at 0 in a queue: prove offsets are relative
const buf = new ArrayBuffer(4096);
const f64 = new Float64Array(buf);
const u32 = new Uint32Array(buf);

/** Encodes an update into the shared buffer and checks it with what the record says. */
function check(kind: number, bids: [number, number][], asks: [number, number][], maxLevels?: number): number {
  const u = createBookUpdate(8);
  u.symbol = 'X';
  u.kind = kind;
  u.bidCount = bids.length;
  u.askCount = asks.length;
  bids.forEach(([p, s], i) => { u.bidPx[i] = p; u.bidSz[i] = s; });
  asks.forEach(([p, s], i) => { u.askPx[i] = p; u.askSz[i] = s; });
  writeInputRecord(u, 1, 0, f64, u32, BASE);
  const w = BASE * 2;
  return checkLevels(f64, BASE + IN_LEVELS, u32[w + IN_BID_COUNT], u32[w + IN_ASK_COUNT], u32[w + IN_KIND], maxLevels);
}

describe('writeInputRecord', () => {
  it('writes every IN_* field at base and returns the words written', () => {
    const u = createBookUpdate(4);
    u.kind = KIND_DELTA;
    u.exchangeTs = 1_700_000_000_123;
    u.bidCount = 2; u.bidPx.set([100, 99]); u.bidSz.set([1, 2]);
    u.askCount = 1; u.askPx.set([101]); u.askSz.set([3]);
    f64.fill(-1);
    const words = writeInputRecord(u, 77, 1_700_000_000_456.5, f64, u32, BASE);
    expect(words * 8).toBe(inputRecordBytes(2, 1));
    const w = BASE * 2;
    expect(u32[w + IN_SYMBOL]).toBe(77);
    expect(u32[w + IN_KIND]).toBe(KIND_DELTA);
    expect(f64[BASE + IN_FEED_TS]).toBe(1_700_000_000_456.5);
    expect(f64[BASE + IN_EXCHANGE_TS]).toBe(1_700_000_000_123);
    expect([u32[w + IN_BID_COUNT], u32[w + IN_ASK_COUNT]]).toEqual([2, 1]);
    expect(Array.from(f64.subarray(BASE + IN_LEVELS, BASE + words))).toEqual([100, 1, 99, 2, 101, 3]);
    expect(f64[BASE + words]).toBe(-1); // nothing written past the record
  });
});

describe('checkLevels', () => {
  it('accepts a well-formed snapshot and a delta with deletes in any order', () => {
    expect(check(KIND_SNAPSHOT, [[100, 1], [99, 2]], [[101, 1], [102, 2]])).toBe(REJECT_NONE);
    expect(check(KIND_DELTA, [[98, 0], [100, 5]], [[103, 1], [101, 0]])).toBe(REJECT_NONE);
    expect(check(KIND_DELTA, [], [])).toBe(REJECT_NONE);
  });

  it('bad_price: not finite or <= 0, on either side', () => {
    expect(check(KIND_SNAPSHOT, [[0, 1]], [[101, 1]])).toBe(REJECT_BAD_PRICE);
    expect(check(KIND_SNAPSHOT, [[100, 1]], [[-101, 1]])).toBe(REJECT_BAD_PRICE);
    expect(check(KIND_DELTA, [[NaN, 1]], [])).toBe(REJECT_BAD_PRICE);
    expect(check(KIND_DELTA, [], [[Infinity, 1]])).toBe(REJECT_BAD_PRICE);
  });

  it('bad_size: negative or not finite; zero only in snapshots', () => {
    expect(check(KIND_DELTA, [[100, -1]], [])).toBe(REJECT_BAD_SIZE);
    expect(check(KIND_DELTA, [], [[101, NaN]])).toBe(REJECT_BAD_SIZE);
    expect(check(KIND_SNAPSHOT, [[100, 1]], [[101, 0]])).toBe(REJECT_BAD_SIZE);
    expect(check(KIND_DELTA, [[100, 0]], [])).toBe(REJECT_NONE);
  });

  it('unordered: snapshot bids must strictly descend and asks strictly ascend', () => {
    expect(check(KIND_SNAPSHOT, [[99, 1], [100, 1]], [[101, 1]])).toBe(REJECT_UNORDERED);
    expect(check(KIND_SNAPSHOT, [[100, 1], [100, 1]], [[101, 1]])).toBe(REJECT_UNORDERED);
    expect(check(KIND_SNAPSHOT, [[100, 1]], [[102, 1], [101, 1]])).toBe(REJECT_UNORDERED);
  });

  it('empty: a snapshot with no levels at all; one side alone is fine', () => {
    expect(check(KIND_SNAPSHOT, [], [])).toBe(REJECT_EMPTY);
    expect(check(KIND_SNAPSHOT, [[100, 1]], [])).toBe(REJECT_NONE);
  });

  it('too_many_levels: a side beyond maxLevels', () => {
    expect(check(KIND_SNAPSHOT, [[100, 1], [99, 1], [98, 1]], [[101, 1]], 2)).toBe(REJECT_TOO_MANY_LEVELS);
    expect(check(KIND_SNAPSHOT, [[100, 1], [99, 1]], [[101, 1]], 2)).toBe(REJECT_NONE);
  });

  it('bad_kind: a kind that is neither snapshot nor delta', () => {
    expect(check(7, [[100, 1]], [[101, 1]])).toBe(REJECT_BAD_KIND);
  });
});

describe('checkCrossing after applying into a scratch book', () => {
  it('names locked (equal) and crossed (bid above ask), and passes a normal book', () => {
    const book = new Book(4);
    book.applySnapshot(new Float64Array([100, 1, 101, 1]), 0, 1, 1);
    expect(checkCrossing(book)).toBe(REJECT_NONE);
    const scratch = new Book(4);
    scratch.copyFrom(book);
    scratch.applyDelta(new Float64Array([101, 2]), 0, 1, 0);
    expect(checkCrossing(scratch)).toBe(REJECT_LOCKED);
    scratch.copyFrom(book);
    scratch.applyDelta(new Float64Array([100.5, 2]), 0, 0, 1);
    expect(checkCrossing(scratch)).toBe(REJECT_NONE);
    scratch.applyDelta(new Float64Array([100.75, 2]), 0, 1, 0);
    expect(checkCrossing(scratch)).toBe(REJECT_CROSSED);
    expect(book.bidPx[0]).toBe(100); // the real book never saw the rejected updates
  });
});

describe('REJECT_REASONS', () => {
  it('names each code at its index', () => {
    expect(REJECT_REASONS[REJECT_NONE]).toBe('ok');
    expect(REJECT_REASONS[REJECT_CROSSED]).toBe('crossed');
    expect(REJECT_REASONS[REJECT_LOCKED]).toBe('locked');
    expect(REJECT_REASONS[REJECT_BAD_PRICE]).toBe('bad_price');
    expect(REJECT_REASONS[REJECT_BAD_SIZE]).toBe('bad_size');
    expect(REJECT_REASONS[REJECT_UNORDERED]).toBe('unordered');
    expect(REJECT_REASONS[REJECT_TOO_MANY_LEVELS]).toBe('too_many_levels');
    expect(REJECT_REASONS[REJECT_EMPTY]).toBe('empty');
    expect(REJECT_REASONS[REJECT_BAD_KIND]).toBe('bad_kind');
    expect(new Set(REJECT_REASONS).size).toBe(REJECT_REASONS.length);
  });
});
