// GET /trades/{symbol}: recent trades from the trade ring (or Redis after a restart: store/recent-trades.ts), a time range from PostgreSQL.
//
//   ?limit=N             the newest N trades (default TRADES_DEFAULT_LIMIT), oldest first:
//                        the symbol's trade ring, or Redis's `trades:{symbol}` list when it holds more
//                        (after a restart the ring starts empty)
//   ?from=&to=[&limit=]  trades with from <= time < to (ISO 8601 or ms since the epoch; `to`
//                        defaults to now) from the `trades` table, oldest first, at most limit
//                        (default TRADES_RANGE_DEFAULT_LIMIT)
// The answer: {"symbol","source":"memory"|"redis"|"database","trades":[{"seq","epoch","trade_id",
// "price","size","side","time"}]}. Query errors name the parameter (400): http-params.ts has the rules.

import type { HttpReply } from '../../protocol/http.js';
import { TRADES_DEFAULT_LIMIT, TRADES_MAX_LIMIT, TRADES_RANGE_DEFAULT_LIMIT, invalidParameter, parseQuery, tradesQuery } from '../../protocol/http-params.js';
import { type RedisRecentTrades, recentTrades } from '../../store/recent-trades.js';
import type { StoredTrade } from '../../store/trade-query.js';
import type { FrontTrades } from './trades.js';

export interface TradesSources {
  /** The newest `limit` trades of Redis's capped list, oldest first; undefined without Redis. */
  redis?: RedisRecentTrades;
  /** Trades from the `trades` table; undefined without PostgreSQL. */
  database?(symbol: string, fromMs: number, toMs: number, limit: number): Promise<StoredTrade[]>;
}

const json = (status: number, body: unknown): HttpReply => ({ status, body: JSON.stringify(body) });

export async function tradesReply(t: FrontTrades, query: URLSearchParams, sources: TradesSources): Promise<HttpReply> {
  const q = parseQuery(tradesQuery, query);
  if (!q.ok) return q.reply;
  const { from: fromMs, to } = q.value;
  if (fromMs === undefined) return json(200, { symbol: t.name, ...(await recentTrades(t.store, t.name, q.value.limit ?? TRADES_DEFAULT_LIMIT, sources.redis)) });
  const limit = q.value.limit ?? TRADES_RANGE_DEFAULT_LIMIT;
  const toMs = to ?? Date.now();
  if (toMs <= fromMs) return invalidParameter('to: must be after from');
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
