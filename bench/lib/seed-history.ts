// Stored history for the snapshot scenario: a day of one symbol's rows, written as the writer writes them.
//
// The schema comes from the runtime's own migrate(), the rows from SimulatorFeed → Book →
// computeMetrics → CopyRowEncoder (the writer's encoder), and each chunk goes in through the
// writer's copyBatch with its ingest_progress: so a tickplant started afterwards finds the
// symbol's epoch and last seq there and continues its sequence (store/continuation.ts).

import pg from 'pg';
import { Book } from '../../src/book/book.js';
import { computeMetrics } from '../../src/book/metrics.js';
import { SimulatorFeed } from '../../src/feeds/simulator.js';
import { R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_METRICS, R_SEQ, rawRecordFields } from '../../src/ring/layout.js';
import { copyBatch } from '../../src/store/copy-batch.js';
import { migrate } from '../../src/store/migrations.js';
import { CopyRowEncoder } from '../../src/store/row-encoder.js';

/** Rows per COPY transaction: large enough to amortize the round trips, small enough to encode in a few MB. */
const CHUNK_ROWS = 10_000;

export interface SeedOptions {
  databaseUrl: string;
  symbol: string;
  depth: number;
  epoch: number;
  /** Time of row i (seq i + 1) is firstMs + i * stepMs. */
  firstMs: number;
  stepMs: number;
  rows: number;
}

/** Migrates the schema, then stores `rows` rows of `symbol`; returns the seconds the COPY took. */
export async function seedHistory(o: SeedOptions): Promise<{ seconds: number; bytes: number }> {
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 1 });
  try {
    // The server's defaults (config.ts): it finds these migrations recorded and applies none.
    await migrate(pool, { timescale: 'auto', compressAfter: '1 day', retention: '30 days' });
    const sim = new SimulatorFeed({ symbols: [o.symbol], updatesPerSecond: 1, depth: o.depth, seed: 7 });
    const book = new Book(o.depth);
    const fields = rawRecordFields(o.depth);
    const rec = new Float64Array(fields);
    const levels = new Float64Array(4 * o.depth);
    const enc = new CopyRowEncoder(CHUNK_ROWS * 600);
    const t0 = performance.now();
    let bytes = 0;
    for (let start = 0; start < o.rows; start += CHUNK_ROWS) {
      const end = Math.min(o.rows, start + CHUNK_ROWS);
      for (let i = start; i < end; i++) {
        const u = sim.generateOne(0);
        // generateOne's sides are separate arrays; a snapshot record interleaves (price, size) pairs.
        for (let k = 0; k < u.bidCount; k++) (levels[2 * k] = u.bidPx[k]), (levels[2 * k + 1] = u.bidSz[k]);
        for (let k = 0; k < u.askCount; k++) (levels[2 * (u.bidCount + k)] = u.askPx[k]), (levels[2 * (u.bidCount + k) + 1] = u.askSz[k]);
        book.applySnapshot(levels, 0, u.bidCount, u.askCount);
        const t = o.firstMs + i * o.stepMs;
        rec[R_SEQ] = i + 1;
        rec[R_EPOCH] = o.epoch;
        rec[R_FEED_TS] = t;
        rec[R_EXCHANGE_TS] = t;
        computeMetrics(book, rec, R_METRICS);
        book.writeToRecord(rec, 0);
        enc.append(o.symbol, rec, 0, o.depth);
      }
      const payload = enc.bytes();
      bytes += payload.length;
      const client = await pool.connect();
      try {
        await copyBatch(client, payload, [{ symbol: o.symbol, epoch: o.epoch, lastSeq: end, lastTimeMs: o.firstMs + (end - 1) * o.stepMs }]);
      } finally {
        client.release();
      }
      enc.reset();
    }
    await pool.query('analyze order_book_data'); // as autovacuum would soon: the history query's plan then sees the rows
    return { seconds: (performance.now() - t0) / 1000, bytes };
  } finally {
    await pool.end();
  }
}
