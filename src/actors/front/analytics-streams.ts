// The front actor's view of a symbol's candle channels (one per interval) and its ticker channel: published sequence and snapshots from the analytics store.
//
// These channels carry states, not events: each frame is a candle's (or the ticker's) whole
// state, so a subscriber needs a snapshot at a seq and then every frame after it. A snapshot is
// consistent at the channel header's lastSeq C when every slot read holds a state published at
// or before C (slots are written only when published): it is read header first, then slots, and
// read again when a slot is newer than C.

import { INTERVALS, type Interval, bucketStart } from '../../analytics/intervals.js';
import { startOfDayMs } from '../../market-day.js';
import {
  beginCandlesSnapshot, encodeTicker, endList, intervalBytes, maxCandlesSnapshotBytes, maxTickerFrameBytes, snapshotSeparator,
  writeCandleObject,
} from '../../protocol/candle-frames.js';
import { AnalyticsStore, bucketNumber } from '../../ring/analytics-store.js';
import { AH_EPOCH, AH_LAST_SEQ, AS_SEQ, CANDLE_SLOT_FIELDS, TICKER_CHANNEL, TICKER_SLOT_FIELDS } from '../../ring/layout.js';

/** Channel numbers within a symbol's subscription keys: book 0, trades 1, candles 2-8, ticker 9. */
export const CANDLES_KEY_OFFSET = 2;
export const TICKER_KEY_OFFSET = 9;
export const KEYS_PER_SYMBOL = 16;
const SNAPSHOT_ATTEMPTS = 8;

/**
 * A front that starts (or restarts) counts a channel as published up to its committed seq: frames
 * at or below it still queued are then dropped, and a subscriber's snapshot holds their states.
 */
function startAtCommitted(stream: { epoch: number; lastSeq: number }, store: AnalyticsStore, k: number): void {
  if (!store.readChannel(k)) return;
  stream.epoch = store.header[AH_EPOCH];
  stream.lastSeq = store.header[AH_LAST_SEQ];
}

export interface Snapshot {
  length: number;
  seq: number;
  epoch: number;
}

export class FrontCandles {
  readonly channel = 'candles';
  readonly key: number;
  readonly topic: string;
  readonly interval: Interval;
  epoch = 0;
  lastSeq = 0;
  private readonly intervalJson: Uint8Array;
  private readonly slot = new Float64Array(CANDLE_SLOT_FIELDS);

  constructor(readonly id: number, readonly name: string, readonly symbolJson: Uint8Array, readonly store: AnalyticsStore, readonly k: number, private readonly timeZone: string) {
    this.interval = INTERVALS[k];
    this.key = id * KEYS_PER_SYMBOL + CANDLES_KEY_OFFSET + k;
    this.topic = `candles:${this.interval}:${name}`;
    this.intervalJson = intervalBytes(this.interval);
    startAtCommitted(this, store, k);
  }

  static maxFrameBytes(capacity: number, symbolLength: number): number {
    return maxCandlesSnapshotBytes(symbolLength, capacity + 2);
  }

  /**
   * A `candles_snapshot` of today's candles (market time zone) in the ring, oldest first, consistent
   * at the channel's committed seq; with `sinceSeq`, only candles published after it (a resume).
   * undefined when the shard kept writing (try again).
   */
  snapshot(out: Uint8Array, now: number, reason?: Uint8Array, sinceSeq = -1): Snapshot | undefined {
    const s = this.store;
    const from = bucketNumber(this.interval, bucketStart(this.interval, startOfDayMs(now, this.timeZone), this.timeZone));
    const to = bucketNumber(this.interval, bucketStart(this.interval, now, this.timeZone)) + 1;
    const first = Math.max(from, to - s.capacity + 1);
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      if (!s.readChannel(this.k)) return undefined;
      const seq = s.header[AH_LAST_SEQ];
      const epoch = s.header[AH_EPOCH];
      let pos = beginCandlesSnapshot(out, 0, this.symbolJson, this.intervalJson, seq, epoch, reason);
      let n = 0;
      let newer = false;
      for (let b = first; b <= to; b++) {
        if (!s.readCandle(this.k, b, this.slot, 0)) continue;
        const at = this.slot[AS_SEQ];
        if (at > seq) {
          newer = true; // published after the header was read
          break;
        }
        if (at <= sinceSeq) continue;
        if (n++ > 0) pos = snapshotSeparator(out, pos);
        pos = writeCandleObject(out, pos, this.slot, 0);
      }
      if (!newer) return { length: endList(out, pos), seq, epoch };
    }
    return undefined;
  }
}

export class FrontTicker {
  readonly channel = 'ticker';
  readonly key: number;
  readonly topic: string;
  epoch = 0;
  lastSeq = 0;
  private readonly slot = new Float64Array(TICKER_SLOT_FIELDS);

  constructor(readonly id: number, readonly name: string, readonly symbolJson: Uint8Array, readonly store: AnalyticsStore) {
    this.key = id * KEYS_PER_SYMBOL + TICKER_KEY_OFFSET;
    this.topic = `ticker:${name}`;
    startAtCommitted(this, store, TICKER_CHANNEL);
  }

  static maxFrameBytes(symbolLength: number): number {
    return maxTickerFrameBytes(symbolLength);
  }

  /** The current `ticker` frame, consistent at the channel's committed seq (`"ticker":null` before the first trade). */
  snapshot(out: Uint8Array, _now: number, reason?: Uint8Array): Snapshot | undefined {
    const s = this.store;
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      if (!s.readChannel(TICKER_CHANNEL)) return undefined;
      const seq = s.header[AH_LAST_SEQ];
      const epoch = s.header[AH_EPOCH];
      if (!s.readTicker(this.slot, 0)) {
        if (seq !== 0) continue;
        // Nothing yet (rare: once per symbol): the frame's head with no values.
        const text = JSON.stringify({ type: 'ticker', symbol: this.name, epoch: 0, seq: 0, ...(reason ? { reason: new TextDecoder().decode(reason) } : {}), ticker: null });
        return { length: new TextEncoder().encodeInto(text, out).written, seq: 0, epoch: 0 };
      }
      if (this.slot[AS_SEQ] > seq) continue;
      return { length: encodeTicker(out, 0, this.symbolJson, this.slot, 0, seq, epoch, reason), seq, epoch };
    }
    return undefined;
  }
}
