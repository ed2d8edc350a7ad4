// Candles against SQL's GROUP BY recomputed by brute force: random decimal trades, equal times, late arrivals, gaps, DST days, closing.
//
// The model is the SQL of a candle over stored trades (numeric prices and sizes, ordered by
// (time, seq)) computed with BigInt scaled integers: volume must be the double nearest the exact
// sum, quote volume and vwap agree to 12 significant digits, everything else exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADD_BEGAN, ADD_CLOSED, ADD_DROPPED, ADD_LATE, ADD_OPEN, CANDLE_FIELDS, type Candle, CandleBuilder, C_CLOSED,
  C_END, C_LAST_SEQ, C_OPEN, C_START, type CandleRecord, readCandle, writeCandle,
} from '../../src/analytics/candle-builder.js';
import { addDecimal, decimalDifference, decimalNumber, fractionUnits } from '../../src/analytics/decimal-sum.js';
import { INTERVAL_MS, type Interval, bucketEnd, bucketStart } from '../../src/analytics/intervals.js';

const NY = 'America/New_York';
const localTime = new Intl.DateTimeFormat('en-US', { timeZone: NY, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
const utc = (iso: string): number => Date.parse(iso);

// ─── Decimals as BigInt scaled integers (the model of numeric) ──────────────────

interface Dec { text: string; value: number; scaled: bigint } // scaled: units of 1e-8

/** A positive decimal of at most 8 places and 15 significant digits, mostly small, sometimes large. */
const decimal = fc.oneof(
  fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 0, max: 8 })),
  fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 13n }), fc.integer({ min: 0, max: 8 })),
  fc.tuple(fc.bigInt({ min: 1n, max: 999n }), fc.constant(0)),
).map(([digits, places]): Dec => {
  const text = scaledText(digits, places);
  return { text, value: Number(text), scaled: digits * 10n ** BigInt(8 - places) };
});

/** "123.45" from 12345n and 2 places; negative values too. */
function scaledText(v: bigint, places: number): string {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(places + 1, '0');
  const text = places === 0 ? s : `${s.slice(0, s.length - places)}.${s.slice(s.length - places)}`;
  return neg ? `-${text}` : text;
}

/** The double a reader gets by parsing numeric's text of v·10^-places. */
const toNumber = (v: bigint, places: number): number => Number(scaledText(v, places));

const closeTo = (got: number, want: number, digits = 12): boolean =>
  got === want || Math.abs(got - want) <= Math.abs(want) * 10 ** -digits;

// ─── The model: a GROUP BY over the trades ──────────────────────────────────────

interface Trade { time: number; seq: number; price: Dec; size: Dec }

interface Expected { start: number; open: number; high: number; low: number; close: number; volume: number;
  quoteVolume: number; vwap: number; trades: number; firstTime: number; firstSeq: number; lastTime: number; lastSeq: number }

const byTimeSeq = (a: Trade, b: Trade): number => a.time - b.time || a.seq - b.seq;

function sqlCandles(trades: Trade[], interval: Interval, timeZone: string): Map<number, Expected> {
  const groups = new Map<number, Trade[]>();
  for (const t of trades) {
    const start = bucketStart(interval, t.time, timeZone);
    groups.set(start, [...(groups.get(start) ?? []), t]);
  }
  const out = new Map<number, Expected>();
  for (const [start, group] of groups) {
    const sorted = [...group].sort(byTimeSeq);
    const first = sorted[0];
    const last = sorted[sorted.length - 1];
    let volume = 0n;
    let quote = 0n;
    for (const t of group) {
      volume += t.size.scaled;
      quote += t.price.scaled * t.size.scaled;
    }
    const prices = group.map((t) => t.price.value);
    const volumeNumber = toNumber(volume, 8);
    const quoteNumber = toNumber(quote, 16);
    out.set(start, {
      start, open: first.price.value, close: last.price.value, high: Math.max(...prices), low: Math.min(...prices),
      volume: volumeNumber, quoteVolume: quoteNumber, vwap: quoteNumber / volumeNumber, trades: group.length,
      firstTime: first.time, firstSeq: first.seq, lastTime: last.time, lastSeq: last.seq,
    });
  }
  return out;
}

function expectCandle(c: Candle, e: Expected | undefined): void {
  expect(e, `candle at ${new Date(c.start).toISOString()} has trades in the model`).toBeDefined();
  const x = e as Expected;
  expect([c.start, c.open, c.high, c.low, c.close, c.volume, c.trades, c.firstTime, c.firstSeq, c.lastTime, c.lastSeq])
    .toEqual([x.start, x.open, x.high, x.low, x.close, x.volume, x.trades, x.firstTime, x.firstSeq, x.lastTime, x.lastSeq]);
  expect(closeTo(c.quoteVolume, x.quoteVolume), `quoteVolume ${c.quoteVolume} vs ${x.quoteVolume}`).toBe(true);
  expect(closeTo(c.vwap, x.vwap), `vwap ${c.vwap} vs ${x.vwap}`).toBe(true);
}

const held = (b: CandleBuilder): Candle[] => Array.from({ length: b.size }, (_, i) => b.at(i));

// ─── Random runs ────────────────────────────────────────────────────────────────

/** Trades of a few buckets with gaps, times often shared and on bucket edges, delivered partly out of order. */
function tradeRuns(len: number, buckets: number) {
  const within = fc.oneof(fc.constantFrom(0, 1, len >> 1, len - 1), fc.integer({ min: 0, max: len - 1 }));
  const raw = fc.array(fc.record({ bucket: fc.integer({ min: 0, max: buckets - 1 }), within, price: decimal, size: decimal }),
    { minLength: 1, maxLength: 120 });
  const swaps = fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 });
  return fc.tuple(raw, swaps, fc.boolean()).map(([rows, sw, shuffle]) => ({ rows, sw, shuffle }));
}

/** Sorted by time, seq unique and shuffled against time (ties by seq are not arrival order), then reordered. */
function arrival(base: number, len: number, r: { rows: { bucket: number; within: number; price: Dec; size: Dec }[]; sw: [number, number][]; shuffle: boolean }, seed: number): Trade[] {
  const trades = r.rows.map((x, i) => ({ time: base + x.bucket * len + x.within, seq: (i * 7919 + seed) % 100_003, price: x.price, size: x.size }));
  trades.sort((a, b) => a.time - b.time);
  if (r.shuffle) for (const [i, j] of r.sw) {
    const a = i % trades.length;
    const b = j % trades.length;
    [trades[a], trades[b]] = [trades[b], trades[a]];
  }
  return trades;
}

/** Runs trades (and closeDue calls between them) through a builder, checking each report; returns the model's closing facts. */
function run(b: CandleBuilder, trades: Trade[], closeEvery: number, closeLead: number) {
  let maxTime = -Infinity;
  const closeCalls: { after: number; now: number }[] = [];
  trades.forEach((t, i) => {
    const flags = b.add(t.time, t.seq, t.price.value, t.size.value);
    const start = bucketStart(b.interval, t.time, b.timeZone);
    if (flags & ADD_DROPPED) {
      expect(flags).toBe(ADD_DROPPED);
      expect(b.changed).toBeNull();
    } else {
      expect(b.changed?.start).toBe(start);
      expect((flags & ADD_OPEN) !== 0).toBe(b.changed === b.open);
      expect((flags & ADD_LATE) !== 0).toBe(b.changed !== b.open);
      if (flags & ADD_BEGAN) expect(b.changed?.trades).toBe(1);
    }
    if (flags & ADD_CLOSED) {
      expect(b.closedCandle?.closed).toBe(true);
      expect(b.closedCandle!.start).toBeLessThan(start);
    } else expect(b.closedCandle).toBeNull();
    maxTime = Math.max(maxTime, t.time);
    if (closeEvery > 0 && i % closeEvery === 0) {
      const now = maxTime + closeLead;
      const open = b.open;
      const closed = b.closeDue(now);
      if (open !== null && now >= open.end + b.graceMs) {
        expect(closed).toBe(open);
        expect(closed?.closed).toBe(true);
      } else expect(closed).toBeNull();
      closeCalls.push({ after: i, now });
    }
  });
  return { maxTime, closeCalls };
}

/** Every held candle is its bucket's GROUP BY row; no bucket with trades is missing inside the held horizon; closed flags. */
function checkHeld(b: CandleBuilder, trades: Trade[], closeCalls: { after: number; now: number }[], maxTime: number): void {
  const want = sqlCandles(trades, b.interval, b.timeZone);
  const candles = held(b);
  for (let i = 1; i < candles.length; i++) expect(candles[i].start).toBeGreaterThanOrEqual(candles[i - 1].end);
  for (const c of candles) expectCandle(c, want.get(c.start));
  const oldest = candles.length > 0 ? candles[0].start : Infinity;
  const heldStarts = new Set(candles.map((c) => c.start));
  for (const start of want.keys()) if (start >= oldest) expect(heldStarts.has(start), `bucket ${start} held`).toBe(true);
  if (candles.length - (b.open === null ? 0 : 1) < b.keep) expect(b.dropped).toBe(0); // the ring never filled: nothing left
  // Closed: every candle but the newest bucket's; that one once closeDue passed its end + grace after it began.
  const newest = bucketStart(b.interval, maxTime, b.timeZone);
  const firstOfNewest = trades.findIndex((t) => bucketStart(b.interval, t.time, b.timeZone) === newest);
  const newestEnd = bucketEnd(b.interval, newest, b.timeZone);
  const dueClosed = closeCalls.some((c) => c.after >= firstOfNewest && c.now >= newestEnd + b.graceMs);
  for (const c of candles) expect(c.closed, `closed at ${c.start}`).toBe(c.start !== newest || dueClosed);
  expect(b.open === null).toBe(dueClosed);
}

describe('CandleBuilder against the GROUP BY of its trades', () => {
  const fixed: Interval[] = ['1s', '1m', '5m', '15m', '1h', '4h'];
  for (const interval of fixed) {
    it(`${interval}: random trades, everything held`, () => {
      const len = INTERVAL_MS[interval];
      const base = utc('2026-03-01T00:00:00Z') + len * 7;
      fc.assert(fc.property(tradeRuns(len, 10), fc.nat(), fc.integer({ min: 0, max: 5 }), fc.integer({ min: -len, max: 2 * len }),
        (r, seed, closeEvery, closeLead) => {
          const b = new CandleBuilder({ interval, timeZone: NY, keep: 16, graceMs: len >> 2 });
          const trades = arrival(base, len, r, seed);
          const { maxTime, closeCalls } = run(b, trades, closeEvery, closeLead);
          expect(b.dropped).toBe(0);
          checkHeld(b, trades, closeCalls, maxTime);
          expect(held(b).length).toBe(sqlCandles(trades, interval, NY).size);
        }), { numRuns: 60 });
    });
  }

  it('a small ring: held candles stay exact, older trades are dropped, never half-counted', () => {
    const len = INTERVAL_MS['1m'];
    const base = utc('2026-03-01T00:00:00Z');
    fc.assert(fc.property(tradeRuns(len, 14), fc.nat(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 }),
      (r, seed, keep, closeEvery) => {
        const b = new CandleBuilder({ interval: '1m', timeZone: 'UTC', keep, graceMs: 1000 });
        const trades = arrival(base, len, r, seed);
        const { maxTime, closeCalls } = run(b, trades, closeEvery, 0);
        checkHeld(b, trades, closeCalls, maxTime);
        const kept = held(b).reduce((n, c) => n + c.trades, 0);
        expect(kept + b.dropped).toBeLessThanOrEqual(trades.length);
        expect(held(b).length).toBeLessThanOrEqual(keep + 1);
      }), { numRuns: 300 });
  });

  it('1d in America/New_York across both DST changes: days of 23 and 25 hours, each from local midnight', () => {
    for (const [from, short] of [['2026-03-06T05:00:00Z', '2026-03-08T05:00:00Z'], ['2026-10-30T04:00:00Z', '2026-11-01T04:00:00Z']]) {
      const base = utc(from);
      const len = 3_600_000; // trades placed by the hour over five days
      fc.assert(fc.property(tradeRuns(len, 5 * 24), fc.nat(), (r, seed) => {
        const b = new CandleBuilder({ interval: '1d', timeZone: NY, keep: 8, graceMs: 0 });
        const trades = arrival(base, len, r, seed);
        const { maxTime, closeCalls } = run(b, trades, 0, 0);
        checkHeld(b, trades, closeCalls, maxTime);
        for (const c of held(b)) {
          expect(localTime.format(c.start)).toBe('00:00');
          expect(c.end - c.start).toBe(c.start === utc(short) ? (from.includes('-03-') ? 23 : 25) * 3_600_000 : 86_400_000);
        }
      }), { numRuns: 25 });
    }
  });
});

describe('CandleBuilder, case by case', () => {
  const mk = (keep = 4, graceMs = 0): CandleBuilder => new CandleBuilder({ interval: '1m', timeZone: 'UTC', keep, graceMs });
  const T = utc('2026-03-01T12:00:00Z');

  it('an equal time with a lower seq sets open; a higher one sets close', () => {
    const b = mk();
    b.add(T + 5, 10, 100, 1);
    b.add(T + 5, 4, 99, 1);
    b.add(T + 5, 12, 101, 1);
    b.add(T + 5, 11, 102, 1);
    expect([b.open?.open, b.open?.close, b.open?.firstSeq, b.open?.lastSeq]).toEqual([99, 101, 4, 12]);
  });

  it('a later bucket closes the open candle; a trade in the gap gets its own closed candle', () => {
    const b = mk();
    expect(b.add(T, 1, 10, 1)).toBe(ADD_OPEN | ADD_BEGAN);
    const first = b.open;
    expect(b.add(T + 180_000, 2, 11, 1)).toBe(ADD_OPEN | ADD_BEGAN | ADD_CLOSED);
    expect(b.closedCandle).toBe(first);
    expect(b.add(T + 60_000, 3, 12, 1)).toBe(ADD_LATE | ADD_BEGAN);
    expect(held(b).map((c) => [(c.start - T) / 60_000, c.closed])).toEqual([[0, true], [1, true], [3, false]]);
    expect(b.add(T + 30_000, 4, 13, 2)).toBe(ADD_LATE);
    expect(b.changed).toBe(first);
    expect(first?.close).toBe(13);
  });

  it('closeDue waits for end + grace; with nothing held the closed candle stays readable until the next call', () => {
    const b = mk(0, 2000);
    b.add(T, 1, 10, 1.5);
    expect(b.closeDue(T + 61_999)).toBeNull();
    const c = b.closeDue(T + 62_000);
    expect(c?.closed).toBe(true);
    expect(c?.volume).toBe(1.5);
    expect(b.open).toBeNull();
    expect(b.add(T + 1, 2, 10, 1)).toBe(ADD_DROPPED); // its candle has left the builder
    expect(b.add(T + 60_000, 3, 11, 1)).toBe(ADD_OPEN | ADD_BEGAN);
    const open = b.open;
    expect(b.add(T + 120_000, 4, 12, 1)).toBe(ADD_OPEN | ADD_BEGAN | ADD_CLOSED);
    expect(b.closedCandle).toBe(open);
    expect(b.closedCandle?.close).toBe(11);
  });

  it('reuses its keep + 2 candle objects however many buckets pass', () => {
    const b = mk(3);
    const seen = new Set<Candle>();
    for (let i = 0; i < 1000; i++) {
      b.add(T + i * 30_000, i, 100 + (i % 7), 0.1);
      for (const c of held(b)) seen.add(c);
    }
    expect(seen.size).toBeLessThanOrEqual(5);
    expect(held(b).map((c) => c.volume)).toEqual([0.2, 0.2, 0.2, 0.2]);
  });

  it('writeCandle and readCandle round-trip through a Float64Array at an offset', () => {
    const b = mk();
    b.add(T + 7, 3, 101.25, 0.3);
    b.add(T + 9, 5, 99.5, 0.7);
    b.add(T + 70_000, 6, 100, 1);
    const f64 = new Float64Array(3 * CANDLE_FIELDS);
    writeCandle(f64, CANDLE_FIELDS, b.at(0));
    expect([f64[CANDLE_FIELDS + C_START], f64[CANDLE_FIELDS + C_OPEN], f64[CANDLE_FIELDS + C_CLOSED], f64[CANDLE_FIELDS + C_LAST_SEQ], f64[CANDLE_FIELDS + C_END]])
      .toEqual([T, 101.25, 1, 5, T + 60_000]);
    expect(readCandle(f64, CANDLE_FIELDS)).toEqual(pick(b.at(0)));
    const into = {} as CandleRecord;
    expect(readCandle(f64, CANDLE_FIELDS, into)).toBe(into);
    expect(into.closed).toBe(true);
  });

  it('drops a trade without a finite time', () => {
    const b = mk();
    expect(b.add(NaN, 1, 10, 1)).toBe(ADD_DROPPED);
    expect(b.add(Infinity, 2, 10, 1)).toBe(ADD_DROPPED);
    expect([b.size, b.dropped]).toEqual([0, 2]);
  });

  it('refuses bad options, naming them', () => {
    expect(() => new CandleBuilder({ interval: '2m' as Interval, timeZone: 'UTC', keep: 1, graceMs: 0 })).toThrow(/interval/);
    expect(() => new CandleBuilder({ interval: '1m', timeZone: 'UTC', keep: -1, graceMs: 0 })).toThrow(/keep/);
    expect(() => new CandleBuilder({ interval: '1m', timeZone: 'UTC', keep: 1, graceMs: NaN })).toThrow(/graceMs/);
    expect(() => new CandleBuilder({ interval: '1d', timeZone: 'Mars/Olympus', keep: 1, graceMs: 0 })).toThrow(/timeZone/);
  });
});

/** A candle's public fields as a plain object. */
function pick(c: Candle): Candle {
  const { start, end, open, high, low, close, volume, quoteVolume, trades, vwap, closed, firstTime, firstSeq, lastTime, lastSeq } = c;
  return { start, end, open, high, low, close, volume, quoteVolume, trades, vwap, closed, firstTime, firstSeq, lastTime, lastSeq };
}

describe('exact decimal sums', () => {
  /** Any decimal of at most 10 places whose double identifies it: below 2^18, or at most 15 significant digits. */
  const anyDecimal = fc.oneof(
    fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 18n * 10n ** 10n - 1n }), fc.constant(10)),
    fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }), fc.integer({ min: 0, max: 10 })),
  ).map(([v, places]) => ({ value: toNumber(v, places), scaled: v * 10n ** BigInt(10 - places) }));

  it('recovers whole and 1e-10 units of a decimal from its double', () => {
    fc.assert(fc.property(anyDecimal, ({ value, scaled }) => {
      expect(BigInt(Math.floor(value)) * 10n ** 10n + BigInt(fractionUnits(value))).toBe(scaled);
    }), { numRuns: 20_000 });
  });

  it('rounds whole + units once, to the double parsing gives, up to 2^53', () => {
    fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 2 ** 53 - 1 })),
      fc.integer({ min: 0, max: 1e10 - 1 }), (whole, units) => {
        const want = toNumber(BigInt(whole) * 10n ** 10n + BigInt(units), 10);
        expect(decimalNumber(whole, units)).toBe(want);
        expect(decimalNumber(-whole - 1, units)).toBe(toNumber(BigInt(-whole - 1) * 10n ** 10n + BigInt(units), 10));
      }), { numRuns: 20_000 });
  });

  it('sums thousands of sizes with no drift, and subtracts exactly', () => {
    fc.assert(fc.property(fc.array(anyDecimal, { minLength: 1, maxLength: 2000 }), (xs) => {
      const acc = new Float64Array(2);
      let exact = 0n;
      for (const x of xs) {
        addDecimal(acc, 0, x.value);
        exact += x.scaled;
      }
      expect(decimalNumber(acc[0], acc[1])).toBe(toNumber(exact, 10));
      expect(decimalDifference(xs[0].value, xs[xs.length - 1].value)).toBe(toNumber(xs[0].scaled - xs[xs.length - 1].scaled, 10));
    }), { numRuns: 100 });
  });

  it('0.1 + 0.2 is 0.3, a million times 0.1 is 100000', () => {
    const acc = new Float64Array(2);
    addDecimal(acc, 0, 0.1);
    addDecimal(acc, 0, 0.2);
    expect(decimalNumber(acc[0], acc[1])).toBe(0.3);
    acc.fill(0);
    for (let i = 0; i < 1_000_000; i++) addDecimal(acc, 0, 0.1);
    expect(decimalNumber(acc[0], acc[1])).toBe(100_000);
  });
});
