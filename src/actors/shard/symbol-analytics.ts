// One symbol's candles (every interval) and 24 h ticker in its shard: folded trade by trade, published as frames encoded once.
//
// Each channel (candles of one interval, the ticker) has its own seq and epoch. A publish writes the
// state into the symbol's analytics store (the slot then holds exactly what the frame carried),
// queues the frame, and commits the channel header with the trade folded last. A candle that
// closes, or that a late trade revises, is published at once; the open candle and the ticker at
// most once per CANDLE_PUBLISH_MS while they change. A full frame queue skips the frame (the
// front sees the seq jump and sends that channel's subscribers a snapshot).
//
// A successor shard restores the builders from the published slots, then folds again, from the
// trade ring, the trades each channel had not published yet (the header says up to which).

import { ADD_CLOSED, ADD_DROPPED, ADD_LATE, type Candle, CandleBuilder, readCandle, writeCandle } from '../../analytics/candle-builder.js';
import { INTERVALS, bucketStart } from '../../analytics/intervals.js';
import { RollingTicker, type TickerRecord, writeTicker } from '../../analytics/rolling-ticker.js';
import { encodeCandle, encodeTicker, intervalBytes, maxCandleFrameBytes, maxTickerFrameBytes } from '../../protocol/candle-frames.js';
import { AnalyticsStore, bucketNumber } from '../../ring/analytics-store.js';
import {
  AH_EPOCH, AH_FOLDED_EPOCH, AH_FOLDED_SEQ, AH_LAST_SEQ, AH_SEEDED_UNTIL, ANALYTICS_CHANNELS, AS_EPOCH, AS_RECORD, AS_SEQ, CANDLE_SLOT_FIELDS, FR_EPOCH, FR_FEED_TS,
  FR_JSON_LENGTH, FR_JSON_OFFSET, FR_KIND, FR_SEQ, FRAME_ANALYTICS, TICKER_CHANNEL, TRADE_RECORD_FIELDS,
  T_EPOCH, T_EXCHANGE_TS, T_FEED_TS, T_PRICE, T_SEQ, T_SIZE,
} from '../../ring/layout.js';
import type { QueueProducer } from '../../ring/spsc.js';
import type { TradeStore } from '../../ring/trade-store.js';

/** Closed candles each builder holds for late trades (beyond, a late trade is counted and left out). */
const KEEP = 64;

export interface AnalyticsOptions {
  timeZone: string;
  publishMs: number;
  graceMs: number;
}

/** Shard-wide counters of the analytics channels. */
export interface AnalyticsCounters {
  published: number;
  frameQueueFull: number;
  lateTrades: number;
  droppedTrades: number;
  refolded: number;
  /** Trades at or before the seeded candles' end (repeated by an exchange after a restart): left out. */
  seededSkipped: number;
}

export class SymbolAnalytics {
  private readonly builders: CandleBuilder[];
  private readonly ticker = new RollingTicker();
  private readonly tickerRecord = {} as TickerRecord;
  private readonly epochs = new Float64Array(ANALYTICS_CHANNELS);
  private readonly seqs = new Float64Array(ANALYTICS_CHANNELS);
  /** Per channel: the trade (epoch, seq) folded last; a trade at or below it was folded already. */
  private readonly foldedEpoch = new Float64Array(ANALYTICS_CHANNELS);
  private readonly foldedSeq = new Float64Array(ANALYTICS_CHANNELS);
  /**
   * Per channel: every trade up to this seq (of foldedEpoch) is in a published slot; the header
   * keeps it, so a successor folds again only what follows (the open candle's unpublished trades).
   */
  private readonly cleanSeq = new Float64Array(ANALYTICS_CHANNELS);
  private readonly dirty = new Uint8Array(ANALYTICS_CHANNELS);
  private readonly publishedAt = new Float64Array(ANALYTICS_CHANNELS);
  private readonly intervals = INTERVALS.map(intervalBytes);
  private readonly maxCandleBytes: number;
  /** The stored trades the seeded candles were read from end here: a trade at or before it is in them already. */
  private seededUntil = 0;
  private readonly maxTickerBytes: number;

  constructor(
    private readonly id: number,
    readonly store: AnalyticsStore,
    private readonly symbolJson: Uint8Array,
    private readonly o: AnalyticsOptions,
    private readonly counters: AnalyticsCounters,
  ) {
    this.builders = INTERVALS.map((interval) => new CandleBuilder({ interval, timeZone: o.timeZone, keep: KEEP, graceMs: o.graceMs }));
    this.maxCandleBytes = FR_JSON_OFFSET + maxCandleFrameBytes(symbolJson.length);
    this.maxTickerBytes = FR_JSON_OFFSET + maxTickerFrameBytes(symbolJson.length);
    store.repairLocks();
    this.restore(Date.now());
  }

  /** Continues each channel's sequence and state from the store (published or seeded candles). */
  private restore(now: number): void {
    const s = this.store;
    const rec = new Float64Array(CANDLE_SLOT_FIELDS);
    for (let k = 0; k < ANALYTICS_CHANNELS; k++) {
      if (!s.readChannel(k)) continue;
      this.epochs[k] = s.header[AH_EPOCH];
      this.seqs[k] = s.header[AH_LAST_SEQ];
      this.foldedEpoch[k] = s.header[AH_FOLDED_EPOCH];
      this.foldedSeq[k] = this.cleanSeq[k] = s.header[AH_FOLDED_SEQ];
      this.seededUntil = Math.max(this.seededUntil, s.header[AH_SEEDED_UNTIL]);
    }
    INTERVALS.forEach((interval, k) => {
      const last = bucketNumber(interval, bucketStart(interval, now, this.o.timeZone));
      const held: Candle[] = [];
      for (let n = last - KEEP; n <= last + 1; n++) {
        if (s.readCandle(k, n, rec, 0)) held.push(readCandle(rec, AS_RECORD));
      }
      this.builders[k].restore(held);
      // The ticker's minutes are the 1m candles: the last 24 h of them rebuild its window.
      if (interval === '1m') {
        for (let n = last - 1440; n <= last; n++) if (s.readCandle(k, n, rec, 0)) this.ticker.addMinute(readCandle(rec, AS_RECORD));
        this.ticker.advance(now);
        // Its state is now the 1m channel's: the same trades are the ones to fold again.
        this.foldedEpoch[TICKER_CHANNEL] = this.foldedEpoch[k];
        this.foldedSeq[TICKER_CHANNEL] = this.cleanSeq[TICKER_CHANNEL] = this.foldedSeq[k];
      }
    });
  }

  /**
   * Folds again the trades of the trade ring that a channel had not published when its previous
   * owner died (same trade epoch, seq above the channel's folded seq).
   */
  refold(trades: TradeStore, frames: QueueProducer, tradeEpoch: number, lastTradeSeq: number): void {
    let from = lastTradeSeq + 1;
    for (let k = 0; k < ANALYTICS_CHANNELS; k++) {
      if (this.foldedEpoch[k] === tradeEpoch) from = Math.min(from, this.foldedSeq[k] + 1);
    }
    from = Math.max(from, lastTradeSeq - trades.capacity + 1, 1);
    const rec = new Float64Array(TRADE_RECORD_FIELDS);
    for (let seq = from; seq <= lastTradeSeq; seq++) {
      if (!trades.readTrade(seq, tradeEpoch, rec, 0)) continue;
      const ex = rec[T_EXCHANGE_TS];
      this.fold(ex > 0 ? ex : rec[T_FEED_TS], rec[T_EPOCH], rec[T_SEQ], rec[T_PRICE], rec[T_SIZE], frames);
      this.counters.refolded++;
    }
  }

  /** Folds one trade (exchange time, else feed time) into every interval's candle and the ticker. */
  fold(timeMs: number, tradeEpoch: number, seq: number, price: number, size: number, frames: QueueProducer): void {
    if (timeMs <= this.seededUntil) {
      // An exchange repeating, after a restart, trades the seeded candles hold already (the table
      // keeps each trade once; the candles must too).
      this.counters.seededSkipped++;
      return;
    }
    for (let k = 0; k < INTERVALS.length; k++) {
      if (tradeEpoch === this.foldedEpoch[k] && seq <= this.foldedSeq[k]) continue; // folded before a restart of the shard
      const b = this.builders[k];
      const flags = b.add(timeMs, seq, price, size);
      const before = this.foldedSeq[k];
      if (this.foldedEpoch[k] !== tradeEpoch) this.cleanSeq[k] = seq - 1; // a new trade epoch: nothing of it is published
      this.foldedEpoch[k] = tradeEpoch;
      this.foldedSeq[k] = seq;
      if ((flags & ADD_DROPPED) !== 0) {
        this.counters.droppedTrades++;
        if (this.dirty[k] === 0) this.cleanSeq[k] = seq;
        continue;
      }
      if ((flags & ADD_CLOSED) !== 0) {
        // The closed candle holds every trade before this one; the new open candle holds this one.
        this.cleanSeq[k] = before;
        this.publishCandle(k, b.closedCandle!, frames);
      }
      if ((flags & ADD_LATE) !== 0) {
        this.counters.lateTrades++;
        if (this.dirty[k] === 0) this.cleanSeq[k] = seq;
        this.publishCandle(k, b.changed!, frames); // a revised candle of an earlier bucket: at once
      } else this.dirty[k] = 1;
    }
    if (!(tradeEpoch === this.foldedEpoch[TICKER_CHANNEL] && seq <= this.foldedSeq[TICKER_CHANNEL])) {
      if (this.ticker.add(timeMs, seq, price, size)) this.dirty[TICKER_CHANNEL] = 1;
      this.foldedEpoch[TICKER_CHANNEL] = tradeEpoch;
      this.foldedSeq[TICKER_CHANNEL] = seq;
    }
  }

  /** Closes candles whose bucket ended and publishes what changed and is due. */
  due(now: number, frames: QueueProducer): void {
    for (let k = 0; k < INTERVALS.length; k++) {
      const b = this.builders[k];
      const closed = b.closeDue(now);
      if (closed !== null) {
        this.cleanSeq[k] = this.foldedSeq[k];
        this.dirty[k] = 0;
        this.publishCandle(k, closed, frames);
      } else if (this.dirty[k] === 1 && now - this.publishedAt[k] >= this.o.publishMs && b.open !== null) {
        this.cleanSeq[k] = this.foldedSeq[k];
        this.dirty[k] = 0;
        this.publishCandle(k, b.open, frames);
      }
    }
    if (this.ticker.advance(now)) this.dirty[TICKER_CHANNEL] = 1; // minutes left the window
    if (this.dirty[TICKER_CHANNEL] === 1 && now - this.publishedAt[TICKER_CHANNEL] >= this.o.publishMs) {
      this.cleanSeq[TICKER_CHANNEL] = this.foldedSeq[TICKER_CHANNEL];
      this.dirty[TICKER_CHANNEL] = 0;
      this.publishTicker(now, frames);
    }
  }

  private nextSeq(k: number): number {
    if (this.epochs[k] === 0) {
      this.epochs[k] = Math.max(Date.now(), this.store.f64[this.store.channelBase(k) + AH_EPOCH] + 1);
      this.seqs[k] = 0;
    }
    return (this.seqs[k] += 1);
  }

  private publishCandle(k: number, c: Candle, frames: QueueProducer): void {
    const seq = this.nextSeq(k);
    const epoch = this.epochs[k];
    const s = this.store;
    const f = s.f64;
    const slot = s.candleSlot(k, bucketNumber(INTERVALS[k], c.start));
    s.beginWrite(slot * 2);
    f[slot + AS_SEQ] = seq;
    f[slot + AS_EPOCH] = epoch;
    writeCandle(f, slot + AS_RECORD, c);
    s.endWrite(slot * 2);
    const at = frames.reserve(this.maxCandleBytes);
    if (at >= 0) {
      const end = encodeCandle(frames.bytes, at + FR_JSON_OFFSET, this.symbolJson, this.intervals[k], f, slot);
      this.commitFrame(frames, at, k, seq, epoch, end);
    } else this.counters.frameQueueFull++;
    s.commitChannel(k, epoch, seq, this.foldedEpoch[k], this.cleanSeq[k]);
    this.publishedAt[k] = Date.now();
  }

  private publishTicker(now: number, frames: QueueProducer): void {
    const k = TICKER_CHANNEL;
    const seq = this.nextSeq(k);
    const epoch = this.epochs[k];
    const s = this.store;
    const f = s.f64;
    const slot = s.tickerSlot();
    const t = this.ticker.read(this.tickerRecord);
    s.beginWrite(slot * 2);
    f[slot + AS_SEQ] = seq;
    f[slot + AS_EPOCH] = epoch;
    writeTicker(f, slot + AS_RECORD, t);
    s.endWrite(slot * 2);
    const at = frames.reserve(this.maxTickerBytes);
    if (at >= 0) {
      const end = encodeTicker(frames.bytes, at + FR_JSON_OFFSET, this.symbolJson, f, slot, seq, epoch);
      this.commitFrame(frames, at, k, seq, epoch, end);
    } else this.counters.frameQueueFull++;
    s.commitChannel(k, epoch, seq, this.foldedEpoch[k], this.cleanSeq[k]);
    this.publishedAt[k] = now;
  }

  private commitFrame(frames: QueueProducer, at: number, k: number, seq: number, epoch: number, end: number): void {
    const fb = at >> 3;
    frames.f64[fb + FR_SEQ] = seq;
    frames.f64[fb + FR_EPOCH] = epoch;
    frames.f64[fb + FR_FEED_TS] = Date.now();
    const jsonLength = end - (at + FR_JSON_OFFSET);
    frames.u32[(at >> 2) + FR_KIND] = FRAME_ANALYTICS + k;
    frames.u32[(at >> 2) + FR_JSON_LENGTH] = jsonLength;
    frames.commit(FR_JSON_OFFSET + jsonLength, this.id, false); // woken at the end of the shard's batch
    this.counters.published++;
  }
}
