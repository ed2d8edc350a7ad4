// Trade records (layout.ts T_*) as a shard writes them into the writer's row queue, for tests without a shard;
// and a writer journal record of the first format (books only), as a build before trades wrote it.
import {
  ROW_TRADE, TRADE_BUY, TRADE_RECORD_BYTES, TRADE_RECORD_FIELDS, TRADE_SELL, T_EPOCH, T_EXCHANGE_TS, T_FEED_TS, T_ID,
  T_ID_LENGTH, T_PRICE, T_SEQ, T_SIDE, T_SIZE,
} from '../../src/ring/layout.js';
import type { QueueProducer } from '../../src/ring/spsc.js';
import type { BatchProgress } from '../../src/store/copy-batch.js';

export interface TradeSpec {
  seq: number;
  epoch?: number; // default EPOCH
  id?: string; // the exchange's trade id; default `t<seq>`
  price?: number;
  size?: number;
  side?: 'buy' | 'sell';
  /** Exchange time, ms (0: unknown); default T0 + seq. */
  timeMs?: number;
  feedTs?: number; // default timeMs + 3
}

export const EPOCH = 1_700_000_000_000;
export const T0 = Date.UTC(2024, 4, 8, 12, 0, 0);

/** Writes trade `t` at f64[base…]. */
export function writeTrade(f64: Float64Array, base: number, t: TradeSpec): void {
  for (let i = 0; i < TRADE_RECORD_FIELDS; i++) f64[base + i] = 0;
  const timeMs = t.timeMs ?? T0 + t.seq;
  f64[base + T_SEQ] = t.seq;
  f64[base + T_EPOCH] = t.epoch ?? EPOCH;
  f64[base + T_EXCHANGE_TS] = timeMs;
  f64[base + T_FEED_TS] = t.feedTs ?? (timeMs > 0 ? timeMs : T0) + 3;
  f64[base + T_PRICE] = t.price ?? 100 + t.seq / 100;
  f64[base + T_SIZE] = t.size ?? 0.5;
  f64[base + T_SIDE] = t.side === 'sell' ? TRADE_SELL : TRADE_BUY;
  const id = t.id ?? `t${t.seq}`;
  f64[base + T_ID_LENGTH] = id.length;
  const bytes = new Uint8Array(f64.buffer, f64.byteOffset + (base + T_ID) * 8, id.length);
  for (let i = 0; i < id.length; i++) bytes[i] = id.charCodeAt(i);
}

/** One trade record in a fresh Float64Array. */
export function tradeRecord(t: TradeSpec): Float64Array {
  const f = new Float64Array(TRADE_RECORD_FIELDS);
  writeTrade(f, 0, t);
  return f;
}

/** Commits trade `t` of symbol `id` into a shard → writer row queue, as the shard does. */
export function queueTrade(q: QueueProducer, symbolId: number, t: TradeSpec): void {
  const at = q.reserve(TRADE_RECORD_BYTES);
  if (at < 0) throw new Error('row queue full');
  writeTrade(q.f64, at >> 3, t);
  q.commit(TRADE_RECORD_BYTES, symbolId + ROW_TRADE);
}

/** A journal record as the first format wrote it: u32 progress length, progress JSON, u32 rows, f64 newestFeedTs, COPY rows. */
export function formatOneRecord(progress: BatchProgress[], rows: number, newestFeedTs: number, payload: Buffer): Uint8Array {
  const meta = Buffer.from(JSON.stringify(progress));
  const out = Buffer.alloc(4 + meta.length + 12 + payload.length);
  out.writeUInt32LE(meta.length, 0);
  meta.copy(out, 4);
  out.writeUInt32LE(rows, 4 + meta.length);
  out.writeDoubleLE(newestFeedTs, 8 + meta.length);
  payload.copy(out, 16 + meta.length);
  return out;
}
