// Stored trades read back: a time range from the `trades` table, the recent ones from Redis's `trades:{symbol}`.
//
// Both answer trades oldest first in one shape, the one GET /trades/{symbol} serves. `time` is
// the trade's time (the exchange's, else the feed's) as ISO 8601 with milliseconds, as the trade
// ring's answers write it, so trades of either source and of memory compare equal.

import type { Redis } from 'ioredis';
import type pg from 'pg';
import { TRADES_KEY_PREFIX } from './redis-tier.js';

export type TradeSide = 'buy' | 'sell';

/** One stored trade. */
export interface StoredTrade {
  /** The trade's place in its symbol's trades channel: seq within epoch. */
  seq: number;
  epoch: number;
  /** The exchange's id of the trade (unique per symbol). */
  trade_id: string;
  price: number;
  size: number;
  side: TradeSide;
  /** ISO 8601, milliseconds, UTC. */
  time: string;
}

/** The most trades one call returns. */
export const MAX_TRADES_READ = 100_000;

// The unique index guarantees one row per trade; (time, epoch, seq) orders trades of the same time
// as their channel did. Served by trades_symbol_time_idx (symbol, time desc), scanned backwards.
const RANGE_SQL = `
  select seq, epoch, trade_id, price, size, side, (extract(epoch from time) * 1000)::float8 as time_ms
    from trades
   where symbol = $1
     and time >= timestamptz 'epoch' + $2::float8 * interval '1 millisecond'
     and time <  timestamptz 'epoch' + $3::float8 * interval '1 millisecond'
   order by time, epoch, seq
   limit $4`;

type DbRow = { seq: string; epoch: string; trade_id: string; price: string | null; size: string | null; side: TradeSide; time_ms: number };

function checkLimit(fn: string, limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TRADES_READ) {
    throw new RangeError(`${fn}: limit must be an integer from 1 to ${MAX_TRADES_READ}, got ${limit}`);
  }
}

/**
 * Trades of `symbol` with fromMs <= time < toMs (ms since the Unix epoch), oldest first by
 * (time, epoch, seq), at most `limit`: the earliest of the range. Page on with fromMs = the last
 * trade's time (trades of that same millisecond come again: skip those already seen by trade_id).
 * A price or size stored as NULL (beyond its column's range) reads as NaN.
 */
export async function readTrades(pool: pg.Pool, symbol: string, fromMs: number, toMs: number, limit: number): Promise<StoredTrade[]> {
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
    throw new RangeError(`readTrades: fromMs and toMs must be finite, got ${fromMs} and ${toMs}`);
  }
  checkLimit('readTrades', limit);
  if (toMs <= fromMs) return [];
  const r = await pool.query<DbRow>(RANGE_SQL, [symbol, fromMs, toMs, limit]);
  const out = new Array<StoredTrade>(r.rows.length);
  for (let i = 0; i < r.rows.length; i++) {
    const row = r.rows[i];
    out[i] = {
      seq: Number(row.seq), epoch: Number(row.epoch), trade_id: row.trade_id,
      // numeric and bigint arrive as strings (pg keeps their precision)
      price: row.price === null ? NaN : Number(row.price), size: row.size === null ? NaN : Number(row.size),
      side: row.side, time: new Date(row.time_ms).toISOString(),
    };
  }
  return out;
}

/** The `trade` frame as the writer keeps it in `trades:{symbol}` (protocol/trade-frames.ts). */
interface TradeFrame {
  type: string;
  epoch: number;
  seq: number;
  trade_id: string;
  price: number | null;
  size: number | null;
  side: TradeSide;
  timestamp: string;
}

/**
 * The newest `limit` trades of `symbol` in Redis's capped list (REDIS_TRADES_LENGTH at most),
 * oldest first. `keyPrefix`: the list's key is keyPrefix + symbol (default `trades:`). Rejects
 * when Redis does; an entry that is not a `trade` frame is left out.
 */
export async function readRecentTradesRedis(redis: Pick<Redis, 'lrange'>, symbol: string, limit: number, keyPrefix = TRADES_KEY_PREFIX): Promise<StoredTrade[]> {
  checkLimit('readRecentTradesRedis', limit);
  const frames = await redis.lrange(`${keyPrefix}${symbol}`, 0, limit - 1); // newest first
  const out: StoredTrade[] = [];
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = JSON.parse(frames[i]) as TradeFrame;
    if (f === null || f.type !== 'trade') continue;
    out.push({
      seq: f.seq, epoch: f.epoch, trade_id: f.trade_id, price: f.price ?? NaN, size: f.size ?? NaN, side: f.side,
      time: millisecondIso(f.timestamp),
    });
  }
  return out;
}

/** `…:05.123456Z` → `…:05.123Z`: the frame keeps microseconds when the exchange gives them. */
function millisecondIso(ts: string): string {
  const dot = ts.lastIndexOf('.');
  return dot >= 0 && ts.length - dot > 5 ? `${ts.slice(0, dot + 4)}Z` : ts;
}
