// Trade records (layout.ts T_*) → rows of `trades` in PostgreSQL COPY text format (see row-encoder.ts).
//
// Nothing in a trade row needs escaping except the symbol (escaped once per symbol): numbers and
// times cannot hold a tab, newline or backslash, and the trade id is written from the record's
// bytes limited to [A-Za-z0-9._:-] (the feed checks them at ingress; a damaged byte becomes `_`,
// as in the `trade` frame, so the stored id and the published one are the same).
//
// Hot path as in CopyRowEncoder: one reusable Buffer, doubles read straight from the Float64Array.

import { writeMicroseconds } from '../protocol/encode.js';
import { ISO_TIME_MAX_BYTES, MAX_NUMBER_BYTES, writeIsoTimeAt, writeNumberAt } from '../protocol/json-writer.js';
import { TRADE_BUY, TRADE_ID_MAX_BYTES, T_EPOCH, T_EXCHANGE_TS, T_FEED_TS, T_ID, T_ID_LENGTH, T_PRICE, T_SEQ, T_SIDE, T_SIZE } from '../ring/layout.js';
import { PRICE_LIMIT, VOLUME_LIMIT, escapeCopyText } from './row-encoder.js';

/** The columns of each row, in order: `COPY … (${TRADE_COPY_COLUMNS.join(', ')})`. */
export const TRADE_COPY_COLUMNS = ['time', 'symbol', 'trade_id', 'price', 'size', 'side', 'epoch', 'seq', 'feed_time'] as const;

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const UNDERSCORE = 95;
const SIDE_BUY = Buffer.from('buy');
const SIDE_SELL = Buffer.from('sell');

/** Bytes a row needs at most besides its symbol: 9 separators/terminator, 4 numbers, 2 times (µs), the id, the side. */
const ROW_BYTES_BOUND = 9 + 4 * MAX_NUMBER_BYTES + 2 * (ISO_TIME_MAX_BYTES + 3) + TRADE_ID_MAX_BYTES + 4;

export class TradeRowEncoder {
  private buf: Buffer;
  private pos = 0;
  private count = 0;
  private skipped = 0;
  private readonly symbols = new Map<string, Uint8Array>();

  constructor(initialBytes = 1 << 16) {
    if (!Number.isInteger(initialBytes) || initialBytes < 1) {
      throw new RangeError(`TradeRowEncoder: initialBytes must be a positive integer, got ${initialBytes}`);
    }
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Rows appended since the last reset(). */
  get rows(): number {
    return this.count;
  }

  /** Prices and sizes written as NULL because they exceed their column's numeric range. */
  get outOfRange(): number {
    return this.skipped;
  }

  /**
   * Appends the trade record at `f64[base…]`. `time` is the exchange's time when known (> 0),
   * else the feed's, with microseconds as the `trade` frame writes them: a trade re-sent later
   * carries the same times, so it meets its first copy in the unique index (symbol, trade_id, time).
   */
  append(symbol: string, f64: Float64Array, base: number): void {
    let sym = this.symbols.get(symbol);
    if (sym === undefined) this.symbols.set(symbol, (sym = escapeCopyText(Buffer.from(symbol, 'utf8'))));
    this.ensure(sym.length + ROW_BYTES_BOUND);
    const out = this.buf;
    let pos = this.pos;

    pos = writeTime(out, pos, f64, f64[base + T_EXCHANGE_TS] > 0 ? base + T_EXCHANGE_TS : base + T_FEED_TS);
    out[pos++] = TAB;
    out.set(sym, pos);
    pos += sym.length;
    out[pos++] = TAB;
    pos = writeTradeId(out, pos, f64, base);
    out[pos++] = TAB;
    pos = this.writeValue(out, pos, f64, base + T_PRICE, PRICE_LIMIT);
    out[pos++] = TAB;
    pos = this.writeValue(out, pos, f64, base + T_SIZE, VOLUME_LIMIT);
    out[pos++] = TAB;
    const side = f64[base + T_SIDE] === TRADE_BUY ? SIDE_BUY : SIDE_SELL; // as the `trade` frame reads it
    out.set(side, pos);
    pos += side.length;
    out[pos++] = TAB;
    pos = writeNumberAt(out, pos, f64, base + T_EPOCH);
    out[pos++] = TAB;
    pos = writeNumberAt(out, pos, f64, base + T_SEQ);
    out[pos++] = TAB;
    pos = writeTime(out, pos, f64, base + T_FEED_TS);
    out[pos++] = NEWLINE;

    this.pos = pos;
    this.count++;
  }

  /** What has been written: a view of the internal buffer, valid until the next append() or reset(). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Empties the encoder, keeping its buffer for the next batch. */
  reset(): void {
    this.pos = 0;
    this.count = 0;
    this.skipped = 0;
  }

  /** A number, or `\N` for NaN, ±Infinity and values beyond the column's range (one would fail the whole COPY). */
  private writeValue(out: Buffer, pos: number, f64: Float64Array, i: number, limit: number): number {
    const v = f64[i];
    if (v !== v || v > limit || v < -limit) {
      this.skipped++;
      out[pos] = BACKSLASH;
      out[pos + 1] = 78; // N
      return pos + 2;
    }
    return writeNumberAt(out, pos, f64, i);
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

/** ISO time of f64[i] (ms since epoch) with its microseconds when it has any. */
function writeTime(out: Buffer, pos: number, f64: Float64Array, i: number): number {
  return writeMicroseconds(out, writeIsoTimeAt(out, pos, f64, i), f64[i]);
}

/** The record's trade id bytes, limited to [A-Za-z0-9._:-]: the same text as the `trade` frame's. */
function writeTradeId(out: Buffer, pos: number, f64: Float64Array, base: number): number {
  const n = Math.min(TRADE_ID_MAX_BYTES, Math.max(0, f64[base + T_ID_LENGTH] | 0));
  const ids = new Uint8Array(f64.buffer, f64.byteOffset + (base + T_ID) * 8, TRADE_ID_MAX_BYTES);
  for (let i = 0; i < n; i++) {
    const c = ids[i];
    const ok = (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === UNDERSCORE;
    out[pos++] = ok ? c : UNDERSCORE;
  }
  return pos;
}
