// COPY throughput by batch size, to choose WRITER_BATCH_ROWS. Run: node --import tsx bench/copy-batch-size.ts
// Uses DATABASE_URL (default the local test database) in a scratch schema it drops afterwards.

import pg from 'pg';
import { R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_FEED_TS, R_LEVELS, R_METRICS, R_SEQ, rawRecordFields } from '../src/ring/layout.js';
import { copyBatch } from '../src/store/copy-batch.js';
import { migrate } from '../src/store/migrations.js';
import { CopyRowEncoder } from '../src/store/row-encoder.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DEPTH = 20;
const ROWS_PER_SIZE = 60_000;
const SIZES = [500, 1000, 2000, 5000, 10_000, 20_000];

const schema = `tp_bench_${process.pid}`;
const admin = new pg.Client(DATABASE_URL);
await admin.connect();
await admin.query(`create schema ${schema}`);
const sep = DATABASE_URL.includes('?') ? '&' : '?';
const pool = new pg.Pool({ connectionString: `${DATABASE_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`, max: 2 });
try {
  await migrate(pool, { timescale: 'off', compressAfter: '1 day', retention: '30 days' });
  // One realistic 20-level record, re-stamped with a new seq per row.
  const rec = new Float64Array(rawRecordFields(DEPTH));
  rec[R_EPOCH] = 1;
  rec[R_BID_COUNT] = DEPTH;
  rec[R_ASK_COUNT] = DEPTH;
  for (let m = 0; m < 10; m++) rec[R_METRICS + m] = 100 + m * 0.01;
  for (let i = 0; i < DEPTH; i++) {
    rec[R_LEVELS + 2 * i] = 190 - i * 0.01;
    rec[R_LEVELS + 2 * i + 1] = 100 + i;
    rec[R_LEVELS + 2 * DEPTH + 2 * i] = 190.01 + i * 0.01;
    rec[R_LEVELS + 2 * DEPTH + 2 * i + 1] = 50 + i;
  }
  let seq = 0;
  console.log(`COPY of ${DEPTH}-level rows, ${ROWS_PER_SIZE} rows per batch size, one COPY in flight`);
  for (const size of SIZES) {
    const enc = new CopyRowEncoder();
    let slowest = 0;
    const t0 = performance.now();
    for (let done = 0; done < ROWS_PER_SIZE; done += size) {
      enc.reset();
      for (let i = 0; i < size; i++) {
        rec[R_SEQ] = ++seq;
        rec[R_FEED_TS] = Date.now();
        enc.append('US.AAPL', rec, 0, DEPTH);
      }
      const t1 = performance.now();
      const client = await pool.connect();
      await copyBatch(client, Buffer.from(enc.bytes()), [{ symbol: 'US.AAPL', epoch: 1, lastSeq: seq, lastTimeMs: Date.now() }]);
      client.release();
      slowest = Math.max(slowest, performance.now() - t1);
    }
    const s = (performance.now() - t0) / 1000;
    console.log(`batch ${String(size).padStart(6)}: ${String(Math.round(ROWS_PER_SIZE / s)).padStart(7)} rows/s, slowest batch ${slowest.toFixed(1)} ms`);
  }
} finally {
  await pool.end();
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.end();
}
