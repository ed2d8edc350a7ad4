// Stored trades for the snapshot pool: GET /trades/{symbol}?from=&to= is read off the front actor's thread.

import { poolFor } from './history-points.js';
import { type StoredTrade, readTrades } from './trade-query.js';

export interface StoredTradesTask {
  kind: 'trades';
  databaseUrl: string;
  symbol: string;
  fromMs: number; // inclusive
  toMs: number; // exclusive
  limit: number;
}

export function storedTrades(t: StoredTradesTask): Promise<StoredTrade[]> {
  return readTrades(poolFor(t.databaseUrl), t.symbol, t.fromMs, t.toMs, t.limit);
}
