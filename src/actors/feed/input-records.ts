// The feed side's resyncing input record (layout.ts KIND_RESYNCING): written by feed actors, and by the supervisor for a feed actor that died.

import { IN_ASK_COUNT, IN_BID_COUNT, IN_EXCHANGE_TS, IN_FEED_TS, IN_KIND, IN_LEVELS, IN_SYMBOL, KIND_RESYNCING, MAX_REASON_BYTES, resyncingRecordBytes } from '../../ring/layout.js';
import type { QueueProducer } from '../../ring/spsc.js';

const UNDERSCORE = 95;

/**
 * Queues "symbol `symbolId` is resyncing since `feedTs`, because `reason`"; false when the queue
 * is full. The reason is cut to MAX_REASON_BYTES and any character outside [A-Za-z0-9_-]
 * becomes `_`: the shard writes it into JSON as it is.
 */
export function writeResyncingRecord(q: QueueProducer, symbolId: number, reason: string, feedTs: number): boolean {
  const n = Math.min(reason.length, MAX_REASON_BYTES);
  const bytes = resyncingRecordBytes(n);
  const at = q.reserve(bytes);
  if (at < 0) return false;
  const w = at >> 2;
  const b = at >> 3;
  q.u32[w + IN_SYMBOL] = symbolId;
  q.u32[w + IN_KIND] = KIND_RESYNCING;
  q.f64[b + IN_FEED_TS] = feedTs;
  q.f64[b + IN_EXCHANGE_TS] = 0;
  q.u32[w + IN_BID_COUNT] = n;
  q.u32[w + IN_ASK_COUNT] = 0;
  const from = at + IN_LEVELS * 8;
  for (let i = 0; i < n; i++) {
    const c = reason.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === UNDERSCORE;
    q.bytes[from + i] = ok ? c : UNDERSCORE;
  }
  q.commit(bytes, symbolId);
  return true;
}
