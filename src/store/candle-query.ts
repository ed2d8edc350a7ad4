// Stored candles read back: OHLCV per bucket of an interval, from TimescaleDB's continuous aggregates or bucketed from `trades`.
//
// A candle is defined over its bucket's stored trades: open and close are the prices of the
// first and last trade by (time, epoch, seq), the order of the symbol's trades channel; high and
// low are max and min(price); volume is sum(size); trades is count(*); vwap is
// sum(price·size) / sum(size). Empty buckets have no candle. Buckets are UTC multiples of the
// interval, except `1d`, which starts at 00:00 of the market time zone (analytics/intervals.ts).
//
// Where a candle comes from (migration 6):
//   TimescaleDB, 1m … 1d   candles_<interval>, a real-time continuous aggregate: materialized
//                          buckets plus the newest ones aggregated at read time. 1d reads
//                          candles_1d when it was made in `timeZone` (its comment), else buckets
//                          candles_1m in `timeZone` here.
//   TimescaleDB 1s, plain  `trades`, bucketed here: date_bin for fixed widths, the zone's local day
//   PostgreSQL, any        (date_trunc with a time zone) for 1d.
// Both databases answer the same candles for the same trades, to the last digit.
//
// Numbers: numeric arrives as text and becomes the double nearest it (Number), so prices and
// volume read as numeric prints them. vwap is numeric's quotient to 40 decimals, far past a
// double's 17 digits: the double nearest the exact quotient. A NULL (a value beyond its
// column's range, or vwap of a bucket whose sizes are all 0) reads as NaN.

import type pg from 'pg';
import { type Interval, bucketEnd, isInterval } from '../analytics/intervals.js';

/** One stored candle, the shape GET /candles/{symbol} serves. */
export interface StoredCandle {
  /** Start of the bucket: ISO 8601, milliseconds, UTC. */
  time: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
  vwap: number;
  /** The bucket has ended (its end <= now); a trade stored late may still change it. */
  closed: boolean;
}

export interface ReadCandlesOptions {
  symbol: string;
  interval: Interval;
  /** Buckets starting at fromMs <= start < toMs (ms since the Unix epoch). */
  fromMs: number;
  toMs: number;
  /** At most this many: the newest of the range. */
  limit: number;
  /** The database is on TimescaleDB (migrate()'s answer). */
  timescale: boolean;
  /** MARKET_TIMEZONE: where a `1d` bucket starts. */
  timeZone: string;
  /** "Now" for `closed`; default Date.now(). */
  nowMs?: number;
}

/** The most candles one call returns. */
export const MAX_CANDLES_READ = 10_000;

/** PostgreSQL's name of each fixed width, for date_bin (1d is the zone's day instead). */
const WIDTH: Readonly<Record<Exclude<Interval, '1d'>, string>> = {
  '1s': '1 second', '1m': '1 minute', '5m': '5 minutes', '15m': '15 minutes', '1h': '1 hour', '4h': '4 hours',
};

/** `$n` (ms since the Unix epoch, float8) as timestamptz; as trade-query.ts. */
const instant = (param: string): string => `(timestamptz 'epoch' + ${param}::float8 * interval '1 millisecond')`;

/**
 * Bucket start of `col`, and the first bucket start at or after `x` (so that time >= that and
 * time < that of toMs selects exactly the trades of buckets starting in [fromMs, toMs)). $5 is
 * the width (fixed) or the zone (1d). Computed in SQL, by the same rules as the buckets.
 */
function bucketing(interval: Interval): { start(col: string): string; firstAtOrAfter(x: string): string } {
  if (interval === '1d') {
    return {
      start: (col) => `date_trunc('day', ${col}, $5)`,
      // The local midnight after x − 1 µs: x itself when it is one.
      firstAtOrAfter: (x) => `((date_trunc('day', ${x} - interval '1 microsecond', $5) at time zone $5 + interval '1 day') at time zone $5)`,
    };
  }
  return {
    start: (col) => `date_bin($5::interval, ${col}, timestamptz 'epoch')`,
    firstAtOrAfter: (x) => `(date_bin($5::interval, ${x} - interval '1 microsecond', timestamptz 'epoch') + $5::interval)`,
  };
}

// Every query answers (start_ms, open, high, low, close, volume, trades, vwap): the newest $4
// buckets of the range, oldest first.
const COLUMNS = `(extract(epoch from bucket) * 1000)::float8 as start_ms, open, high, low, close, volume, trades,
       round(quote_volume, 40) / nullif(volume, 0) as vwap`;

/**
 * From `trades`. open/close: the price at the least/greatest (time, epoch, seq), found as the
 * min/max of numeric arrays, which compare element by element: one pass, no sort, constant
 * memory per bucket (array_agg(… order by …)[1] would hold every price of a day). The time's
 * extract is numeric, exact to the microsecond; candles_1m computes open and close the same way.
 */
function tradesSql(interval: Interval): string {
  const b = bucketing(interval);
  return `
  select ${COLUMNS}
    from (select ${b.start('time')} as bucket,
                 (min(array[extract(epoch from time - timestamptz 'epoch'), epoch, seq, price]))[4] as open,
                 max(price) as high, min(price) as low,
                 (max(array[extract(epoch from time - timestamptz 'epoch'), epoch, seq, price]))[4] as close,
                 sum(size) as volume, count(*) as trades, sum(price * size) as quote_volume
            from trades
           where symbol = $1 and time >= ${b.firstAtOrAfter(instant('$2'))} and time < ${b.firstAtOrAfter(instant('$3'))}
           group by 1
           order by 1 desc
           limit $4) c
   order by bucket`;
}

/** From a continuous aggregate of migration 6, served by its index on (symbol, bucket). */
function aggregateSql(view: string): string {
  return `
  select ${COLUMNS}
    from (select * from ${view}
           where symbol = $1 and bucket >= ${instant('$2')} and bucket < ${instant('$3')}
           order by bucket desc
           limit $4) c
   order by bucket`;
}

/** Days in zone $5 from candles_1m, when candles_1d was made in another zone: exact, as candles_1d is from candles_1m. */
const DAYS_FROM_MINUTES_SQL = (() => {
  const b = bucketing('1d');
  return `
  select ${COLUMNS}
    from (select ${b.start('bucket')} as bucket,
                 first(open, bucket) as open, max(high) as high, min(low) as low, last(close, bucket) as close,
                 sum(volume) as volume, sum(trades) as trades, sum(quote_volume) as quote_volume
            from candles_1m
           where symbol = $1 and bucket >= ${b.firstAtOrAfter(instant('$2'))} and bucket < ${b.firstAtOrAfter(instant('$3'))}
           group by 1
           order by 1 desc
           limit $4) c
   order by bucket`;
})();

/** The statement readCandles runs for `opts`, and its parameters. */
export async function candlesQuery(pool: pg.Pool, opts: ReadCandlesOptions): Promise<{ text: string; values: unknown[] }> {
  const { symbol, interval, fromMs, toMs, limit, timeZone } = opts;
  const base = [symbol, fromMs, toMs, limit];
  if (!opts.timescale || interval === '1s') {
    return { text: tradesSql(interval), values: [...base, interval === '1d' ? timeZone : WIDTH[interval]] };
  }
  if (interval !== '1d') return { text: aggregateSql(`candles_${interval}`), values: base };
  const r = await pool.query<{ zone: string | null }>("select obj_description(to_regclass('candles_1d'), 'pg_class') as zone");
  if (r.rows[0].zone === timeZone) return { text: aggregateSql('candles_1d'), values: base };
  return { text: DAYS_FROM_MINUTES_SQL, values: [...base, timeZone] };
}

type DbRow = {
  start_ms: number; open: string | null; high: string | null; low: string | null; close: string | null;
  volume: string | null; trades: string; vwap: string | null;
};

const num = (s: string | null): number => (s === null ? NaN : Number(s));

/**
 * Candles of `symbol` whose buckets start at fromMs <= start < toMs, oldest first, at most
 * `limit`: the newest of the range when it holds more (a chart asks for the latest; page back
 * with toMs = the first candle's start). Rejects when PostgreSQL does.
 */
export async function readCandles(pool: pg.Pool, opts: ReadCandlesOptions): Promise<StoredCandle[]> {
  const { interval, fromMs, toMs, limit, timeZone } = opts;
  if (typeof interval !== 'string' || !isInterval(interval)) {
    throw new RangeError(`readCandles: interval must be one of 1s, 1m, 5m, 15m, 1h, 4h, 1d, got ${JSON.stringify(interval)}`);
  }
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
    throw new RangeError(`readCandles: fromMs and toMs must be finite, got ${fromMs} and ${toMs}`);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CANDLES_READ) {
    throw new RangeError(`readCandles: limit must be an integer from 1 to ${MAX_CANDLES_READ}, got ${limit}`);
  }
  if (toMs <= fromMs) return [];
  const q = await candlesQuery(pool, opts);
  const r = await pool.query<DbRow>(q.text, q.values);
  const now = opts.nowMs ?? Date.now();
  return r.rows.map((row) => ({
    time: new Date(row.start_ms).toISOString(),
    open: num(row.open), high: num(row.high), low: num(row.low), close: num(row.close),
    volume: num(row.volume), trades: Number(row.trades), vwap: num(row.vwap),
    closed: bucketEnd(interval, row.start_ms, timeZone) <= now,
  }));
}
