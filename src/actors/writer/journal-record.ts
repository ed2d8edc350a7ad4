// The writer's journal record: one closed batch, encoded for the journal and read back (replay, inspect).
//
//   ┌──────────────────┬──────────────────────┬──────────┬───────────────────┬──────────────────┐
//   │ u32 progress len │ progress JSON (utf8) │ u32 rows │ f64 newestFeedTs  │ COPY text rows … │
//   └──────────────────┴──────────────────────┴──────────┴───────────────────┴──────────────────┘
//   integers little-endian; the journal frames each record with its own length and CRC-32.

import type { BatchProgress } from '../../store/copy-batch.js';
import { COPY_COLUMNS } from '../../store/row-encoder.js';
import type { Batch } from './batch.js';

const SYMBOL_COLUMN = COPY_COLUMNS.indexOf('symbol');
const SEQ_COLUMN = COPY_COLUMNS.indexOf('seq');

export function encodeJournalRecord(b: Batch): Uint8Array {
  const meta = Buffer.from(JSON.stringify(b.progress));
  const out = Buffer.allocUnsafe(4 + meta.length + 12 + b.payload.length);
  out.writeUInt32LE(meta.length, 0);
  meta.copy(out, 4);
  out.writeUInt32LE(b.rows, 4 + meta.length);
  out.writeDoubleLE(b.newestFeedTs, 8 + meta.length);
  b.payload.copy(out, 16 + meta.length);
  return out;
}

/** The batch a record holds; its payload is a view of `r`. Throws on a record that is not a batch. */
export function decodeJournalRecord(r: Uint8Array): Batch {
  const buf = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
  const metaLen = buf.readUInt32LE(0);
  if (16 + metaLen > buf.length) throw new RangeError(`journal record of ${buf.length} bytes cannot hold ${metaLen} bytes of progress`);
  const progress = JSON.parse(buf.subarray(4, 4 + metaLen).toString('utf8')) as BatchProgress[];
  return {
    progress,
    rows: buf.readUInt32LE(4 + metaLen),
    newestFeedTs: buf.readDoubleLE(8 + metaLen),
    payload: buf.subarray(16 + metaLen),
  };
}

/** Rows a record holds (the damage message counts them); throws on a record that is not a batch. */
export function journalRecordRows(r: Uint8Array): number {
  return decodeJournalRecord(r).rows;
}

export interface SymbolSeqRange {
  symbol: string; // as written in COPY text (escaped)
  firstSeq: number;
  lastSeq: number;
  rows: number;
}

/** What a record holds, read from its COPY rows: per symbol, in order of first appearance. For inspection, not the hot path. */
export function describeJournalRecord(r: Uint8Array): { rows: number; symbols: SymbolSeqRange[] } {
  const b = decodeJournalRecord(r);
  const bySymbol = new Map<string, SymbolSeqRange>();
  for (const line of b.payload.toString('utf8').split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    const symbol = cols[SYMBOL_COLUMN];
    const seq = Number(cols[SEQ_COLUMN]);
    const s = bySymbol.get(symbol);
    if (s === undefined) bySymbol.set(symbol, { symbol, firstSeq: seq, lastSeq: seq, rows: 1 });
    else {
      s.firstSeq = Math.min(s.firstSeq, seq);
      s.lastSeq = Math.max(s.lastSeq, seq);
      s.rows++;
    }
  }
  return { rows: b.rows, symbols: [...bySymbol.values()] };
}
