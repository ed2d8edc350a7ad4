// Raw records (layout.ts R_*) → rows of `order_book_data` in PostgreSQL COPY text format.
//
// COPY text: one row per line, columns separated by a tab, NULL written `\N`; a backslash,
// tab, newline or carriage return inside a value must be written as `\\`, `\t`, `\n`, `\r`.
// Numbers, ISO times and the level JSON (digits, `-`, `.`, `[`, `]`, `,`, `null`) can contain
// none of these, so only the symbol is escaped, once per symbol, when it is first seen.
//
// Hot path: append() writes straight into one reusable Buffer with the json-writer's `*At`
// forms, which read doubles out of the Float64Array instead of boxing them; per row nothing is
// allocated unless the buffer has to grow (it doubles, so that stops after the first batches).

import { ISO_TIME_MAX_BYTES, MAX_NUMBER_BYTES, writeIsoTimeAt, writeNumberAt } from '../protocol/json-writer.js';
import {
  M_ASK_VOLUME, M_BID_VOLUME, M_IMBALANCE, M_TOTAL_VOLUME, METRIC_COUNT, METRIC_NAMES,
  R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_LEVELS, R_METRICS, R_SEQ,
} from '../ring/layout.js';

/** The columns of each row, in order: `COPY order_book_data (${COPY_COLUMNS.join(', ')})`. */
export const COPY_COLUMNS = [
  'time', 'symbol', ...METRIC_NAMES, 'bid_levels', 'ask_levels', 'seq', 'epoch',
] as const;

/** The `symbol varchar(32)` limit: a longer symbol would fail the whole COPY, so append() refuses it. */
export const MAX_SYMBOL_CHARS = 32;

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;

// Largest magnitude written per metric; beyond it the value is stored as NULL. numeric(24,10)
// holds |v| < 1e14 and numeric(30,10) |v| < 1e20: one out-of-range value would fail the whole
// COPY, and the writer would retry that batch forever. The margins keep a value that rounds
// up on writing (8 decimals) below the limit. Counted in `outOfRange`. The trades table's
// price and size have the same types (trade-row-encoder.ts).
export const PRICE_LIMIT = 1e14 - 1;
export const VOLUME_LIMIT = 1e20 - 1e6;
const METRIC_LIMIT = new Float64Array(METRIC_COUNT).fill(PRICE_LIMIT);
METRIC_LIMIT[M_BID_VOLUME] = VOLUME_LIMIT;
METRIC_LIMIT[M_ASK_VOLUME] = VOLUME_LIMIT;
METRIC_LIMIT[M_TOTAL_VOLUME] = VOLUME_LIMIT;
METRIC_LIMIT[M_IMBALANCE] = 9.99e20; // double precision; writeNumber writes `null` from 1e21 on

/** Bytes a row needs at most besides its symbol: 16 separators/terminator, 13 numbers, a time, two JSON arrays. */
const rowBytesBound = (depth: number): number =>
  16 + 13 * MAX_NUMBER_BYTES + ISO_TIME_MAX_BYTES + 2 * (2 + depth * (2 * MAX_NUMBER_BYTES + 4));

export class CopyRowEncoder {
  private buf: Buffer;
  private pos = 0;
  private count = 0;
  private skipped = 0;
  /** Symbol → its escaped UTF-8 bytes: a Map lookup per row instead of encoding a string. */
  private readonly symbols = new Map<string, Uint8Array>();

  constructor(initialBytes = 1 << 20) {
    if (!Number.isInteger(initialBytes) || initialBytes < 1) {
      throw new RangeError(`CopyRowEncoder: initialBytes must be a positive integer, got ${initialBytes}`);
    }
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Rows appended since the last reset(). */
  get rows(): number {
    return this.count;
  }

  /** Metric values written as NULL because they exceed their column's numeric range (see METRIC_LIMIT). */
  get outOfRange(): number {
    return this.skipped;
  }

  /**
   * Appends the raw record at `f64[base…]` (a slot of a store with `depth` levels per side).
   * The time column is the exchange's timestamp when known (> 0), else the feed's, truncated
   * to whole milliseconds exactly as the live frames write it.
   */
  append(symbol: string, f64: Float64Array, base: number, depth: number): void {
    let sym = this.symbols.get(symbol);
    if (sym === undefined) sym = this.addSymbol(symbol);
    this.ensure(sym.length + rowBytesBound(depth));
    const out = this.buf;
    let pos = this.pos;

    pos = writeIsoTimeAt(out, pos, f64, f64[base + R_EXCHANGE_TS] > 0 ? base + R_EXCHANGE_TS : base + R_FEED_TS);
    out[pos++] = TAB;
    out.set(sym, pos);
    pos += sym.length;
    const metrics = base + R_METRICS;
    for (let m = 0; m < METRIC_COUNT; m++) {
      out[pos++] = TAB;
      pos = this.writeValue(out, pos, f64, metrics + m, METRIC_LIMIT[m]);
    }
    out[pos++] = TAB;
    pos = writeLevels(out, pos, f64, base + R_LEVELS, levelCount(f64[base + R_BID_COUNT], depth));
    out[pos++] = TAB;
    pos = writeLevels(out, pos, f64, base + R_LEVELS + 2 * depth, levelCount(f64[base + R_ASK_COUNT], depth));
    out[pos++] = TAB;
    pos = writeNumberAt(out, pos, f64, base + R_SEQ);
    out[pos++] = TAB;
    pos = writeNumberAt(out, pos, f64, base + R_EPOCH);
    out[pos++] = NEWLINE;

    this.pos = pos;
    this.count++;
  }

  /**
   * What has been written: a view of the internal buffer, valid until the next append() or
   * reset(). copyBatch hands slices of it to the socket, so do not append until it resolves.
   */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Empties the encoder, keeping its buffer (and its size) for the next batch. */
  reset(): void {
    this.pos = 0;
    this.count = 0;
    this.skipped = 0;
  }

  /** A number, or `\N` for NaN, ±Infinity and values beyond the column's range. */
  private writeValue(out: Buffer, pos: number, f64: Float64Array, i: number, limit: number): number {
    const v = f64[i];
    if (v !== v || v > limit || v < -limit) {
      // NaN is "not computable" (an empty side), not an error; ±Infinity and huge values are.
      if (v === v) this.skipped++;
      out[pos] = BACKSLASH;
      out[pos + 1] = 78; // N
      return pos + 2;
    }
    return writeNumberAt(out, pos, f64, i);
  }

  private addSymbol(symbol: string): Uint8Array {
    if ([...symbol].length > MAX_SYMBOL_CHARS) {
      throw new RangeError(`CopyRowEncoder: symbol ${JSON.stringify(symbol)} is longer than ${MAX_SYMBOL_CHARS} characters (order_book_data.symbol is varchar(${MAX_SYMBOL_CHARS}))`);
    }
    const bytes = escapeCopyText(Buffer.from(symbol, 'utf8'));
    this.symbols.set(symbol, bytes);
    return bytes;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

/**
 * Escapes text for a COPY text-format column: `\` → `\\`, tab → `\t`, LF → `\n`, CR → `\r`.
 * Works on UTF-8 bytes: multi-byte sequences never contain bytes below 0x80, so they pass through.
 */
export function escapeCopyText(src: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of src) if (b === BACKSLASH || b === TAB || b === NEWLINE || b === 13) extra++;
  if (extra === 0) return src;
  const out = new Uint8Array(src.length + extra);
  let pos = 0;
  for (const b of src) {
    if (b === BACKSLASH) { out[pos++] = BACKSLASH; out[pos++] = BACKSLASH; }
    else if (b === TAB) { out[pos++] = BACKSLASH; out[pos++] = 116; } // t
    else if (b === NEWLINE) { out[pos++] = BACKSLASH; out[pos++] = 110; } // n
    else if (b === 13) { out[pos++] = BACKSLASH; out[pos++] = 114; } // r
    else out[pos++] = b;
  }
  return out;
}

/** Levels kept in the record: its count clamped to 0..depth (as the live frames read it). */
function levelCount(v: number, depth: number): number {
  return v > 0 ? (v < depth ? Math.floor(v) : depth) : 0;
}

/** `[[price,size],…]`; a NaN price or size becomes JSON `null`, which jsonb accepts. */
function writeLevels(out: Buffer, pos: number, f64: Float64Array, start: number, count: number): number {
  out[pos++] = LBRACKET;
  for (let i = 0; i < count; i++) {
    if (i > 0) out[pos++] = COMMA;
    out[pos++] = LBRACKET;
    pos = writeNumberAt(out, pos, f64, start + 2 * i);
    out[pos++] = COMMA;
    pos = writeNumberAt(out, pos, f64, start + 2 * i + 1);
    out[pos++] = RBRACKET;
  }
  out[pos++] = RBRACKET;
  return pos;
}
