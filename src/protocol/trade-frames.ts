// Encoders of the trades channel's frames straight from trade records (layout.ts T_*), allocation-free.
//
// The shard encodes each `trade` frame once (the front publishes its bytes to every subscriber
// of `trades:<symbol>`); the front re-encodes from the trade ring for a resume, and writes a
// `trades_snapshot` (the recent trades a subscription starts with, or a resync's). The writer
// keeps the same `trade` frames in Redis. Callers reserve TRADE_FRAME_MAX_BYTES (per trade) first.
//
//   {"type":"trade","symbol":"BINANCE.BTCUSDT","epoch":E,"seq":N,"trade_id":"123","price":P,
//    "size":S,"side":"buy","timestamp":"…"}
//   {"type":"trades_snapshot","symbol":…,"epoch":E,"seq":N[,"reason":…],"trades":[{"seq":…,
//    "trade_id":…,"price":…,"size":…,"side":…,"timestamp":…},…]}          oldest first; seq N is the last

import { MAX_REASON_BYTES, TRADE_BUY, TRADE_ID_MAX_BYTES, T_EPOCH, T_EXCHANGE_TS, T_FEED_TS, T_ID, T_ID_LENGTH, T_PRICE, T_SEQ, T_SIDE, T_SIZE } from '../ring/layout.js';
import { writeMicroseconds } from './encode.js';
import { ISO_TIME_MAX_BYTES, MAX_NUMBER_BYTES, asciiBytes, writeBytes, writeIsoTimeAt, writeNumberAt } from './json-writer.js';

const F_TRADE = asciiBytes('{"type":"trade","symbol":"');
const F_SNAPSHOT = asciiBytes('{"type":"trades_snapshot","symbol":"');
const F_EPOCH = asciiBytes('","epoch":');
const F_SEQ = asciiBytes(',"seq":');
const F_REASON = asciiBytes(',"reason":"');
const F_TRADES = asciiBytes(',"trades":[');
const F_ITEM_SEQ = asciiBytes('{"seq":');
const F_TRADE_ID = asciiBytes(',"trade_id":"');
const F_PRICE = asciiBytes('","price":');
const F_SIZE = asciiBytes(',"size":');
const F_SIDE_BUY = asciiBytes(',"side":"buy","timestamp":"');
const F_SIDE_SELL = asciiBytes(',"side":"sell","timestamp":"');
const F_END = asciiBytes('"}');
const F_SNAPSHOT_END = asciiBytes(']}');

const CH_QUOTE = 34;
const CH_COMMA = 44;
const CH_UNDERSCORE = 95;

/** Upper bound of one trade's fields, as a frame or as an element of a snapshot (symbol aside). */
const TRADE_FIELDS_MAX_BYTES = F_TRADE.length + F_EPOCH.length + F_SEQ.length + F_TRADE_ID.length + F_PRICE.length
  + F_SIZE.length + F_SIDE_SELL.length + F_END.length + 4 * MAX_NUMBER_BYTES + TRADE_ID_MAX_BYTES + ISO_TIME_MAX_BYTES + 3 + 1;

/** Upper bound of a `trade` frame of a symbol whose pre-encoded name is `symbolLength` bytes. */
export function maxTradeFrameBytes(symbolLength: number): number {
  return TRADE_FIELDS_MAX_BYTES + symbolLength;
}

/** Upper bound of a `trades_snapshot` of `trades` trades. */
export function maxTradesSnapshotBytes(symbolLength: number, trades: number): number {
  return F_SNAPSHOT.length + symbolLength + F_EPOCH.length + F_SEQ.length + 2 * MAX_NUMBER_BYTES + F_REASON.length
    + MAX_REASON_BYTES + 1 + F_TRADES.length + F_SNAPSHOT_END.length + trades * (TRADE_FIELDS_MAX_BYTES + 1);
}

/** `,"trade_id":"…","price":…,"size":…,"side":…,"timestamp":"…"}` of the record at f64[base…]. */
function writeTradeTail(out: Uint8Array, pos: number, f64: Float64Array, base: number): number {
  pos = writeBytes(out, pos, F_TRADE_ID);
  // The id is ASCII checked at ingress; a byte outside the set (a damaged record) becomes `_`,
  // so no record can break the JSON.
  const n = Math.min(TRADE_ID_MAX_BYTES, Math.max(0, f64[base + T_ID_LENGTH] | 0));
  const ids = new Uint8Array(f64.buffer, f64.byteOffset + (base + T_ID) * 8, TRADE_ID_MAX_BYTES);
  for (let i = 0; i < n; i++) {
    const c = ids[i];
    const ok = (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === CH_UNDERSCORE;
    out[pos++] = ok ? c : CH_UNDERSCORE;
  }
  pos = writeBytes(out, pos, F_PRICE);
  pos = writeNumberAt(out, pos, f64, base + T_PRICE);
  pos = writeBytes(out, pos, F_SIZE);
  pos = writeNumberAt(out, pos, f64, base + T_SIZE);
  pos = writeBytes(out, pos, f64[base + T_SIDE] === TRADE_BUY ? F_SIDE_BUY : F_SIDE_SELL);
  const ex = f64[base + T_EXCHANGE_TS];
  if (ex > 0) {
    pos = writeIsoTimeAt(out, pos, f64, base + T_EXCHANGE_TS);
    pos = writeMicroseconds(out, pos, ex);
  } else {
    pos = writeIsoTimeAt(out, pos, f64, base + T_FEED_TS);
  }
  return writeBytes(out, pos, F_END);
}

/** The `trade` frame of the record at f64[base…]; `symbol` pre-encoded (symbolJsonBytes). */
export function encodeTrade(out: Uint8Array, pos: number, symbol: Uint8Array, f64: Float64Array, base: number): number {
  pos = writeBytes(out, pos, F_TRADE);
  pos = writeBytes(out, pos, symbol);
  pos = writeBytes(out, pos, F_EPOCH);
  pos = writeNumberAt(out, pos, f64, base + T_EPOCH);
  pos = writeBytes(out, pos, F_SEQ);
  pos = writeNumberAt(out, pos, f64, base + T_SEQ);
  return writeTradeTail(out, pos, f64, base);
}

/**
 * Starts a `trades_snapshot` at (seq, epoch) — seq is the last trade it holds, 0 for none — up to
 * `"trades":[`. Then addSnapshotTrade per trade, oldest first, and endTradesSnapshot.
 */
export function beginTradesSnapshot(out: Uint8Array, pos: number, symbol: Uint8Array, seq: number, epoch: number, reason?: Uint8Array): number {
  if (reason !== undefined && reason.length > MAX_REASON_BYTES) throw new RangeError(`trades_snapshot: reason is longer than MAX_REASON_BYTES (${MAX_REASON_BYTES})`);
  pos = writeBytes(out, pos, F_SNAPSHOT);
  pos = writeBytes(out, pos, symbol);
  pos = writeBytes(out, pos, F_EPOCH);
  SCRATCH[0] = epoch;
  SCRATCH[1] = seq;
  pos = writeNumberAt(out, pos, SCRATCH, 0);
  pos = writeBytes(out, pos, F_SEQ);
  pos = writeNumberAt(out, pos, SCRATCH, 1);
  if (reason !== undefined) {
    pos = writeBytes(out, pos, F_REASON);
    pos = writeBytes(out, pos, reason);
    out[pos++] = CH_QUOTE;
  }
  return writeBytes(out, pos, F_TRADES);
}

const SCRATCH = new Float64Array(2);

/** One element of the snapshot's `trades`; `first`: no comma before it. */
export function addSnapshotTrade(out: Uint8Array, pos: number, f64: Float64Array, base: number, first: boolean): number {
  if (!first) out[pos++] = CH_COMMA;
  pos = writeBytes(out, pos, F_ITEM_SEQ);
  pos = writeNumberAt(out, pos, f64, base + T_SEQ);
  return writeTradeTail(out, pos, f64, base);
}

export function endTradesSnapshot(out: Uint8Array, pos: number): number {
  return writeBytes(out, pos, F_SNAPSHOT_END);
}
