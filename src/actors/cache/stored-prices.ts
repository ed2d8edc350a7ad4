// Prices from PostgreSQL for the cache actor: 1m closes (stored candles) and the last trade of a range (stored trades).
//
// The one place the cache actor reads stored candles (readCandles) and trades (readTrades): the
// memory tiers (prices.ts) fall back to these for what precedes the shared rings.

import pg from 'pg';
import type { Logger } from '../../log.js';
import { readCandles } from '../../store/candle-query.js';
import { readTrades } from '../../store/trade-query.js';

/** A price at an instant: a trade's time, or the start of the minute a close ends. */
export interface PricePoint {
  /** ms since the Unix epoch. */
  time: number;
  price: number;
}

export const MINUTE_MS = 60_000;
/** How far before an instant the last close is looked for: a symbol quiet longer than this has no price then. */
export const LOOKBACK_MS = 31 * 86_400_000;
/** Windows searched one after the other, newest first, for the last close before an instant (short first: cheap on plain PostgreSQL). */
const LOOKBACK_STEPS_MS = [3_600_000, 86_400_000, LOOKBACK_MS];
/** Trades read per query while looking for the last trade of a range. */
const TRADES_PAGE = 10_000;
/** A statement that takes longer is cancelled: an API answer must not wait on a stuck database. */
const QUERY_TIMEOUT_MS = 10_000;

export class StoredPrices {
  private readonly pool: pg.Pool;
  /** Whether TimescaleDB's candle aggregates exist (then 1m candles come from candles_1m), asked once. */
  private aggregates?: Promise<boolean>;

  constructor(databaseUrl: string, private readonly timeZone: string, log: Logger) {
    // Connects on the first query; small: these reads are few, and the cache's loads are single-flight per key.
    this.pool = new pg.Pool({
      connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000,
      query_timeout: QUERY_TIMEOUT_MS, statement_timeout: QUERY_TIMEOUT_MS,
    });
    // An idle client's error lands on the pool; unhandled it would end the thread.
    this.pool.on('error', (e) => log.warn('cache: stored-prices PostgreSQL connection lost', { error: e.message }));
  }

  /** Closes of the 1m candles starting at fromMs <= start < toMs, oldest first; the newest `limit` of the range. */
  async minuteCloses(symbol: string, fromMs: number, toMs: number, limit: number): Promise<PricePoint[]> {
    const candles = await readCandles(this.pool, { symbol, interval: '1m', fromMs, toMs, limit, timescale: await this.timescale(), timeZone: this.timeZone });
    return candles.filter((c) => Number.isFinite(c.close)).map((c) => ({ time: Date.parse(c.time), price: c.close }));
  }

  /** The close of the last 1m candle starting before `beforeMs` (within LOOKBACK_MS); undefined when none. */
  async lastCloseBefore(symbol: string, beforeMs: number): Promise<PricePoint | undefined> {
    let to = beforeMs;
    for (const step of LOOKBACK_STEPS_MS) {
      const from = beforeMs - step;
      const [last] = await this.minuteCloses(symbol, from, to, 1);
      if (last) return last;
      to = from;
    }
    return undefined;
  }

  /** The last trade (by time, epoch, seq) with fromMs <= time <= atOrBeforeMs; undefined when none. */
  async lastTradeIn(symbol: string, fromMs: number, atOrBeforeMs: number): Promise<PricePoint | undefined> {
    // readTrades takes `time < toMs` to the microsecond: + 1 µs makes the bound inclusive.
    const toMs = atOrBeforeMs + 0.001;
    let from = fromMs;
    for (;;) {
      const page = await readTrades(this.pool, symbol, from, toMs, TRADES_PAGE);
      const last = page.at(-1);
      if (last === undefined) return undefined;
      // A full page: go on from the last trade's millisecond (its trades come again; only the last one counts).
      const next = Date.parse(last.time);
      if (page.length < TRADES_PAGE || next <= from) return { time: next, price: last.price };
      from = next;
    }
  }

  /** The time of the first stored trade with fromMs <= time < toMs; undefined when none. */
  async firstTradeTime(symbol: string, fromMs: number, toMs: number): Promise<number | undefined> {
    const [first] = await readTrades(this.pool, symbol, fromMs, toMs, 1);
    return first && Date.parse(first.time);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private timescale(): Promise<boolean> {
    // Plain bucketing of `trades` gives the same candles on any database, so "no" is always a safe answer.
    this.aggregates ??= this.pool
      .query<{ on: boolean }>("select to_regclass('candles_1m') is not null as on")
      .then((r) => r.rows[0].on, (e: Error) => {
        this.aggregates = undefined; // asked again next time
        throw e;
      });
    return this.aggregates;
  }
}
