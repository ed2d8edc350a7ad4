// A symbol's recent trades: its trade ring, or Redis's `trades:{symbol}` when that holds more (after a restart the ring starts empty).
//
// One implementation for every surface that answers "the newest N trades": the front's
// GET /trades/{symbol}?limit= and the cache API's GET /api/v1/cache/trades/{symbol}. Each
// validates its own query and writes its own envelope; what the trades are, and where they come
// from, is decided here.

import { TH_EPOCH, TH_LAST_SEQ, TRADE_BUY, TRADE_RECORD_FIELDS, T_EPOCH, T_EXCHANGE_TS, T_FEED_TS, T_PRICE, T_SEQ, T_SIDE, T_SIZE } from '../ring/layout.js';
import { type TradeStore, tradeIdOf } from '../ring/trade-store.js';
import type { StoredTrade } from './trade-query.js';

/** Trades answered when the caller names no limit. */
export const RECENT_TRADES_DEFAULT_LIMIT = 100;
/** The most trades one answer holds. */
export const RECENT_TRADES_MAX_LIMIT = 10_000;

/** The newest `limit` trades of Redis's capped list, oldest first; rejects when Redis does. */
export type RedisRecentTrades = (symbol: string, limit: number) => Promise<StoredTrade[]>;

export interface RecentTrades {
  source: 'memory' | 'redis';
  /** Oldest first. */
  trades: StoredTrade[];
}

/** The newest `limit` trades of the ring, oldest first (those overwritten meanwhile are skipped). */
export function recentFromRing(store: TradeStore, limit: number): StoredTrade[] {
  if (!store.readHeader()) return [];
  const last = store.header[TH_LAST_SEQ];
  const epoch = store.header[TH_EPOCH];
  const rec = new Float64Array(TRADE_RECORD_FIELDS);
  const out: StoredTrade[] = [];
  for (let seq = Math.max(1, last - Math.min(limit, store.capacity) + 1); seq <= last; seq++) {
    if (store.readTrade(seq, epoch, rec, 0)) out.push(tradeJson(rec));
  }
  return out;
}

/**
 * The newest `limit` trades of `symbol`: the ring's, unless Redis's list holds more of them (a
 * restarted process's ring holds only the trades since). Redis away or absent: the ring's are
 * the answer, however few.
 */
export async function recentTrades(store: TradeStore, symbol: string, limit: number, redis?: RedisRecentTrades): Promise<RecentTrades> {
  const memory = recentFromRing(store, limit);
  if (memory.length < limit && redis) {
    let stored: StoredTrade[] = [];
    try {
      stored = await redis(symbol, limit);
    } catch {
      // Redis away: the ring's trades are still an answer (the caller's Redis client counts the failure).
    }
    if (stored.length > memory.length) return { source: 'redis', trades: stored };
  }
  return { source: 'memory', trades: memory };
}

/** A ring record in the shape of a stored trade: `time` is the exchange's, else the feed's, to the millisecond. */
export function tradeJson(rec: Float64Array): StoredTrade {
  const ex = rec[T_EXCHANGE_TS];
  return {
    seq: rec[T_SEQ], epoch: rec[T_EPOCH], trade_id: tradeIdOf(rec, 0), price: rec[T_PRICE], size: rec[T_SIZE],
    side: rec[T_SIDE] === TRADE_BUY ? 'buy' : 'sell', time: new Date(ex > 0 ? ex : rec[T_FEED_TS]).toISOString(),
  };
}
