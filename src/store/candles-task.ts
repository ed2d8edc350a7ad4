// Stored candles for the snapshot pool: GET /candles/{symbol}?interval=&from=&to=&limit= is read off the front actor's thread.

import type { Interval } from '../analytics/intervals.js';
import { type StoredCandle, readCandles } from './candle-query.js';
import { poolFor } from './history-points.js';

export interface StoredCandlesTask {
  kind: 'candles';
  databaseUrl: string;
  /** The database is on TimescaleDB (the writer's migrate() answer). */
  timescale: boolean;
  /** MARKET_TIMEZONE: where a `1d` candle starts. */
  timeZone: string;
  symbol: string;
  interval: Interval;
  fromMs: number; // inclusive: bucket starts
  toMs: number; // exclusive
  limit: number;
}

export function storedCandles(t: StoredCandlesTask): Promise<StoredCandle[]> {
  return readCandles(poolFor(t.databaseUrl), {
    symbol: t.symbol, interval: t.interval, fromMs: t.fromMs, toMs: t.toMs, limit: t.limit,
    timescale: t.timescale, timeZone: t.timeZone,
  });
}
