// Writes a BookUpdate or a trade as an input record (layout.ts IN_*): used by the feed side of the input queue and tests.

import {
  IN_ASK_COUNT, IN_BID_COUNT, IN_EXCHANGE_TS, IN_FEED_TS, IN_KIND, IN_LEVELS, IN_SYMBOL, IN_TRADE_ID, IN_TRADE_ID_LENGTH,
  IN_TRADE_PRICE, IN_TRADE_SIDE, IN_TRADE_SIZE, KIND_TRADE, TRADE_BUY, TRADE_SELL, tradeRecordInputBytes,
} from '../ring/layout.js';
import type { QueueProducer } from '../ring/spsc.js';
import { type BookUpdate, TRADE_ID_PATTERN, type TradeUpdate } from './types.js';

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

/** Why a trade cannot be queued as it is (an id or a number the record cannot carry), or undefined. */
export function tradeProblem(t: TradeUpdate): string | undefined {
  if (!TRADE_ID_PATTERN.test(t.tradeId)) return `trade id ${JSON.stringify(String(t.tradeId).slice(0, 48))}: expected 1-40 characters of [A-Za-z0-9._:-]`;
  if (!(t.price > 0) || !Number.isFinite(t.price)) return `trade ${t.tradeId}: price ${t.price} is not a positive number`;
  if (!(t.size > 0) || !Number.isFinite(t.size)) return `trade ${t.tradeId}: size ${t.size} is not a positive number`;
  if (t.side !== 'buy' && t.side !== 'sell') return `trade ${t.tradeId}: side ${JSON.stringify(t.side)} is not buy or sell`;
  return undefined;
}

/**
 * Queues `t` (checked by tradeProblem first) as a KIND_TRADE record of `symbolId`; false when the
 * queue is full. The id is copied byte by byte (ASCII), nothing is allocated.
 */
export function writeTradeRecord(q: QueueProducer, t: TradeUpdate, symbolId: number, feedTs: number): boolean {
  const n = t.tradeId.length;
  const bytes = tradeRecordInputBytes(n);
  const at = q.reserve(bytes);
  if (at < 0) return false;
  const w = at >> 2;
  const b = at >> 3;
  q.u32[w + IN_SYMBOL] = symbolId;
  q.u32[w + IN_KIND] = KIND_TRADE;
  q.f64[b + IN_FEED_TS] = feedTs;
  q.f64[b + IN_EXCHANGE_TS] = t.exchangeTs > 0 ? t.exchangeTs : 0;
  q.u32[w + IN_TRADE_SIDE] = t.side === 'buy' ? TRADE_BUY : TRADE_SELL;
  q.u32[w + IN_TRADE_ID_LENGTH] = n;
  q.f64[b + IN_TRADE_PRICE] = t.price;
  q.f64[b + IN_TRADE_SIZE] = t.size;
  const from = at + IN_TRADE_ID;
  for (let i = 0; i < n; i++) q.bytes[from + i] = t.tradeId.charCodeAt(i);
  q.commit(bytes, symbolId);
  return true;
}
