// Encoders of the candle and ticker channels' frames straight from analytics-store slots, allocation-free.
//
// The shard encodes each frame once, when it publishes a state; the front writes a channel's
// snapshot (today's candles, or the current ticker) from the slots. Callers reserve the bounds.
//
//   {"type":"candle","symbol":…,"interval":"1m","epoch":E,"seq":N,"candle":{"time":…,"open":…,
//    "high":…,"low":…,"close":…,"volume":…,"trades":…,"vwap":…,"closed":false}}
//   {"type":"candles_snapshot","symbol":…,"interval":"1m","epoch":E,"seq":N[,"reason":…],"candles":[{…},…]}
//   {"type":"ticker","symbol":…,"epoch":E,"seq":N[,"reason":…],"ticker":{"window_start":…,"open":…,"high":…,
//    "low":…,"last":…,"volume":…,"quote_volume":…,"change":…,"change_percent":…,"trades":…}}

import { C_CLOSE, C_CLOSED, C_HIGH, C_LOW, C_OPEN, C_START, C_TRADES, C_VOLUME, C_VWAP } from '../analytics/candle-builder.js';
import {
  T_CHANGE, T_CHANGE_PERCENT, T_HIGH, T_LAST, T_LOW, T_OPEN, T_QUOTE_VOLUME, T_TRADES, T_VOLUME, T_WINDOW_START,
} from '../analytics/rolling-ticker.js';
import { AS_EPOCH, AS_RECORD, AS_SEQ, MAX_REASON_BYTES } from '../ring/layout.js';
import { ISO_TIME_MAX_BYTES, MAX_NUMBER_BYTES, asciiBytes, writeBytes, writeIsoTimeAt, writeNumberAt } from './json-writer.js';

const F_CANDLE = asciiBytes('{"type":"candle","symbol":"');
const F_SNAPSHOT = asciiBytes('{"type":"candles_snapshot","symbol":"');
const F_TICKER = asciiBytes('{"type":"ticker","symbol":"');
const F_INTERVAL = asciiBytes('","interval":"');

const F_EPOCH = asciiBytes('","epoch":');
const F_SEQ = asciiBytes(',"seq":');
const F_REASON = asciiBytes(',"reason":"');
const F_CANDLE_OBJ = asciiBytes(',"candle":');
const F_CANDLES = asciiBytes(',"candles":[');
const F_TIME = asciiBytes('{"time":"');
const F_OPEN = asciiBytes('","open":');
const F_HIGH = asciiBytes(',"high":');
const F_LOW = asciiBytes(',"low":');
const F_CLOSE = asciiBytes(',"close":');
const F_VOLUME = asciiBytes(',"volume":');
const F_TRADES = asciiBytes(',"trades":');
const F_VWAP = asciiBytes(',"vwap":');
const F_CLOSED_TRUE = asciiBytes(',"closed":true}');
const F_CLOSED_FALSE = asciiBytes(',"closed":false}');
const F_TICKER_OBJ = asciiBytes(',"ticker":{"window_start":"');
const F_T_OPEN = asciiBytes('","open":');
const F_T_LAST = asciiBytes(',"last":');
const F_QUOTE = asciiBytes(',"quote_volume":');
const F_CHANGE = asciiBytes(',"change":');
const F_CHANGE_PCT = asciiBytes(',"change_percent":');
const F_END_OBJ = asciiBytes('}}');
const F_END_LIST = asciiBytes(']}');
const CH_QUOTE = 34;
const CH_COMMA = 44;

/** Pre-encoded interval names (`1m`, …) for the frames. */
export const intervalBytes = (interval: string): Uint8Array => asciiBytes(interval);

/** Upper bound of one candle object. */
export const CANDLE_OBJECT_MAX_BYTES = 120 + ISO_TIME_MAX_BYTES + 8 * MAX_NUMBER_BYTES;
const HEAD_MAX_BYTES = 80 + 2 * MAX_NUMBER_BYTES + MAX_REASON_BYTES;

export function maxCandleFrameBytes(symbolLength: number): number {
  return HEAD_MAX_BYTES + symbolLength + CANDLE_OBJECT_MAX_BYTES;
}

export function maxCandlesSnapshotBytes(symbolLength: number, candles: number): number {
  return HEAD_MAX_BYTES + symbolLength + candles * (CANDLE_OBJECT_MAX_BYTES + 1);
}

export function maxTickerFrameBytes(symbolLength: number): number {
  return HEAD_MAX_BYTES + symbolLength + 160 + ISO_TIME_MAX_BYTES + 10 * MAX_NUMBER_BYTES;
}

/** The candle object of the slot at f64[slot…] (AS_RECORD + C_*). */
export function writeCandleObject(out: Uint8Array, pos: number, f64: Float64Array, slot: number): number {
  const r = slot + AS_RECORD;
  pos = writeBytes(out, pos, F_TIME);
  pos = writeIsoTimeAt(out, pos, f64, r + C_START);
  pos = writeBytes(out, pos, F_OPEN);
  pos = writeNumberAt(out, pos, f64, r + C_OPEN);
  pos = writeBytes(out, pos, F_HIGH);
  pos = writeNumberAt(out, pos, f64, r + C_HIGH);
  pos = writeBytes(out, pos, F_LOW);
  pos = writeNumberAt(out, pos, f64, r + C_LOW);
  pos = writeBytes(out, pos, F_CLOSE);
  pos = writeNumberAt(out, pos, f64, r + C_CLOSE);
  pos = writeBytes(out, pos, F_VOLUME);
  pos = writeNumberAt(out, pos, f64, r + C_VOLUME);
  pos = writeBytes(out, pos, F_TRADES);
  pos = writeNumberAt(out, pos, f64, r + C_TRADES);
  pos = writeBytes(out, pos, F_VWAP);
  pos = writeNumberAt(out, pos, f64, r + C_VWAP);
  return writeBytes(out, pos, f64[r + C_CLOSED] === 1 ? F_CLOSED_TRUE : F_CLOSED_FALSE);
}

/** `{"type":"candle",…}` of the slot (its AS_SEQ/AS_EPOCH are the frame's). */
export function encodeCandle(out: Uint8Array, pos: number, symbol: Uint8Array, interval: Uint8Array, f64: Float64Array, slot: number): number {
  pos = writeBytes(out, pos, F_CANDLE);
  pos = writeBytes(out, pos, symbol);
  pos = writeBytes(out, pos, F_INTERVAL);
  pos = writeBytes(out, pos, interval);
  pos = writeBytes(out, pos, F_EPOCH);
  pos = writeNumberAt(out, pos, f64, slot + AS_EPOCH);
  pos = writeBytes(out, pos, F_SEQ);
  pos = writeNumberAt(out, pos, f64, slot + AS_SEQ);
  pos = writeBytes(out, pos, F_CANDLE_OBJ);
  pos = writeCandleObject(out, pos, f64, slot);
  out[pos++] = 125; // }
  return pos;
}

const SCRATCH = new Float64Array(2);

/** Starts a candles_snapshot at (seq, epoch) up to `"candles":[`; then candle objects comma-separated, then endList. */
export function beginCandlesSnapshot(out: Uint8Array, pos: number, symbol: Uint8Array, interval: Uint8Array, seq: number, epoch: number, reason?: Uint8Array): number {
  pos = writeBytes(out, pos, F_SNAPSHOT);
  pos = writeBytes(out, pos, symbol);
  pos = writeBytes(out, pos, F_INTERVAL);
  pos = writeBytes(out, pos, interval);
  pos = writeHead(out, pos, seq, epoch, reason);
  return writeBytes(out, pos, F_CANDLES);
}

function writeHead(out: Uint8Array, pos: number, seq: number, epoch: number, reason?: Uint8Array): number {
  if (reason !== undefined && reason.length > MAX_REASON_BYTES) throw new RangeError(`reason is longer than MAX_REASON_BYTES (${MAX_REASON_BYTES})`);
  SCRATCH[0] = epoch;
  SCRATCH[1] = seq;
  pos = writeBytes(out, pos, F_EPOCH);
  pos = writeNumberAt(out, pos, SCRATCH, 0);
  pos = writeBytes(out, pos, F_SEQ);
  pos = writeNumberAt(out, pos, SCRATCH, 1);
  if (reason !== undefined) {
    pos = writeBytes(out, pos, F_REASON);
    pos = writeBytes(out, pos, reason);
    out[pos++] = CH_QUOTE;
  }
  return pos;
}

export function snapshotSeparator(out: Uint8Array, pos: number): number {
  out[pos] = CH_COMMA;
  return pos + 1;
}

export function endList(out: Uint8Array, pos: number): number {
  return writeBytes(out, pos, F_END_LIST);
}

/** `{"type":"ticker",…}` of the ticker slot at f64[slot…], at (seq, epoch) given (a snapshot's may carry a reason). */
export function encodeTicker(out: Uint8Array, pos: number, symbol: Uint8Array, f64: Float64Array, slot: number, seq: number, epoch: number, reason?: Uint8Array): number {
  const r = slot + AS_RECORD;
  pos = writeBytes(out, pos, F_TICKER);
  pos = writeBytes(out, pos, symbol);
  pos = writeHead(out, pos, seq, epoch, reason);
  pos = writeBytes(out, pos, F_TICKER_OBJ);
  pos = writeIsoTimeAt(out, pos, f64, r + T_WINDOW_START);
  pos = writeBytes(out, pos, F_T_OPEN);
  pos = writeNumberAt(out, pos, f64, r + T_OPEN);
  pos = writeBytes(out, pos, F_HIGH);
  pos = writeNumberAt(out, pos, f64, r + T_HIGH);
  pos = writeBytes(out, pos, F_LOW);
  pos = writeNumberAt(out, pos, f64, r + T_LOW);
  pos = writeBytes(out, pos, F_T_LAST);
  pos = writeNumberAt(out, pos, f64, r + T_LAST);
  pos = writeBytes(out, pos, F_VOLUME);
  pos = writeNumberAt(out, pos, f64, r + T_VOLUME);
  pos = writeBytes(out, pos, F_QUOTE);
  pos = writeNumberAt(out, pos, f64, r + T_QUOTE_VOLUME);
  pos = writeBytes(out, pos, F_CHANGE);
  pos = writeNumberAt(out, pos, f64, r + T_CHANGE);
  pos = writeBytes(out, pos, F_CHANGE_PCT);
  pos = writeNumberAt(out, pos, f64, r + T_CHANGE_PERCENT);
  pos = writeBytes(out, pos, F_TRADES);
  pos = writeNumberAt(out, pos, f64, r + T_TRADES);
  return writeBytes(out, pos, F_END_OBJ);
}
