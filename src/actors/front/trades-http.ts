// GET /trades/{symbol}: recent trades from the trade ring (or Redis after a restart: store/recent-trades.ts), a time range from PostgreSQL.
//
//   ?limit=N             the newest N trades (default TRADES_DEFAULT_LIMIT), oldest first:
//                        the symbol's trade ring, or Redis's `trades:{symbol}` list when it holds more
//                        (after a restart the ring starts empty)
//   ?from=&to=[&limit=]  trades with from <= time < to (ISO 8601 or ms since the epoch; `to`
//                        defaults to now) from the `trades` table, oldest first, at most limit
//                        (default TRADES_RANGE_DEFAULT_LIMIT)
// The answer: {"symbol","source":"memory"|"redis"|"database","trades":[{"seq","epoch","trade_id",
// "price","size","side","time"}]}. Query errors name the parameter (400).

import type { HttpReply } from '../../protocol/http.js';
import { RECENT_TRADES_DEFAULT_LIMIT, RECENT_TRADES_MAX_LIMIT, type RedisRecentTrades, recentTrades } from '../../store/recent-trades.js';
import type { StoredTrade } from '../../store/trade-query.js';
import type { FrontTrades } from './trades.js';

export const TRADES_DEFAULT_LIMIT = RECENT_TRADES_DEFAULT_LIMIT;
export const TRADES_RANGE_DEFAULT_LIMIT = 1000;
/** The most trades one answer holds, recent or ranged. */
export const TRADES_MAX_LIMIT = RECENT_TRADES_MAX_LIMIT;

export interface TradesSources {
  /** The newest `limit` trades of Redis's capped list, oldest first; undefined without Redis. */
  redis?: RedisRecentTrades;
  /** Trades from the `trades` table; undefined without PostgreSQL. */
  database?(symbol: string, fromMs: number, toMs: number, limit: number): Promise<StoredTrade[]>;
}

const json = (status: number, body: unknown): HttpReply => ({ status, body: JSON.stringify(body) });
const invalid = (message: string): HttpReply => json(400, { error: { code: 'invalid_parameter', message } });

/** A time parameter: whole ms since the epoch, or an ISO 8601 date-time; NaN when neither. */
export function parseTime(v: string): number {
  if (/^\d{1,16}$/.test(v)) return Number(v);
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) return NaN;
  return Date.parse(v);
}

export async function tradesReply(t: FrontTrades, query: URLSearchParams, sources: TradesSources): Promise<HttpReply> {
  const limitText = query.get('limit');
  const fromText = query.get('from');
  const toText = query.get('to');
  const ranged = fromText !== null || toText !== null;
  const limit = limitText === null ? (ranged ? TRADES_RANGE_DEFAULT_LIMIT : TRADES_DEFAULT_LIMIT) : Number(limitText);
  if (limitText !== null && (!/^\d+$/.test(limitText) || limit < 1 || limit > TRADES_MAX_LIMIT)) {
    return invalid(`limit: expected a whole number from 1 to ${TRADES_MAX_LIMIT}, got "${limitText.slice(0, 20)}"`);
  }
  if (!ranged) return json(200, { symbol: t.name, ...(await recentTrades(t.store, t.name, limit, sources.redis)) });
  if (fromText === null) return invalid('from: required with to (ISO 8601 or ms since the epoch)');
  const fromMs = parseTime(fromText);
  if (!Number.isFinite(fromMs)) return invalid(`from: expected an ISO 8601 time or ms since the epoch, got "${fromText.slice(0, 40)}"`);
  const toMs = toText === null ? Date.now() : parseTime(toText);
  if (!Number.isFinite(toMs)) return invalid(`to: expected an ISO 8601 time or ms since the epoch, got "${toText!.slice(0, 40)}"`);
  if (toMs <= fromMs) return invalid('to: must be after from');
  if (!sources.database) {
    // PERSIST=false: the trade ring is all there is; the answer says so.
    const recent = await recentTrades(t.store, t.name, TRADES_MAX_LIMIT);
    const trades = recent.trades.filter((x) => Date.parse(x.time) >= fromMs && Date.parse(x.time) < toMs).slice(0, limit);
    return json(200, { symbol: t.name, source: 'memory', trades, incomplete: 'no stored trades on this server (PERSIST=false): the recent ones in memory only' });
  }
  try {
    const trades = await sources.database(t.name, fromMs, toMs, limit);
    return json(200, { symbol: t.name, source: 'database', trades });
  } catch (e) {
    return json(503, { error: { code: 'unavailable', message: `stored trades unavailable: ${(e as Error).message}` } });
  }
}
