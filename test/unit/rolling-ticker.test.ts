// The rolling 24 h ticker against `SELECT … FROM trades WHERE time >= windowStart` recomputed by brute force after every step.
//
// Steps are trades (ahead of the clock, just behind it, or a day and more late) and wall-clock
// advances (seconds, hours, or past a whole day). The model keeps every trade ever given and
// derives asOf, windowStart and the window itself from the documented rule; numeric is BigInt
// scaled integers: volume and change must be the doubles nearest the exact values, quote volume
// and changePercent agree to 12 significant digits, the rest exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RollingTicker, TICKER_FIELDS, T_CHANGE, T_LAST, T_WINDOW_START, type Ticker, type TickerRecord, WINDOW_MINUTES,
  readTicker, writeTicker,
} from '../../src/analytics/rolling-ticker.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

// ─── Decimals as BigInt scaled integers (the model of numeric) ──────────────────

interface Dec { value: number; scaled: bigint } // scaled: units of 1e-8

/** A positive decimal of at most 8 places and 15 significant digits. */
const decimal = fc.oneof(
  fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 0, max: 8 })),
  fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 13n }), fc.integer({ min: 0, max: 8 })),
).map(([digits, places]): Dec => ({ value: Number(scaledText(digits, places)), scaled: digits * 10n ** BigInt(8 - places) }));

function scaledText(v: bigint, places: number): string {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(places + 1, '0');
  const text = places === 0 ? s : `${s.slice(0, s.length - places)}.${s.slice(s.length - places)}`;
  return neg ? `-${text}` : text;
}
const toNumber = (v: bigint, places: number): number => Number(scaledText(v, places));
const closeTo = (got: number, want: number): boolean => got === want || Math.abs(got - want) <= Math.abs(want) * 1e-12;

// ─── The model ──────────────────────────────────────────────────────────────────

interface Trade { time: number; seq: number; price: Dec; size: Dec }

/** The documented rule: windowStart = bucketStart('1m', asOf) − 24 h + 1 min; window = time ≥ windowStart. */
const windowStartOf = (asOf: number): number => Math.floor(asOf / MINUTE) * MINUTE - DAY + MINUTE;

function expectTicker(t: Ticker, all: Trade[], asOf: number): void {
  const windowStart = windowStartOf(asOf);
  expect([t.asOf, t.windowStart]).toEqual([asOf, windowStart]);
  const win = all.filter((x) => x.time >= windowStart).sort((a, b) => a.time - b.time || a.seq - b.seq);
  expect(t.trades).toBe(win.length);
  if (win.length === 0) {
    expect([t.open, t.high, t.low, t.last, t.change, t.changePercent, t.firstTradeTime, t.lastTradeTime].every(Number.isNaN)).toBe(true);
    expect([t.volume, t.quoteVolume]).toEqual([0, 0]);
    return;
  }
  const first = win[0];
  const last = win[win.length - 1];
  let volume = 0n;
  let quote = 0n;
  for (const x of win) {
    volume += x.size.scaled;
    quote += x.price.scaled * x.size.scaled;
  }
  const prices = win.map((x) => x.price.value);
  expect([t.open, t.last, t.high, t.low, t.firstTradeTime, t.lastTradeTime, t.volume, t.change])
    .toEqual([first.price.value, last.price.value, Math.max(...prices), Math.min(...prices), first.time, last.time,
      toNumber(volume, 8), toNumber(last.price.scaled - first.price.scaled, 8)]);
  expect(closeTo(t.quoteVolume, toNumber(quote, 16)), `quoteVolume ${t.quoteVolume}`).toBe(true);
  const pct = (Number(last.price.scaled - first.price.scaled) / Number(first.price.scaled)) * 100;
  expect(closeTo(t.changePercent, pct), `changePercent ${t.changePercent} vs ${pct}`).toBe(true);
}

// A step: a trade placed against the clock, or the wall clock moving on.
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('trade' as const),
    offset: fc.oneof( // ms from the clock: ahead, just behind, around the window's edge, far behind
      fc.integer({ min: 0, max: 90_000 }), fc.integer({ min: -5 * MINUTE, max: 0 }),
      fc.integer({ min: -DAY - 2 * MINUTE, max: -DAY + 2 * MINUTE }), fc.integer({ min: -2 * DAY, max: 0 })),
    equalTime: fc.boolean(), price: decimal, size: decimal,
  }) },
  { weight: 2, arbitrary: fc.record({
    kind: fc.constant('advance' as const),
    by: fc.oneof(fc.integer({ min: 0, max: 5 * MINUTE }), fc.integer({ min: 0, max: 6 * 3_600_000 }), fc.integer({ min: DAY - MINUTE, max: DAY + 5 * MINUTE })),
  }) },
);

describe('RollingTicker against the window recomputed from every trade', () => {
  it('trades ahead, behind and outside the window, and the wall clock, in any mix', () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 150 }), fc.nat(), (steps, seed) => {
      const ticker = new RollingTicker();
      const all: Trade[] = [];
      const into = {} as TickerRecord;
      let clock = T0; // the wall clock of the run
      let asOf = -Infinity;
      let ignored = 0;
      let lastTime = T0;
      steps.forEach((s, i) => {
        if (s.kind === 'advance') {
          clock += s.by;
          const before = windowStartOf(asOf);
          const moved = ticker.advance(clock);
          asOf = Math.max(asOf, clock);
          expect(moved).toBe(windowStartOf(asOf) !== before);
        } else {
          const time = s.equalTime ? lastTime : clock + s.offset;
          const trade = { time, seq: (i * 7919 + seed) % 100_003, price: s.price, size: s.size };
          lastTime = time;
          asOf = Math.max(asOf, time);
          const inWindow = time >= windowStartOf(asOf);
          if (!inWindow) ignored += 1;
          expect(ticker.add(trade.time, trade.seq, trade.price.value, trade.size.value)).toBe(inWindow);
          all.push(trade);
        }
        expect(ticker.read(into)).toBe(into);
        expectTicker(into, all, asOf);
        expect(ticker.ignored).toBe(ignored);
      });
    }), { numRuns: 300 });
  });
});

describe('RollingTicker, case by case', () => {
  it('a trade stays until its minute is 24 h old: in at 09:59:59.999 the next day, out at 10:00', () => {
    const t = new RollingTicker();
    const at = Date.parse('2026-03-01T10:00:30Z');
    t.add(at, 1, 100, 2);
    t.advance(at + DAY - 30_001);
    expect(t.read().trades).toBe(1);
    expect(t.windowStart).toBe(Date.parse('2026-03-01T10:00:00Z'));
    expect(t.advance(at + DAY - 30_000)).toBe(true);
    expect(t.windowStart).toBe(Date.parse('2026-03-01T10:01:00Z'));
    expect(t.read().trades).toBe(0);
    expect(t.add(at + 1000, 2, 101, 1)).toBe(false);
    expect(t.ignored).toBe(1);
  });

  it('the window is the current minute and the 1439 before it', () => {
    const t = new RollingTicker();
    const now = Date.parse('2026-03-02T00:00:00Z');
    for (let m = 0; m < 2 * WINDOW_MINUTES; m++) t.add(now - m * MINUTE, -m, 1 + m / 100, 0.5);
    const r = t.read();
    expect([r.trades, r.volume, r.high, r.last, r.open]).toEqual([WINDOW_MINUTES, WINDOW_MINUTES / 2, 1 + 1439 / 100, 1, 1 + 1439 / 100]);
    expect(r.windowStart).toBe(now - (WINDOW_MINUTES - 1) * MINUTE);
  });

  it('out of order and equal times: open and last follow (time, seq)', () => {
    const t = new RollingTicker();
    const at = Date.parse('2026-03-01T10:00:30Z');
    t.add(at + 5, 20, 101, 1);
    t.add(at, 8, 99.5, 1);
    t.add(at, 7, 99, 1);
    t.add(at + 5, 21, 102, 1);
    t.add(at + 5, 19, 103, 1);
    const r = t.read();
    expect([r.open, r.last, r.high, r.low, r.change, r.firstTradeTime, r.lastTradeTime]).toEqual([99, 102, 103, 99, 3, at, at + 5]);
  });

  it('three days of a trade a second: the last day exactly, no drift from minutes leaving', () => {
    const t = new RollingTicker();
    const trades: Trade[] = [];
    for (let s = 0; s < 3 * 86_400; s++) {
      const price = { value: 0, scaled: 10_000_000_000n + BigInt((s * 7_654_321) % 99_999_999) };
      price.value = toNumber(price.scaled, 8);
      const size = { value: 0, scaled: BigInt(1 + ((s * 104_729) % 12_345_678)) };
      size.value = toNumber(size.scaled, 8);
      const trade = { time: T0 + s * 1000 + (s % 997), seq: s, price, size };
      t.add(trade.time, trade.seq, price.value, size.value);
      if (trade.time >= T0 + 2 * DAY) trades.push(trade); // the model keeps what can still be in the window
    }
    const last = trades[trades.length - 1].time;
    expectTicker(t.read(), trades, last);
    t.advance(last + DAY);
    expectTicker(t.read(), trades, last + DAY);
  });

  it('ignores a trade without a finite time', () => {
    const t = new RollingTicker();
    t.add(T0, 1, 10, 1);
    expect(t.add(NaN, 2, 11, 1)).toBe(false);
    expect(t.add(-Infinity, 3, 11, 1)).toBe(false);
    expect([t.read().trades, t.ignored, t.asOf]).toEqual([1, 2, T0]);
  });

  it('writeTicker and readTicker round-trip through a Float64Array at an offset', () => {
    const t = new RollingTicker();
    t.add(T0, 1, 0.3, 1);
    t.add(T0 + 1, 2, 0.1, 2);
    const f64 = new Float64Array(2 * TICKER_FIELDS);
    writeTicker(f64, TICKER_FIELDS, t.read());
    expect([f64[TICKER_FIELDS + T_WINDOW_START], f64[TICKER_FIELDS + T_LAST], f64[TICKER_FIELDS + T_CHANGE]])
      .toEqual([T0 - DAY + MINUTE, 0.1, -0.2]);
    expect(readTicker(f64, TICKER_FIELDS)).toEqual(t.read());
  });
});
