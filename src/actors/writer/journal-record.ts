// The writer's journal record: one closed batch, encoded for the journal and read back (replay, inspect).
//
// Format 2 (written): book rows and trade rows.
//   ┌────────────────┬─────────────────┬─────────────────────┬────────────────────┬─────────────────────┐
//   │ u32 FORMAT_2   │ u32 header len  │ header JSON (utf8)  │ book COPY rows …   │ trade COPY rows …   │
//   └────────────────┴─────────────────┴─────────────────────┴────────────────────┴─────────────────────┘
//   header: { progress, rows, newestFeedTs, bookBytes, trades?: { rows, last } }; the trade rows
//   are the bytes after the book rows.
//
// Format 1 (still read: a journal written before an upgrade is replayed by the new build): books only.
//   ┌──────────────────┬──────────────────────┬──────────┬───────────────────┬──────────────────┐
//   │ u32 progress len │ progress JSON (utf8) │ u32 rows │ f64 newestFeedTs  │ COPY text rows … │
//   └──────────────────┴──────────────────────┴──────────┴───────────────────┴──────────────────┘
// A format-1 record starts with the length of its progress JSON (a few bytes per symbol of the
// batch); FORMAT_2 as that length would be ~4 GB, so the first word tells the formats apart.
// Integers little-endian; the journal frames each record with its own length and CRC-32.

import type { BatchProgress, TradeMark } from '../../store/copy-batch.js';
import { COPY_COLUMNS } from '../../store/row-encoder.js';
import { TRADE_COPY_COLUMNS } from '../../store/trade-row-encoder.js';
import type { Batch } from './batch.js';

/** First word of a format-2 record: as a format-1 progress length it would mean ~4 GB of progress JSON in one batch. */
export const JOURNAL_FORMAT_2 = 0xf2a7_0002;

const SYMBOL_COLUMN = COPY_COLUMNS.indexOf('symbol');
const SEQ_COLUMN = COPY_COLUMNS.indexOf('seq');
const TRADE_SYMBOL_COLUMN = TRADE_COPY_COLUMNS.indexOf('symbol');
const TRADE_SEQ_COLUMN = TRADE_COPY_COLUMNS.indexOf('seq');

interface Header {
  progress: BatchProgress[];
  rows: number;
  newestFeedTs: number;
  bookBytes: number;
  trades?: { rows: number; last: TradeMark };
}

export function encodeJournalRecord(b: Batch): Uint8Array {
  const h: Header = { progress: b.progress, rows: b.rows, newestFeedTs: b.newestFeedTs, bookBytes: b.payload.length };
  if (b.trades) h.trades = { rows: b.trades.rows, last: b.trades.last };
  const header = Buffer.from(JSON.stringify(h));
  const tradeBytes = b.trades?.payload.length ?? 0;
  const out = Buffer.allocUnsafe(8 + header.length + b.payload.length + tradeBytes);
  out.writeUInt32LE(JOURNAL_FORMAT_2, 0);
  out.writeUInt32LE(header.length, 4);
  header.copy(out, 8);
  b.payload.copy(out, 8 + header.length);
  b.trades?.payload.copy(out, 8 + header.length + b.payload.length);
  return out;
}

/** The batch a record holds; its payloads are views of `r`. Throws on a record that is not a batch. */
export function decodeJournalRecord(r: Uint8Array): Batch {
  const buf = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
  if (buf.length < 8) throw new RangeError(`journal record of ${buf.length} bytes is too short to be a batch`);
  if (buf.readUInt32LE(0) !== JOURNAL_FORMAT_2) return decodeFormat1(buf);
  const headerLen = buf.readUInt32LE(4);
  if (8 + headerLen > buf.length) throw new RangeError(`journal record of ${buf.length} bytes cannot hold a header of ${headerLen} bytes`);
  const h = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Header;
  const booksAt = 8 + headerLen;
  if (!Array.isArray(h.progress) || !Number.isInteger(h.rows) || !Number.isInteger(h.bookBytes) || booksAt + h.bookBytes > buf.length) {
    throw new RangeError(`journal record of ${buf.length} bytes has a header that does not describe it`);
  }
  const batch: Batch = {
    progress: h.progress,
    rows: h.rows,
    newestFeedTs: h.newestFeedTs,
    payload: buf.subarray(booksAt, booksAt + h.bookBytes),
  };
  if (h.trades) batch.trades = { rows: h.trades.rows, last: h.trades.last, payload: buf.subarray(booksAt + h.bookBytes) };
  return batch;
}

function decodeFormat1(buf: Buffer): Batch {
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

/** Rows a record holds, books and trades (the damage message counts them); throws on a record that is not a batch. */
export function journalRecordRows(r: Uint8Array): number {
  const b = decodeJournalRecord(r);
  return b.rows + (b.trades?.rows ?? 0);
}

export interface SymbolSeqRange {
  symbol: string; // as written in COPY text (escaped)
  firstSeq: number;
  lastSeq: number;
  rows: number;
}

/**
 * What a record holds, read from its COPY rows: per symbol, in order of first appearance, the
 * book rows' seqs in `symbols` and the trades' (their own sequence) in `trades`; `rows` counts
 * both. For inspection, not the hot path.
 */
export function describeJournalRecord(r: Uint8Array): { rows: number; symbols: SymbolSeqRange[]; trades: SymbolSeqRange[] } {
  const b = decodeJournalRecord(r);
  return {
    rows: b.rows + (b.trades?.rows ?? 0),
    symbols: seqRanges(b.payload, SYMBOL_COLUMN, SEQ_COLUMN),
    trades: b.trades ? seqRanges(b.trades.payload, TRADE_SYMBOL_COLUMN, TRADE_SEQ_COLUMN) : [],
  };
}

function seqRanges(payload: Buffer, symbolColumn: number, seqColumn: number): SymbolSeqRange[] {
  const bySymbol = new Map<string, SymbolSeqRange>();
  for (const line of payload.toString('utf8').split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    const symbol = cols[symbolColumn];
    const seq = Number(cols[seqColumn]);
    const s = bySymbol.get(symbol);
    if (s === undefined) bySymbol.set(symbol, { symbol, firstSeq: seq, lastSeq: seq, rows: 1 });
    else {
      s.firstSeq = Math.min(s.firstSeq, seq);
      s.lastSeq = Math.max(s.lastSeq, seq);
      s.rows++;
    }
  }
  return [...bySymbol.values()];
}
