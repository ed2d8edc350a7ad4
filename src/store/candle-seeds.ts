// After a restart: each symbol's candles of today (and the last 24 h of minutes, for the ticker) read from the stored trades into its analytics store.
//
// The shard that adopts the store restores its candle builders and its 24 h ticker from these
// candles and folds the new trades into them, so live candles stay equal to the stored trades'
// candles across the restart. Loaded only when the writer's journal is empty (as the book seeds):
// otherwise trades beyond what the table holds may exist, and the candles would miss them.
// A seeded candle's first and last trade are older than any new trade: its (time, seq) bounds
// are set so that every trade of the new epoch folds after them.

import pg from 'pg';
import { type Candle, writeCandle } from '../analytics/candle-builder.js';
import { INTERVAL_MS, INTERVALS, type Interval, bucketEnd, bucketStart } from '../analytics/intervals.js';
import type { Logger } from '../log.js';
import { startOfDayMs } from '../market-day.js';
import { AnalyticsStore, bucketNumber } from '../ring/analytics-store.js';
import { AH_COVERAGE_START, AH_SEEDED_UNTIL, AS_EPOCH, AS_RECORD, AS_SEQ } from '../ring/layout.js';
import { MAX_CANDLES_READ, type StoredCandle, readCandles } from './candle-query.js';

export interface CandleSeed {
  /** Per interval (INTERVALS order): where the seeded range starts, and its candles oldest first. */
  intervals: { fromMs: number; candles: Candle[] }[];
  /** The newest stored trade's time (0: none): trades at or before it are in the candles already. */
  seededUntil: number;
}

export interface CandleSeedOptions {
  timescale: boolean;
  timeZone: string;
  /** Candles kept per interval (CANDLE_RING_CAPACITY). */
  capacity: number;
  nowMs?: number;
}

const MINUTE_MS = 60_000;

/** Where the seeded range of `interval` starts: today, the 24 h the ticker needs for minutes, at most the ring's length. */
export function seedFrom(interval: Interval, now: number, o: CandleSeedOptions): number {
  const today = startOfDayMs(now, o.timeZone);
  const from = interval === '1m' ? Math.min(today, Math.floor(now / MINUTE_MS) * MINUTE_MS - 1440 * MINUTE_MS) : today;
  const ringStart = interval === '1d' ? from : bucketStart(interval, now, o.timeZone) - (o.capacity - 2) * INTERVAL_MS[interval];
  return bucketStart(interval, Math.max(from, ringStart), o.timeZone);
}

/** Loads the seeds of `symbols` (those with stored trades). */
export async function loadCandleSeeds(databaseUrl: string, symbols: readonly string[], o: CandleSeedOptions, log: Logger): Promise<Map<string, CandleSeed>> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
  pool.on('error', (e) => log.warn('PostgreSQL connection lost while loading candles', { error: e.message }));
  const now = o.nowMs ?? Date.now();
  const seeds = new Map<string, CandleSeed>();
  try {
    await Promise.all(symbols.map(async (symbol) => {
      const r = await pool.query<{ until: number | null }>(
        'select (extract(epoch from max(time)) * 1000)::float8 as until from trades where symbol = $1', [symbol]);
      const seededUntil = r.rows[0]?.until ?? 0;
      const intervals = await Promise.all(INTERVALS.map(async (interval) => {
        const fromMs = seedFrom(interval, now, o);
        if (seededUntil === 0) return { fromMs, candles: [] };
        const stored = await readCandles(pool, {
          symbol, interval, fromMs, toMs: now + 1, limit: Math.min(o.capacity, MAX_CANDLES_READ), timescale: o.timescale, timeZone: o.timeZone, nowMs: now,
        });
        return { fromMs, candles: stored.map((c) => seedCandle(interval, c, o.timeZone)) };
      }));
      seeds.set(symbol, { intervals, seededUntil });
    }));
    return seeds;
  } finally {
    await pool.end();
  }
}

function seedCandle(interval: Interval, c: StoredCandle, timeZone: string): Candle {
  const start = Date.parse(c.time);
  return {
    start, end: bucketEnd(interval, start, timeZone), open: c.open, high: c.high, low: c.low, close: c.close,
    volume: c.volume, quoteVolume: c.vwap * c.volume, trades: c.trades, vwap: c.vwap, closed: c.closed,
    // Every trade of the new epoch is after these: not before the open, never before the close.
    firstTime: start, firstSeq: -Infinity, lastTime: -Infinity, lastSeq: -Infinity,
  };
}

/** Writes `seed` into a fresh analytics store: the candles (seq 0: part of any snapshot), coverage and the seeded time. */
export function seedAnalyticsStore(store: AnalyticsStore, seed: CandleSeed): void {
  const f = store.f64;
  seed.intervals.forEach(({ fromMs, candles }, k) => {
    for (const c of candles) {
      const slot = store.candleSlot(k, bucketNumber(INTERVALS[k], c.start));
      store.beginWrite(slot * 2);
      f[slot + AS_SEQ] = 0;
      f[slot + AS_EPOCH] = 0;
      writeCandle(f, slot + AS_RECORD, c);
      store.endWrite(slot * 2);
    }
    store.writeChannel(k, [AH_COVERAGE_START, fromMs, AH_SEEDED_UNTIL, seed.seededUntil]);
  });
  store.writeChannel(7, [AH_SEEDED_UNTIL, seed.seededUntil]);
}
