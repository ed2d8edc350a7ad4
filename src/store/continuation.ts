// After a restart: each symbol's stored sequence and book, so its shard continues the same epoch.
//
// A symbol's store is seeded with its last committed row (as the raw record at lastSeq) and a
// header naming that epoch and seq; the shard that adopts it rebuilds the book from that record
// and accepts the next update as lastSeq + 1. Only done when the writer's journal is empty:
// otherwise rows beyond the committed progress may exist, and a new epoch is the safe choice.

import pg from 'pg';
import type { Logger } from '../log.js';
import { Book } from '../book/book.js';
import type { SymbolStore } from '../ring/symbol-store.js';
import { loadLastRow, loadProgress } from './copy-batch.js';

export interface SymbolSeed {
  epoch: number;
  lastSeq: number;
  timeMs: number;
  bids: [number, number][];
  asks: [number, number][];
}

/** Loads the seed of every symbol with committed rows (at most `limit` symbols). */
export async function loadSeeds(databaseUrl: string, limit: number, log: Logger): Promise<Map<string, SymbolSeed>> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
  pool.on('error', (e) => log.warn('PostgreSQL connection lost while loading sequences', { error: e.message }));
  try {
    const progress = await loadProgress(pool);
    const seeds = new Map<string, SymbolSeed>();
    const entries = [...progress.entries()].slice(0, limit);
    await Promise.all(
      entries.map(async ([symbol, p]) => {
        const row = await loadLastRow(pool, symbol, p.epoch, p.lastSeq);
        if (row) seeds.set(symbol, { epoch: p.epoch, lastSeq: p.lastSeq, timeMs: row.timeMs, bids: row.bids, asks: row.asks });
      }),
    );
    return seeds;
  } finally {
    await pool.end();
  }
}

/** Writes `seed` into a fresh store: the raw record at lastSeq and the header that points to it. */
export function seedStore(store: SymbolStore, seed: SymbolSeed, depth: number): void {
  const bids = seed.bids.slice(0, depth);
  const asks = seed.asks.slice(0, depth);
  const levels = new Float64Array(2 * (bids.length + asks.length));
  let i = 0;
  for (const [p, s] of bids) (levels[i++] = p), (levels[i++] = s);
  for (const [p, s] of asks) (levels[i++] = p), (levels[i++] = s);
  const book = new Book(depth);
  book.applySnapshot(levels, 0, bids.length, asks.length);
  store.writeRaw(seed.lastSeq, seed.epoch, seed.timeMs, seed.timeMs, book);
  store.commitHeader(seed.epoch, seed.lastSeq, seed.timeMs, -1, -1);
}
