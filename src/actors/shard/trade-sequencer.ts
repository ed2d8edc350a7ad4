// A shard's trades channels: each trade record becomes the next seq of its symbol's trade sequence.
//
// In the order that makes a crash recoverable, as for books (shard.ts): ring slot, frame for the
// front (encoded once), writer row (the slot's record as it is), header with the input position,
// then the fold into the symbol's candles and ticker. A successor re-applying an uncommitted trade
// takes the same seq (the front and the writer drop the duplicate); a committed one it skips
// (the shard's replay check reads both headers); one committed but not folded it folds again.

import { encodeTrade } from '../../protocol/trade-frames.js';
import {
  FR_EPOCH, FR_FEED_TS, FR_JSON_LENGTH, FR_JSON_OFFSET, FR_KIND, FR_SEQ, FRAME_TRADE, IN_EXCHANGE_TS, IN_FEED_TS,
  IN_TRADE_ID, IN_TRADE_ID_LENGTH, IN_TRADE_PRICE, IN_TRADE_SIDE, IN_TRADE_SIZE, ROW_TRADE, TH_EPOCH, TH_LAST_INPUT_POS,
  TH_LAST_SEQ, TRADE_BUY, TRADE_ID_MAX_BYTES, TRADE_RECORD_BYTES, TRADE_RECORD_FIELDS, TRADE_SELL, T_EPOCH, T_EXCHANGE_TS,
  T_FEED_TS, T_ID, T_ID_LENGTH, T_PRICE, T_SEQ, T_SIDE, T_SIZE,
} from '../../ring/layout.js';
import type { QueueConsumer, QueueProducer } from '../../ring/spsc.js';
import type { OwnedSymbol } from './owned-symbol.js';
import type { AlertEvaluator } from './alert-evaluator.js';

export class TradeSequencer {
  private accepted = 0;
  private rejected = 0;
  private newEpochs = 0;
  private frameQueueFull = 0;

  /** `wakeDue`: the shard's policy for waking the front with a commit (shared with the book frames). */
  constructor(
    private readonly frames: QueueProducer, private readonly rows: QueueProducer | undefined, private readonly wakeDue: () => boolean,
    private readonly alerts?: AlertEvaluator,
  ) {}

  /**
   * Continues the symbol's trade sequence from its trade store. A torn header (the predecessor died
   * inside it) cannot prove the sequence continuous: the next trade starts a new epoch.
   */
  adopt(s: OwnedSymbol): void {
    const t = s.trades;
    if (t.headerTorn()) {
      t.resetHeaderLock();
      return;
    }
    if (!t.readHeader()) return;
    s.tradeEpoch = t.header[TH_EPOCH];
    s.lastTradeSeq = t.header[TH_LAST_SEQ];
    s.lastTradeInputPos = t.header[TH_LAST_INPUT_POS];
  }

  /**
   * A trade: the next seq of the symbol's trades channel. Ring slot, frame (encoded once), writer
   * row (the slot's record as it is), then the header; false when the writer's queue is full.
   * Trades flow while the book resyncs: they are the exchange's, whatever the book's state.
   */
  apply(s: OwnedSymbol, q: QueueConsumer, at: number, position: number): boolean {
    const rq = this.rows;
    const ra = rq ? rq.reserve(TRADE_RECORD_BYTES) : 0;
    if (ra < 0) return false;
    const w = at >> 2;
    const b = at >> 3;
    const idLength = q.u32[w + IN_TRADE_ID_LENGTH];
    const side = q.u32[w + IN_TRADE_SIDE];
    const price = q.f64[b + IN_TRADE_PRICE];
    const size = q.f64[b + IN_TRADE_SIZE];
    if (
      idLength === 0 || idLength > TRADE_ID_MAX_BYTES || IN_TRADE_ID + idLength > q.length ||
      (side !== TRADE_BUY && side !== TRADE_SELL) || !(price > 0 && price < Infinity) || !(size > 0 && size < Infinity)
    ) {
      this.rejected++; // the feed checks trades before queueing them: a damaged record
      return true;
    }
    if (s.tradeEpoch === 0) {
      s.tradeEpoch = Math.max(Date.now(), s.trades.f64[TH_EPOCH] + 1);
      s.lastTradeSeq = 0;
      this.newEpochs++;
    }
    const seq = s.lastTradeSeq + 1;
    const feedTs = q.f64[b + IN_FEED_TS];
    const ts = s.trades;
    const f = ts.f64;
    const slot = ts.slot(seq);
    ts.beginWrite(slot * 2);
    f[slot + T_SEQ] = seq;
    f[slot + T_EPOCH] = s.tradeEpoch;
    f[slot + T_FEED_TS] = feedTs;
    f[slot + T_EXCHANGE_TS] = q.f64[b + IN_EXCHANGE_TS];
    f[slot + T_PRICE] = price;
    f[slot + T_SIZE] = size;
    f[slot + T_SIDE] = side;
    f[slot + T_ID_LENGTH] = idLength;
    const idAt = (slot + T_ID) * 8;
    for (let i = 0; i < idLength; i++) ts.bytes[idAt + i] = q.bytes[at + IN_TRADE_ID + i];
    ts.endWrite(slot * 2);

    const fq = this.frames;
    const fa = fq.reserve(s.maxTradeFrameBytes);
    if (fa >= 0) {
      const fb = fa >> 3;
      fq.f64[fb + FR_SEQ] = seq;
      fq.f64[fb + FR_EPOCH] = s.tradeEpoch;
      fq.f64[fb + FR_FEED_TS] = feedTs;
      const end = encodeTrade(fq.bytes, fa + FR_JSON_OFFSET, s.symbolJson, f, slot);
      const jsonLength = end - (fa + FR_JSON_OFFSET);
      fq.u32[(fa >> 2) + FR_KIND] = FRAME_TRADE;
      fq.u32[(fa >> 2) + FR_JSON_LENGTH] = jsonLength;
      fq.commit(FR_JSON_OFFSET + jsonLength, s.id, this.wakeDue());
    } else {
      this.frameQueueFull++; // the front sees the trade seq jump and resyncs the channel from the ring
    }

    if (rq) {
      const rb = ra >> 3;
      for (let i = 0; i < TRADE_RECORD_FIELDS; i++) rq.f64[rb + i] = f[slot + i];
      rq.commit(TRADE_RECORD_BYTES, s.id + ROW_TRADE, false);
    }

    ts.commitHeader(s.tradeEpoch, seq, feedTs, position);
    s.lastTradeSeq = seq;
    s.lastTradeInputPos = position;
    this.accepted++;
    // After the commit: a shard killed before this folds it again from the trade ring (refold).
    const ex = f[slot + T_EXCHANGE_TS];
    s.analytics?.fold(ex > 0 ? ex : feedTs, s.tradeEpoch, seq, price, size, this.frames);
    this.alerts?.onTrade(s, price, s.tradeEpoch, seq, ex > 0 ? ex : feedTs);
    return true;
  }

  stats(): { accepted: number; rejected: number; newEpochs: number; frameQueueFull: number } {
    return { accepted: this.accepted, rejected: this.rejected, newEpochs: this.newEpochs, frameQueueFull: this.frameQueueFull };
  }
}
