// Database history for the snapshot pool: bucketed in PostgreSQL, encoded to points in the pool thread.

import pg from 'pg';
import { type PointsPayload, rowPoints } from '../protocol/history.js';
import { queryHistory } from './history-query.js';

export interface DatabaseHistoryTask {
  kind: 'database';
  databaseUrl: string;
  timescale: boolean;
  symbol: string;
  fromMs: number; // inclusive
  toMs: number; // exclusive
  resolutionMs: number;
  limit: number;
}

const QUERY_TIMEOUT_MS = 10_000;

/** One small pool per pool thread and database: tasks reuse connections. */
const pools = new Map<string, pg.Pool>();

export function poolFor(url: string): pg.Pool {
  let p = pools.get(url);
  if (!p) {
    // Bounded: a database that hangs must not hold a subscriber's history forever (the front
    // then serves memory and says what is missing).
    p = new pg.Pool({
      connectionString: url, max: 2, connectionTimeoutMillis: 3000, idleTimeoutMillis: 30_000,
      query_timeout: QUERY_TIMEOUT_MS, statement_timeout: QUERY_TIMEOUT_MS,
    });
    // An idle client's error lands on the pool; unhandled it would end the pool thread.
    p.on('error', (e) => process.emitWarning(`history pool: PostgreSQL connection lost: ${e.message}`));
    pools.set(url, p);
  }
  return p;
}

export async function databasePoints(t: DatabaseHistoryTask): Promise<PointsPayload> {
  const rows = await queryHistory(poolFor(t.databaseUrl), {
    symbol: t.symbol, fromMs: t.fromMs, toMs: t.toMs, resolutionMs: t.resolutionMs, timescale: t.timescale, limit: t.limit,
  });
  return rowPoints(rows, t.resolutionMs);
}
