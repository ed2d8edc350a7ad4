// Writes a BookUpdate as an input record (layout.ts IN_*): used by the feed side of the input queue and tests.

import { IN_ASK_COUNT, IN_BID_COUNT, IN_EXCHANGE_TS, IN_FEED_TS, IN_KIND, IN_LEVELS, IN_SYMBOL } from '../ring/layout.js';
import type { BookUpdate } from './types.js';

/**
 * Writes the record starting at f64 index `base` and returns the f64 words written.
 * `f64` and `u32` must view the same memory; u32 indices are relative to `base * 2`.
 * The caller reserves room first: `inputRecordBytes(update.bidCount, update.askCount)`.
 */
export function writeInputRecord(
  update: BookUpdate, symbolId: number, feedTs: number,
  f64: Float64Array, u32: Uint32Array, base: number,
): number {
  const w = base * 2;
  const bids = update.bidCount;
  const asks = update.askCount;
  u32[w + IN_SYMBOL] = symbolId;
  u32[w + IN_KIND] = update.kind;
  f64[base + IN_FEED_TS] = feedTs;
  f64[base + IN_EXCHANGE_TS] = update.exchangeTs;
  u32[w + IN_BID_COUNT] = bids;
  u32[w + IN_ASK_COUNT] = asks;
  let p = base + IN_LEVELS;
  for (let i = 0; i < bids; i++, p += 2) {
    f64[p] = update.bidPx[i];
    f64[p + 1] = update.bidSz[i];
  }
  for (let i = 0; i < asks; i++, p += 2) {
    f64[p] = update.askPx[i];
    f64[p + 1] = update.askSz[i];
  }
  return p - base;
}
