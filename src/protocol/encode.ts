// Encoders of server→client frames straight from shared-memory records, allocation-free.
//
// The shard calls encodeRecord once per update (serialize once: the front publishes the same
// bytes to every subscriber); the front actor and the snapshot pool use it for resume and
// snapshots, and encodeHistoryPoint for historical_data; encodeStatus writes the shard's
// status frames (`resyncing`). Every encoder writes into the
// caller's Uint8Array at `pos` and returns the position after the frame; the caller reserves
// maxRecordFrameBytes / HISTORY_POINT_MAX_BYTES first, since nothing here checks bounds.

import {
  MAX_REASON_BYTES, METRIC_COUNT, METRIC_NAMES, P_BUCKET, P_COUNT, P_METRICS, P_SEQ,
  R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_FLAGS, R_LEVELS, R_METRICS, R_SEQ, RAW_RESET,
} from '../ring/layout.js';
import { ISO_TIME_MAX_BYTES, MAX_NUMBER_BYTES, asciiBytes, writeBytes, writeIsoTimeAt, writeNumberAt } from './json-writer.js';

/** Frame types, pre-encoded for the `type` argument of encodeRecord. */
export const TYPE_UPDATE = asciiBytes('orderbook_update');
export const TYPE_SNAPSHOT = asciiBytes('orderbook_snapshot');
export const TYPE_RESYNC = asciiBytes('resync');
/** Longest `type` the frame bound allows for; the three above fit. */
export const MAX_TYPE_BYTES = 32;
/** Longest `reason` (pre-encoded, JSON-safe) the frame bound allows for; a resyncing input record carries as much. */
export { MAX_REASON_BYTES };
/** Statuses the shard itself announces (the front makes `live`, `stale` and `no_data`). */
export const STATUS_RESYNCING = asciiBytes('resyncing');

const REASONS = new Map<string, Uint8Array>();
/** A resync reason pre-encoded once (the reasons are a small fixed set of ASCII words). */
export function reasonBytes(reason: string): Uint8Array {
  let b = REASONS.get(reason);
  if (!b) REASONS.set(reason, (b = asciiBytes(reason)));
  return b;
}

const F_TYPE = asciiBytes('{"type":"');
const F_SYMBOL = asciiBytes('","symbol":"');
const F_EPOCH = asciiBytes('","epoch":');
const F_SEQ = asciiBytes(',"seq":');
const F_REASON = asciiBytes(',"reason":"');
const F_RESET = asciiBytes(',"reset":true');
const F_TIMESTAMP = asciiBytes(',"timestamp":"');
const F_TIMESTAMP_AFTER_REASON = asciiBytes('","timestamp":"');
const F_DATA = asciiBytes('","data":{');
const F_BID_LEVELS = asciiBytes(',"bid_levels":[');
const F_ASK_LEVELS = asciiBytes('],"ask_levels":[');
const F_END = asciiBytes(']}}');
const F_TIME = asciiBytes('{"time":"');
const F_COUNT = asciiBytes(',"count":');
// `"best_bid":` first, then `,"best_ask":` …: the comma travels with every name but the first.
const F_METRICS: Uint8Array[] = METRIC_NAMES.map((name, i) => asciiBytes(`${i === 0 ? '' : ','}"${name}":`));
const F_HISTORY_METRICS: Uint8Array[] = METRIC_NAMES.map((name) => asciiBytes(`,"${name}":`));
const F_STATUS = asciiBytes('{"type":"status","symbol":"');
const F_STATUS_STATUS = asciiBytes('","status":"');
const F_SINCE = asciiBytes('","since":"');
const F_STATUS_REASON = asciiBytes('","reason":"');
const F_STATUS_END = asciiBytes('"}');

const TIME_SCRATCH = new Float64Array(1);

const CH_QUOTE = 34;
const CH_COMMA = 44;
const CH_LBRACKET = 91;
const CH_RBRACKET = 93;
const CH_RBRACE = 125;

const sumLengths = (parts: Uint8Array[]): number => parts.reduce((n, p) => n + p.length, 0);

/** A level `[price,size]` and its separating comma. */
const LEVEL_MAX_BYTES = 2 * MAX_NUMBER_BYTES + 4;

const RECORD_FIXED_BYTES =
  sumLengths([F_TYPE, F_SYMBOL, F_EPOCH, F_SEQ, F_RESET, F_REASON, F_TIMESTAMP_AFTER_REASON, F_DATA, F_BID_LEVELS, F_ASK_LEVELS, F_END])
  + sumLengths(F_METRICS) + MAX_TYPE_BYTES + MAX_REASON_BYTES
  + (2 + METRIC_COUNT) * MAX_NUMBER_BYTES + ISO_TIME_MAX_BYTES + 3 /* microseconds */;

/**
 * Upper bound of an encodeRecord frame's bytes. `symbolLength` is the length of the
 * pre-encoded symbol (symbolJsonBytes(symbol).length), not of the string.
 */
export function maxRecordFrameBytes(depth: number, symbolLength: number): number {
  return RECORD_FIXED_BYTES + symbolLength + 2 * depth * LEVEL_MAX_BYTES;
}

/** Upper bound of one encodeHistoryPoint object. */
export const HISTORY_POINT_MAX_BYTES =
  sumLengths([F_TIME, F_SEQ, F_COUNT]) + 2 /* `"` closing the time, `}` */ + ISO_TIME_MAX_BYTES
  + 2 * MAX_NUMBER_BYTES + sumLengths(F_HISTORY_METRICS) + METRIC_COUNT * MAX_NUMBER_BYTES;

/** Writes `count` `[price,size]` pairs from f64[at…], comma-separated. */
function writeLevels(out: Uint8Array, pos: number, f64: Float64Array, at: number, count: number): number {
  for (let i = 0; i < count; i++, at += 2) {
    if (i > 0) out[pos++] = CH_COMMA;
    out[pos++] = CH_LBRACKET;
    pos = writeNumberAt(out, pos, f64, at);
    out[pos++] = CH_COMMA;
    pos = writeNumberAt(out, pos, f64, at + 1);
    out[pos++] = CH_RBRACKET;
  }
  return pos;
}

/**
 * After writeIsoTimeAt's `…ss.sssZ`: when the exchange timestamp has a sub-millisecond part
 * (the simulator's has), turns it into `…ss.ssssssZ` (ISO 8601, what Date.parse accepts);
 * a whole-millisecond timestamp keeps the 3-digit form byte for byte.
 */
export function writeMicroseconds(out: Uint8Array, pos: number, ms: number): number {
  const us = Math.round((ms - Math.floor(ms)) * 1000);
  if (us <= 0 || us >= 1000 || !(ms < 8.64e15)) return pos;
  out[pos - 1] = 48 + Math.floor(us / 100); // overwrites the `Z`
  out[pos] = 48 + (Math.floor(us / 10) % 10);
  out[pos + 1] = 48 + (us % 10);
  out[pos + 2] = 90; // Z
  return pos + 3;
}

/** A level count as stored, clamped to 0..depth so a bad slot cannot overrun the frame bound. */
function levelCount(v: number, depth: number): number {
  return v > 0 ? (v < depth ? Math.floor(v) : depth) : 0;
}

/**
 * Encodes the raw record at f64[base…] (layout.ts R_*) as
 * `{"type":…,"symbol":…,"epoch":…,"seq":…[,"reset":true][,"reason":…],"timestamp":…,"data":{metrics…,
 * "bid_levels":[[p,s],…],"ask_levels":[…]}}`. `type`, `symbol` and `reason` are pre-encoded
 * string insides (TYPE_*, symbolJsonBytes); the timestamp is the exchange's when known,
 * else the feed's. NaN metrics are written as null. `reset` comes from the record's R_FLAGS,
 * so the live frame, a resume and a snapshot of that seq all carry it.
 */
export function encodeRecord(
  out: Uint8Array, pos: number, type: Uint8Array, symbol: Uint8Array,
  f64: Float64Array, base: number, depth: number, reason?: Uint8Array,
): number {
  // The bound was computed with these allowances; past them the caller's buffer may overrun.
  if (type.length > MAX_TYPE_BYTES) throw new RangeError(`encodeRecord: type is longer than MAX_TYPE_BYTES (${MAX_TYPE_BYTES})`);
  if (reason !== undefined && reason.length > MAX_REASON_BYTES) {
    throw new RangeError(`encodeRecord: reason is longer than MAX_REASON_BYTES (${MAX_REASON_BYTES})`);
  }
  pos = writeBytes(out, pos, F_TYPE);
  pos = writeBytes(out, pos, type);
  pos = writeBytes(out, pos, F_SYMBOL);
  pos = writeBytes(out, pos, symbol);
  pos = writeBytes(out, pos, F_EPOCH);
  pos = writeNumberAt(out, pos, f64, base + R_EPOCH);
  pos = writeBytes(out, pos, F_SEQ);
  pos = writeNumberAt(out, pos, f64, base + R_SEQ);
  if ((f64[base + R_FLAGS] & RAW_RESET) !== 0) pos = writeBytes(out, pos, F_RESET);
  if (reason !== undefined) {
    pos = writeBytes(out, pos, F_REASON);
    pos = writeBytes(out, pos, reason);
    pos = writeBytes(out, pos, F_TIMESTAMP_AFTER_REASON);
  } else {
    pos = writeBytes(out, pos, F_TIMESTAMP);
  }
  const exchangeTs = f64[base + R_EXCHANGE_TS];
  if (exchangeTs > 0) {
    pos = writeIsoTimeAt(out, pos, f64, base + R_EXCHANGE_TS);
    pos = writeMicroseconds(out, pos, exchangeTs);
  } else {
    pos = writeIsoTimeAt(out, pos, f64, base + R_FEED_TS);
  }
  pos = writeBytes(out, pos, F_DATA);
  const metrics = base + R_METRICS;
  for (let m = 0; m < METRIC_COUNT; m++) {
    pos = writeBytes(out, pos, F_METRICS[m]);
    pos = writeNumberAt(out, pos, f64, metrics + m);
  }
  pos = writeBytes(out, pos, F_BID_LEVELS);
  pos = writeLevels(out, pos, f64, base + R_LEVELS, levelCount(f64[base + R_BID_COUNT], depth));
  pos = writeBytes(out, pos, F_ASK_LEVELS);
  pos = writeLevels(out, pos, f64, base + R_LEVELS + 2 * depth, levelCount(f64[base + R_ASK_COUNT], depth));
  return writeBytes(out, pos, F_END);
}

/**
 * Encodes the history point at f64[base…] (layout.ts P_*) as one element of
 * historical_data: `{"time":"<bucket start>","seq":…,"count":…,"best_bid":…,…}`, the bucket
 * start being P_BUCKET × resolutionMs. The epoch is not repeated: the frame states it once.
 */
export function encodeHistoryPoint(out: Uint8Array, pos: number, f64: Float64Array, base: number, resolutionMs: number): number {
  pos = writeBytes(out, pos, F_TIME);
  // Through a typed array: a computed double passed as an argument would be boxed.
  TIME_SCRATCH[0] = f64[base + P_BUCKET] * resolutionMs;
  pos = writeIsoTimeAt(out, pos, TIME_SCRATCH, 0);
  out[pos++] = CH_QUOTE;
  pos = writeBytes(out, pos, F_SEQ);
  pos = writeNumberAt(out, pos, f64, base + P_SEQ);
  pos = writeBytes(out, pos, F_COUNT);
  pos = writeNumberAt(out, pos, f64, base + P_COUNT);
  const metrics = base + P_METRICS;
  for (let m = 0; m < METRIC_COUNT; m++) {
    pos = writeBytes(out, pos, F_HISTORY_METRICS[m]);
    pos = writeNumberAt(out, pos, f64, metrics + m);
  }
  out[pos++] = CH_RBRACE;
  return pos;
}

const CH_UNDERSCORE = 95;
function reasonByte(c: number): number {
  const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === CH_UNDERSCORE;
  return ok ? c : CH_UNDERSCORE;
}

/** Upper bound of an encodeStatus frame's bytes (status words are short: STATUS_*). */
export function maxStatusFrameBytes(symbolLength: number): number {
  return sumLengths([F_STATUS, F_STATUS_STATUS, F_SINCE, F_STATUS_REASON, F_STATUS_END]) + symbolLength
    + MAX_TYPE_BYTES + ISO_TIME_MAX_BYTES + MAX_REASON_BYTES;
}

/**
 * `{"type":"status","symbol":…,"status":…,"since":"<ISO time of f64[sinceAt]>"[,"reason":…]}`,
 * the shape of client-message.ts statusFrame, written without allocating (the shard's frame
 * queue). `status` (STATUS_*) and `symbol` are pre-encoded insides; the reason is read from
 * `reason[reasonAt…]` (where the input record carries it) and any byte outside [A-Za-z0-9_-]
 * is written as `_`, so a bad record cannot break the JSON.
 */
export function encodeStatus(
  out: Uint8Array, pos: number, symbol: Uint8Array, status: Uint8Array, f64: Float64Array, sinceAt: number,
  reason?: Uint8Array, reasonAt = 0, reasonLength = reason === undefined ? 0 : reason.length - reasonAt,
): number {
  if (status.length > MAX_TYPE_BYTES) throw new RangeError(`encodeStatus: status is longer than MAX_TYPE_BYTES (${MAX_TYPE_BYTES})`);
  if (reasonLength > MAX_REASON_BYTES) throw new RangeError(`encodeStatus: reason is longer than MAX_REASON_BYTES (${MAX_REASON_BYTES})`);
  pos = writeBytes(out, pos, F_STATUS);
  pos = writeBytes(out, pos, symbol);
  pos = writeBytes(out, pos, F_STATUS_STATUS);
  pos = writeBytes(out, pos, status);
  pos = writeBytes(out, pos, F_SINCE);
  pos = writeIsoTimeAt(out, pos, f64, sinceAt);
  if (reason !== undefined) {
    pos = writeBytes(out, pos, F_STATUS_REASON);
    for (let i = 0; i < reasonLength; i++) out[pos++] = reasonByte(reason[reasonAt + i]);
  }
  return writeBytes(out, pos, F_STATUS_END);
}

/**
 * A symbol as the inside of a JSON string literal, UTF-8 encoded, for pre-encoding once per
 * symbol: `"` and `\` are escaped, control characters become \u00XX.
 */
export function symbolJsonBytes(symbol: string): Uint8Array {
  // JSON.stringify escapes exactly these (and lone surrogates); drop its surrounding quotes.
  const literal = JSON.stringify(symbol);
  return new TextEncoder().encode(literal.slice(1, -1));
}
