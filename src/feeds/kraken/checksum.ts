// Kraken's book checksum (WebSocket v2): CRC32 over the top 10 asks then the top 10 bids, each price and qty as the digits of its fixed-point value.
//
// The documented rule (docs.kraken.com, "Book checksum (WebSocket v2)"): for each of the top 10
// asks, lowest first, then the top 10 bids, highest first, take price and qty as decimal text,
// remove the '.', remove leading zeros, concatenate; CRC32 of the whole string, as an unsigned
// 32-bit integer. The text is the value at the pair's precision ("0.00100000" → "100000"): v2
// sends JSON numbers, so the precision comes from the `instrument` channel (price_precision,
// qty_precision), never from how a number happens to be spelled. With the '.' and the leading
// zeros gone, that text is exactly the decimal digits of round(value · 10^precision), so the
// digits are written as integers into one reused buffer: no string per level, no allocation.

import * as zlib from 'node:zlib';

/** Levels per side the checksum covers, whatever the subscribed depth. */
export const CHECKSUM_LEVELS = 10;

/** The top levels of one book side, best first (BookSide fits). */
export interface SideLevels {
  readonly count: number;
  priceAt(i: number): number;
  sizeAt(i: number): number;
}

const POW10: readonly number[] = Array.from({ length: 19 }, (_, i) => 10 ** i);
const MAX_PRECISION = POW10.length - 1;

// Checked once: zlib.crc32 arrived in Node 20.15 / 22.2; older runtimes use the table below.
const nativeCrc32: ((data: Uint8Array) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32 : undefined;

/** Which CRC32 this process uses: Node's own, or the table-driven one. */
export const CRC32_SOURCE: 'zlib' | 'table' = nativeCrc32 ? 'zlib' : 'table';

// The standard reflected CRC-32 (polynomial 0xEDB88320), as zlib and Kraken compute it.
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** CRC32 of `bytes[0, len)` with the table (what runs when zlib has no crc32). */
export function crc32Table(bytes: Uint8Array, len = bytes.length): number {
  let c = -1;
  for (let i = 0; i < len; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC32 of `bytes[0, len)`, unsigned. */
export function crc32(bytes: Uint8Array, len = bytes.length): number {
  if (!nativeCrc32) return crc32Table(bytes, len);
  return nativeCrc32(len === bytes.length ? bytes : bytes.subarray(0, len));
}

// 20 levels × (price + qty) × at most 16 digits (a safe integer) = 640 bytes.
const SCRATCH = new Uint8Array(1024);
const ZERO = 0x30;

/**
 * Writes the digits of round(value · 10^precision) at `at`, without leading zeros (so 0 writes
 * nothing, as "0.000" does under the documented rule). Returns the new end, or -1 when the
 * value has no exact fixed-point form here (negative, not finite, or past 2^53).
 */
function writeScaled(value: number, precision: number, at: number): number {
  const m = Math.round(value * POW10[precision]);
  if (!(m >= 0) || !Number.isSafeInteger(m)) return -1;
  if (m === 0) return at;
  let end = at;
  for (let t = m; t >= 1; t = Math.floor(t / 10)) end++;
  for (let t = m, i = end - 1; i >= at; i--, t = Math.floor(t / 10)) SCRATCH[i] = ZERO + (t % 10);
  return end;
}

function writeSide(side: SideLevels, pricePrecision: number, qtyPrecision: number, at: number): number {
  const n = Math.min(CHECKSUM_LEVELS, side.count);
  for (let i = 0; i < n && at >= 0; i++) {
    at = writeScaled(side.priceAt(i), pricePrecision, at);
    if (at >= 0) at = writeScaled(side.sizeAt(i), qtyPrecision, at);
  }
  return at;
}

const validPrecision = (p: number): boolean => Number.isInteger(p) && p >= 0 && p <= MAX_PRECISION;

/**
 * The checksum Kraken would send for a book whose sides are `asks` (lowest first) and `bids`
 * (highest first), at the pair's precisions. -1 (which no checksum equals) when a value or a
 * precision cannot be formatted exactly: the caller then sees a mismatch and resyncs, it never
 * accepts a book it could not check.
 */
export function bookChecksum(asks: SideLevels, bids: SideLevels, pricePrecision: number, qtyPrecision: number): number {
  if (!validPrecision(pricePrecision) || !validPrecision(qtyPrecision)) return -1;
  let at = writeSide(asks, pricePrecision, qtyPrecision, 0);
  if (at >= 0) at = writeSide(bids, pricePrecision, qtyPrecision, at);
  return at < 0 ? -1 : crc32(SCRATCH, at);
}
