// Price change over a period and price history of a streamed symbol: the shared rings for what they cover, PostgreSQL before.
//
// A price at an instant T is the price of the last trade at or before T (by time, then seq), found
//   1. in the trade ring, when it holds a trade at or before T (it holds an unbroken run up to the newest);
//   2. else in T's minute [M, T]: the 1m candle of M settles it when all its trades are on one side
//      of T (its close when its last trade is at or before T, nothing when its first is after);
//      otherwise the stored trades of [M, T] do;
//   3. else the close of the last minute before M: the 1m candle ring back to its coverage, then
//      the stored 1m candles (at most LOOKBACK_MS back).
// History is the close of each 1m candle: stored candles before the ring's coverage, the ring's after.

import { type Markets, type SymbolMarket, minuteStart } from './market.js';
import { MINUTE_MS, type PricePoint, type StoredPrices } from './stored-prices.js';

export interface PriceChange {
  symbol: string;
  minutes: number;
  /** now − minutes, ISO 8601. */
  from: string;
  /** null: no trade at or before `from` (within the lookback), or none at all for price_now. */
  price_then: number | null;
  price_now: number | null;
  change: number | null;
  change_percent: number | null;
}

export interface PriceHistory {
  symbol: string;
  /** The first minute at or after the asked `since`, ISO 8601. */
  since: string;
  /** The close of each minute with trades, oldest first; `time` is the minute's start. */
  points: { time: string; price: number }[];
  /** Where the next page starts when this one stopped short of now (limit reached, or sparse stored minutes); else null. */
  next_since: string | null;
  /** How many points came from the candle ring and how many from PostgreSQL. */
  sources: { memory: number; database: number };
}

/** The price of a symbol's newest trade in Redis's `trades:{symbol}`; undefined when Redis has none (or is away). */
export type NewestInRedis = (symbol: string) => Promise<number | undefined>;

const iso = (ms: number): string => new Date(ms).toISOString();
/** PostgreSQL queries one history answer makes at most (see history()). */
const HISTORY_DB_QUERIES = 8;

export class Prices {
  /** `stored` absent (PERSIST=false): memory only, and price_then falls back to whole minutes where memory cannot tell. */
  constructor(private readonly markets: Markets, private readonly stored: StoredPrices | undefined, private readonly newestInRedis: NewestInRedis) {}

  /** The change over the last `minutes`; undefined for a symbol the runtime does not stream. */
  async change(symbol: string, minutes: number, now = Date.now()): Promise<PriceChange | undefined> {
    const m = this.markets.get(symbol);
    if (!m) return undefined;
    const fromMs = now - minutes * MINUTE_MS;
    const [then, last] = await Promise.all([this.priceAt(m, fromMs, now), this.priceNow(m, now)]);
    const change = then !== undefined && last !== undefined ? last - then : null;
    return {
      symbol, minutes, from: iso(fromMs), price_then: then ?? null, price_now: last ?? null, change,
      change_percent: change !== null && then !== 0 ? (change / then!) * 100 : null,
    };
  }

  /** The first `limit` closes of minutes starting at or after `sinceMs`, oldest first; undefined for an unknown symbol. */
  async history(symbol: string, sinceMs: number, limit: number, now = Date.now()): Promise<PriceHistory | undefined> {
    const m = this.markets.get(symbol);
    if (!m) return undefined;
    const start = Math.ceil(sinceMs / MINUTE_MS) * MINUTE_MS;
    const coverage = m.minuteCoverage(now);
    const points: PricePoint[] = [];
    let from = start;
    if (this.stored) {
      // Stored candles are the newest of a range at most `limit`: a span of as many minutes as
      // points are still wanted holds no more than that, so none is left out. A span with none skips to the
      // minute of the next stored trade (since= far back, a night, a weekend). Sparse minutes take
      // more spans; after HISTORY_DB_QUERIES the answer stops there and says where to go on.
      for (let queries = 0; from < coverage && points.length < limit && queries < HISTORY_DB_QUERIES;) {
        const end = Math.min(coverage, from + (limit - points.length) * MINUTE_MS);
        const got = await this.stored.minuteCloses(symbol, from, end, limit - points.length);
        queries++;
        points.push(...got);
        from = end;
        if (got.length === 0 && from < coverage && queries < HISTORY_DB_QUERIES) {
          const next = await this.stored.firstTradeTime(symbol, from, coverage);
          queries++;
          from = next === undefined ? coverage : minuteStart(next);
        }
      }
    }
    const database = points.length;
    const full = () => points.length >= limit && points.length > 0;
    if (from < coverage && this.stored) {
      // Stopped short of the ring's minutes: the next page starts after the last point, or where the spans ended.
      return historyOf(symbol, start, points, database, full() ? points.at(-1)!.time + MINUTE_MS : from);
    }
    // Without PostgreSQL the minutes before the ring's coverage are missing (sources.database is 0).
    const endOfNow = minuteStart(now) + MINUTE_MS;
    points.push(...m.minuteCloses(Math.max(from, coverage), endOfNow, limit - points.length));
    const after = full() ? points.at(-1)!.time + MINUTE_MS : endOfNow;
    return historyOf(symbol, start, points, database, after < endOfNow ? after : undefined);
  }

  /** The last trade's price: the ring's newest, Redis's after a restart, else the newest close. */
  private async priceNow(m: SymbolMarket, now: number): Promise<number | undefined> {
    const t = m.newestTrade();
    if (t) return t.price;
    const redis = await this.newestInRedis(m.name);
    if (redis !== undefined) return redis;
    const coverage = m.minuteCoverage(now);
    const close = m.lastClose(coverage, minuteStart(now) + MINUTE_MS);
    if (close) return close.price;
    return (await this.stored?.lastCloseBefore(m.name, coverage))?.price;
  }

  /** The price of the last trade at or before `t` (see the top of this file). */
  private async priceAt(m: SymbolMarket, t: number, now: number): Promise<number | undefined> {
    const inRing = m.tradeAtOrBefore(t);
    if (inRing) return inRing.price;
    const minute = minuteStart(t);
    const coverage = m.minuteCoverage(now);
    let unknown = true; // whether [minute, t] may hold trades that only the stored trades show
    if (minute >= coverage) {
      const c = m.minute(minute);
      if (c === undefined || c.firstTime > t) unknown = false; // no trade of that minute is at or before t
      else if (Number.isFinite(c.lastTime) && c.lastTime <= t) return c.close; // every one is
    }
    if (unknown && this.stored) {
      const p = await this.stored.lastTradeIn(m.name, minute, t);
      if (p) return p.price;
    }
    // Without PostgreSQL an undecided minute stands in for its start: the close of the minute before.
    if (minute > coverage) {
      const close = m.lastClose(coverage, minute);
      if (close) return close.price;
    }
    return (await this.stored?.lastCloseBefore(m.name, Math.min(minute, coverage)))?.price;
  }
}

function historyOf(symbol: string, start: number, points: PricePoint[], database: number, next: number | undefined): PriceHistory {
  return {
    symbol, since: iso(start), points: points.map((p) => ({ time: iso(p.time), price: p.price })),
    next_since: next === undefined ? null : iso(next), sources: { memory: points.length - database, database },
  };
}
