// The rows the persistence baselines and tickplant's writer path store: simulator books → raw records → COPY text.
//
// Generated with the runtime's own pieces (SimulatorFeed, Book, computeMetrics, CopyRowEncoder,
// and the writer's BatchBuilder for the Redis frames),
// so the file `psql \copy` reads holds byte for byte what the writer sends, and the INSERT
// baselines parse the same values back out of it.

import { writeFileSync } from 'node:fs';
import { Book } from '../../src/book/book.js';
import { computeMetrics } from '../../src/book/metrics.js';
import { DEFAULT_SYMBOLS, SimulatorFeed } from '../../src/feeds/simulator.js';
import { R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_METRICS, R_SEQ, rawRecordFields } from '../../src/ring/layout.js';
import { COPY_COLUMNS, CopyRowEncoder } from '../../src/store/row-encoder.js';
import type { BatchItem } from '../../src/store/redis-tier.js';
import { BatchBuilder } from '../../src/actors/writer/batch.js';

export { COPY_COLUMNS };

/** `count` raw records (layout.ts R_*) of `depth`-level books, 20 symbols round robin, back to back in one array. */
export function makeRecords(count: number, depth: number, seed = 42): { symbols: string[]; names: string[]; f64: Float64Array; fields: number } {
  const symbols = [...DEFAULT_SYMBOLS];
  const sim = new SimulatorFeed({ symbols, updatesPerSecond: 1, depth, seed });
  const books = symbols.map(() => new Book(depth));
  const seqs = new Float64Array(symbols.length);
  const fields = rawRecordFields(depth);
  const f64 = new Float64Array(count * fields);
  const names = new Array<string>(count);
  const src = new Float64Array(4 * depth);
  const epoch = Date.now();
  const t0 = Date.now() - count; // one row per millisecond, ending now
  for (let i = 0; i < count; i++) {
    const s = i % symbols.length;
    const u = sim.generateOne(s);
    // generateOne's levels are separate arrays; a snapshot record interleaves (price, size) pairs.
    for (let k = 0; k < u.bidCount; k++) { src[2 * k] = u.bidPx[k]; src[2 * k + 1] = u.bidSz[k]; }
    for (let k = 0; k < u.askCount; k++) { src[2 * (u.bidCount + k)] = u.askPx[k]; src[2 * (u.bidCount + k) + 1] = u.askSz[k]; }
    const book = books[s];
    book.applySnapshot(src, 0, u.bidCount, u.askCount);
    const base = i * fields;
    f64[base + R_SEQ] = ++seqs[s];
    f64[base + R_EPOCH] = epoch;
    f64[base + R_FEED_TS] = t0 + i;
    f64[base + R_EXCHANGE_TS] = t0 + i;
    computeMetrics(book, f64, base + R_METRICS);
    book.writeToRecord(f64, base);
    names[i] = symbols[s];
  }
  return { symbols, names, f64, fields };
}

/** Writes `rows` COPY-text rows of `depth`-level books to `file` with the runtime's CopyRowEncoder; returns its bytes. */
export function writeCopyFile(file: string, rows: number, depth: number, seed = 42): number {
  const r = makeRecords(rows, depth, seed);
  const enc = new CopyRowEncoder(rows * 400);
  for (let i = 0; i < rows; i++) enc.append(r.names[i], r.f64, i * r.fields, depth);
  const bytes = enc.bytes();
  writeFileSync(file, bytes);
  return bytes.length;
}

/**
 * Batches of Redis items exactly as the writer builds them (BatchBuilder: one `orderbook_update`
 * frame per row, encoded once), `batchRows` rows each.
 */
export function makeRedisBatches(batches: number, batchRows: number, depth: number, seed = 42): BatchItem[][] {
  const r = makeRecords(batches * batchRows, depth, seed);
  const out: BatchItem[][] = [];
  for (let b = 0; b < batches; b++) {
    const builder = new BatchBuilder(depth, true);
    for (let i = b * batchRows; i < (b + 1) * batchRows; i++) builder.add(r.names[i], r.f64, i * r.fields, Date.now());
    out.push(builder.close().redis);
  }
  return out;
}

/** `\N` → null; everything else stays text, which PostgreSQL casts to each column's type. */
export function parseCopyLine(line: string): (string | null)[] {
  return line.split('\t').map((v) => (v === '\\N' ? null : v));
}
