// History at a resolution, computed in the database: one row per bucket, the metrics of the
// bucket's last update (by time, then seq), and how many updates the bucket holds.
//
// Buckets are aligned on the Unix epoch, as the shared-memory history is
// (bucket = floor(time / resolutionMs)), so the two agree point for point. Raw rows never
// travel to Node: a day of a busy symbol is millions of rows, a day of buckets at 1 s is 86,400.

import type pg from 'pg';
import { METRIC_NAMES } from '../ring/layout.js';

export type MetricName = (typeof METRIC_NAMES)[number];

export type HistoryRow = {
  /** Bucket start, ms since the Unix epoch. */
  bucketMs: number;
  /** seq and epoch of the bucket's last update. */
  seq: number;
  epoch: number;
  /** Updates in the bucket (within fromMs..toMs). */
  count: number;
} & { [K in MetricName]: number | null };

export interface HistoryQuery {
  symbol: string;
  /** Rows with fromMs <= time < toMs, ms since the Unix epoch. */
  fromMs: number;
  toMs: number;
  /** Bucket width in ms (a positive integer). */
  resolutionMs: number;
  /** The database is on TimescaleDB (migrate()'s answer): time_bucket and last(). */
  timescale: boolean;
  /** At most this many buckets, the earliest first; page on with fromMs = last bucketMs + resolutionMs. */
  limit: number;
}

// Parameters of both variants: $1 symbol, $2 fromMs, $3 toMs, $4 resolutionMs, $5 limit.
const WIDTH = `$4::float8 * interval '1 millisecond'`;
const RANGE = `symbol = $1
       and time >= timestamptz 'epoch' + $2::float8 * interval '1 millisecond'
       and time <  timestamptz 'epoch' + $3::float8 * interval '1 millisecond'`;
const BUCKET_MS = `(extract(epoch from bucket) * 1000)::float8 as bucket_ms`;

/**
 * TimescaleDB: one aggregation pass. last(x, (time, seq)) compares the row value (time, seq):
 * TimescaleDB's last() orders by any type with a `>` operator, records included, and time
 * alone would pick an arbitrary row when two updates share a millisecond. The origin argument
 * aligns buckets on the Unix epoch (time_bucket's default origin is 2000-01-03, which differs
 * for week-sized widths).
 */
const TIMESCALE_SQL = `
select ${BUCKET_MS}, seq, epoch, count,
       ${METRIC_NAMES.join(', ')}
  from (select time_bucket(${WIDTH}, time, timestamptz 'epoch') as bucket,
               count(*) as count,
               last(seq, (time, seq)) as seq,
               last(epoch, (time, seq)) as epoch,
               ${METRIC_NAMES.map((m) => `last(${m}, (time, seq)) as ${m}`).join(',\n               ')}
          from order_book_data
         where ${RANGE}
         group by bucket
         order by bucket
         limit $5) b
 order by bucket`;

/**
 * Plain PostgreSQL: date_bin puts each row in its bucket; one sort by (bucket, time desc,
 * seq desc) serves both the window count and DISTINCT ON, which keeps each bucket's first row
 * in that order, i.e. its last update.
 */
const PLAIN_SQL = `
select ${BUCKET_MS}, seq, epoch, count,
       ${METRIC_NAMES.join(', ')}
  from (select distinct on (bucket) bucket, seq, epoch,
               count(*) over (partition by bucket order by time desc, seq desc
                              rows between unbounded preceding and unbounded following) as count,
               ${METRIC_NAMES.join(', ')}
          from (select date_bin(${WIDTH}, time, timestamptz 'epoch') as bucket, time, seq, epoch,
                       ${METRIC_NAMES.join(', ')}
                  from order_book_data
                 where ${RANGE}) r
         order by bucket, time desc, seq desc
         limit $5) b
 order by bucket`;

/** The SQL queryHistory runs; exported so tests can pin each variant's text and run it directly. */
export function historySql(timescale: boolean): string {
  return timescale ? TIMESCALE_SQL : PLAIN_SQL;
}

type DbRow = { bucket_ms: number; seq: string; epoch: string; count: string } & { [K in MetricName]: string | number | null };

/** numeric and bigint arrive as strings (pg keeps their precision); double precision as a number. */
const toNumber = (v: string | number | null): number | null => (v === null ? null : Number(v));

export async function queryHistory(pool: pg.Pool, q: HistoryQuery): Promise<HistoryRow[]> {
  if (!Number.isFinite(q.fromMs) || !Number.isFinite(q.toMs)) {
    throw new RangeError(`queryHistory: fromMs and toMs must be finite, got ${q.fromMs} and ${q.toMs}`);
  }
  if (!Number.isInteger(q.resolutionMs) || q.resolutionMs < 1) {
    throw new RangeError(`queryHistory: resolutionMs must be a positive integer, got ${q.resolutionMs}`);
  }
  if (!Number.isInteger(q.limit) || q.limit < 1) {
    throw new RangeError(`queryHistory: limit must be a positive integer, got ${q.limit}`);
  }
  if (q.toMs <= q.fromMs) return [];
  const r = await pool.query<DbRow>(historySql(q.timescale), [q.symbol, q.fromMs, q.toMs, q.resolutionMs, q.limit]);
  const out = new Array<HistoryRow>(r.rows.length);
  for (let i = 0; i < r.rows.length; i++) {
    const row = r.rows[i];
    const h = { bucketMs: row.bucket_ms, seq: Number(row.seq), epoch: Number(row.epoch), count: Number(row.count) } as HistoryRow;
    for (const m of METRIC_NAMES) h[m] = toNumber(row[m]);
    out[i] = h;
  }
  return out;
}
