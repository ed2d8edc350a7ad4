// The cache actor's price change and price history from the shared rings alone (no PostgreSQL), on real
// SharedArrayBuffers written as a shard writes them: the last trade at or before an instant from the
// trade ring, then from the minute's 1m candle when it settles it, then from the minute before;
// the newest price; history pages of 1m closes from the ring's coverage on.
import { describe, expect, it } from 'vitest';
import { Markets } from '../../src/actors/cache/market.js';
import { Prices } from '../../src/actors/cache/prices.js';
import type { SymbolRegistration } from '../../src/actors/registry.js';
import { type Candle, writeCandle } from '../../src/analytics/candle-builder.js';
import { INTERVALS } from '../../src/analytics/intervals.js';
import { AnalyticsStore, bucketNumber, createAnalyticsBuffer } from '../../src/ring/analytics-store.js';
import { AH_COVERAGE_START, AS_EPOCH, AS_RECORD, AS_SEQ } from '../../src/ring/layout.js';
import { TradeStore, createTradeBuffer } from '../../src/ring/trade-store.js';
import { EPOCH, writeTrade } from '../helpers/trade-records.js';

const MIN = 60_000;
const K_1M = INTERVALS.indexOf('1m');
/** A whole minute, well before any test's "now". */
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

interface Rig {
  prices: Prices;
  trade(seq: number, timeMs: number, price: number): void;
  minute(start: number, trades: { time: number; price: number }[]): void;
  seeded(start: number, close: number): void;
}

/** One symbol 'SYM' registered at `registeredAtMs`, a trade ring of `capacity`, Redis answering `redisPrice`. */
function rig(registeredAtMs: number, capacity = 64, redisPrice?: number): Rig {
  const reg: SymbolRegistration = {
    id: 0, name: 'SYM', shard: 0, store: new SharedArrayBuffer(8), trades: createTradeBuffer(capacity), analytics: createAnalyticsBuffer(2048), registeredAtMs,
  };
  const markets = new Markets();
  markets.add(reg);
  const trades = new TradeStore(reg.trades);
  const analytics = new AnalyticsStore(reg.analytics);
  let candleSeq = 0;
  const put = (c: Candle) => {
    const slot = analytics.candleSlot(K_1M, bucketNumber('1m', c.start));
    analytics.beginWrite(slot * 2);
    analytics.f64[slot + AS_SEQ] = ++candleSeq;
    analytics.f64[slot + AS_EPOCH] = EPOCH;
    writeCandle(analytics.f64, slot + AS_RECORD, c);
    analytics.endWrite(slot * 2);
  };
  const candle = (start: number, close: number, firstTime: number, lastTime: number, n: number): Candle => ({
    start, end: start + MIN, open: close, high: close, low: close, close, volume: n, quoteVolume: close * n, trades: n, vwap: close,
    closed: true, firstTime, firstSeq: 1, lastTime, lastSeq: n,
  });
  return {
    prices: new Prices(markets, undefined, async () => redisPrice),
    trade(seq, timeMs, price) {
      writeTrade(trades.f64, trades.slot(seq), { seq, timeMs, price }); // version word written as 0: even, published
      trades.commitHeader(EPOCH, seq, timeMs, seq);
    },
    minute(start, ts) {
      put(candle(start, ts.at(-1)!.price, ts[0].time, ts.at(-1)!.time, ts.length));
    },
    seeded(start, close) {
      // As store/candle-seeds.ts writes a candle read from the stored trades: its trades' times unknown.
      put({ ...candle(start, close, start, -Infinity, 3), firstSeq: -Infinity, lastSeq: -Infinity });
      analytics.writeChannel(K_1M, [AH_COVERAGE_START, start]);
    },
  };
}

describe('price change from the rings', () => {
  it('takes the last trade at or before now − minutes from the trade ring, and the newest as price_now', async () => {
    const r = rig(T0);
    // One trade every 10 s from T0 + 5 s: seq n at T0 + 5 s + (n − 1) × 10 s, price 100 + n.
    for (let n = 1; n <= 40; n++) r.trade(n, T0 + 5_000 + (n - 1) * 10_000, 100 + n);
    const now = T0 + 400_000;
    const c = await r.prices.change('SYM', 5, now);
    // now − 5 min = T0 + 100 s: trade 10 is at 95 s, trade 11 at 105 s.
    expect(c).toEqual({ symbol: 'SYM', minutes: 5, from: new Date(T0 + 100_000).toISOString(), price_then: 110, price_now: 140, change: 30, change_percent: (30 / 110) * 100 });
    // A trade exactly at the instant counts.
    expect((await r.prices.change('SYM', 5, T0 + 395_000))!.price_then).toBe(110);
    expect(await r.prices.change('NOPE', 5, now)).toBeUndefined();
  });

  it('finds the run\'s trades by seq even after the ring wrapped', async () => {
    const r = rig(T0, 64);
    for (let n = 1; n <= 300; n++) r.trade(n, T0 + n * 1000, n);
    // The ring holds 237-300; now − 1 min = T0 + 250 s: trade 250.
    expect((await r.prices.change('SYM', 1, T0 + 310_000))!.price_then).toBe(250);
  });

  it('past the ring, the minute of now − minutes decides when its trades are all on one side; else the minute before stands in (no PostgreSQL)', async () => {
    const r = rig(T0 - 30_000); // coverage: minutes from T0 on
    r.minute(T0, [{ time: T0 + 1_000, price: 50 }, { time: T0 + 20_000, price: 51 }]);
    r.minute(T0 + MIN, [{ time: T0 + MIN + 40_000, price: 60 }]);
    r.minute(T0 + 2 * MIN, [{ time: T0 + 2 * MIN + 10_000, price: 70 }, { time: T0 + 2 * MIN + 50_000, price: 71 }]);
    r.trade(1, T0 + 10 * MIN, 99); // the ring holds only a later trade
    const at = (t: number) => r.prices.change('SYM', 5, t + 5 * MIN).then((c) => c!.price_then);
    expect(await at(T0 + MIN + 45_000)).toBe(60); // every trade of the minute is before: its close
    expect(await at(T0 + MIN + 30_000)).toBe(51); // every one after: the close of the minute before
    expect(await at(T0 + 3 * MIN + 5_000)).toBe(71); // a minute without trades: the minute before
    expect(await at(T0 + 2 * MIN + 30_000)).toBe(60); // undecided without PostgreSQL: the minute's start
    expect(await at(T0 - 1)).toBeNull(); // before everything memory holds, and no database
    expect((await r.prices.change('SYM', 1, T0 + 11 * MIN))!.price_now).toBe(99);
  });

  it('price_now: the ring\'s newest trade, else Redis\'s, else the newest close; change is null without both prices', async () => {
    const quiet = rig(T0 - 30_000);
    expect(await quiet.prices.change('SYM', 60, T0 + 5 * MIN)).toMatchObject({ price_then: null, price_now: null, change: null, change_percent: null });
    quiet.minute(T0 + MIN, [{ time: T0 + MIN + 1, price: 42 }]);
    expect((await quiet.prices.change('SYM', 60, T0 + 5 * MIN))!.price_now).toBe(42);
    const restarted = rig(T0 - 30_000, 64, 43.5);
    expect((await restarted.prices.change('SYM', 60, T0 + 5 * MIN))!.price_now).toBe(43.5);
  });

  it('a seeded minute (trade times unknown) never decides by itself', async () => {
    const r = rig(T0 + 5 * MIN); // registered later; the seed covers from T0
    r.seeded(T0 + MIN, 20);
    r.seeded(T0, 10); // coverage from T0
    // Undecided without the database: the minute before stands in.
    expect((await r.prices.change('SYM', 1, T0 + MIN + 30_000 + MIN))!.price_then).toBe(10);
  });
});

describe('price history from the candle ring', () => {
  it('answers 1m closes oldest first from the first minute at or after since, pages by limit, and counts its sources', async () => {
    const r = rig(T0 - 30_000);
    for (let i = 0; i < 10; i++) if (i !== 4) r.minute(T0 + i * MIN, [{ time: T0 + i * MIN + 7_000, price: 200 + i }]);
    const now = T0 + 9 * MIN + 30_000; // in minute 9, the open one
    const all = (await r.prices.history('SYM', T0 - 3_600_000, 500, now))!;
    expect(all.since).toBe(new Date(T0 - 3_600_000).toISOString());
    expect(all.points.map((p) => p.price)).toEqual([200, 201, 202, 203, 205, 206, 207, 208, 209]);
    expect(all.points[0].time).toBe(new Date(T0).toISOString());
    expect(all.next_since).toBeNull();
    expect(all.sources).toEqual({ memory: 9, database: 0 });

    const first = (await r.prices.history('SYM', T0 + 1, 3, now))!; // since mid-minute: from the next minute
    expect(first.since).toBe(new Date(T0 + MIN).toISOString());
    expect(first.points.map((p) => p.price)).toEqual([201, 202, 203]);
    expect(first.next_since).toBe(new Date(T0 + 4 * MIN).toISOString());
    const second = (await r.prices.history('SYM', Date.parse(first.next_since!), 3, now))!;
    expect(second.points.map((p) => p.price)).toEqual([205, 206, 207]);
    const last = (await r.prices.history('SYM', Date.parse(second.next_since!), 3, now))!;
    expect(last.points.map((p) => p.price)).toEqual([208, 209]);
    expect(last.next_since).toBeNull();
    expect(await r.prices.history('NOPE', T0, 3, now)).toBeUndefined();
  });
});
