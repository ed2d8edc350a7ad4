// The front actor's view of one symbol's trades channel: where its published trade sequence stands, and frames re-read from its trade ring.

import type { Config } from '../../config.js';
import { TH_LAST_SEQ, TRADE_RECORD_FIELDS } from '../../ring/layout.js';
import { TradeStore } from '../../ring/trade-store.js';
import { KEYS_PER_SYMBOL } from './analytics-streams.js';
import { TYPE_UPDATE } from '../../protocol/encode.js';
import { addSnapshotTrade, beginTradesSnapshot, encodeTrade, endTradesSnapshot, maxTradeFrameBytes, maxTradesSnapshotBytes } from '../../protocol/trade-frames.js';

export class FrontTrades {
  readonly channel = 'trades';
  /** Key of a subscription to this channel within a connection (analytics-streams.ts numbers the channels). */
  readonly key: number;
  readonly id: number;
  readonly name: string;
  /** uWS topic of the symbol's trades: `trades:<symbol>`. */
  readonly topic: string;
  readonly store: TradeStore;
  /** Trades a subscription starts with (TRADES_ON_SUBSCRIBE, at most the ring's capacity). */
  readonly recent: number;
  /** Sequence of the last trade frame published to the topic (0: none yet). */
  epoch = 0;
  lastSeq = 0;
  private readonly rec = new Float64Array(TRADE_RECORD_FIELDS);

  constructor(id: number, name: string, readonly symbolJson: Uint8Array, sab: SharedArrayBuffer, cfg: Config) {
    this.id = id;
    this.key = id * KEYS_PER_SYMBOL + 1;
    this.name = name;
    this.topic = `trades:${name}`;
    this.store = new TradeStore(sab);
    this.recent = Math.min(cfg.tradesOnSubscribe, this.store.capacity);
  }

  /** Bytes the largest frame of this channel needs (a trades snapshot). */
  static maxFrameBytes(cfg: Config, symbolLength: number): number {
    return Math.max(maxTradeFrameBytes(symbolLength), maxTradesSnapshotBytes(symbolLength, Math.min(cfg.tradesOnSubscribe, cfg.tradeCapacity)));
  }

  /**
   * TYPE_UPDATE: the `trade` frame of trade `seq`. Any other type (a subscription's start, a
   * resync): a `trades_snapshot` at `seq` holding the recent trades up to it still in the ring,
   * with `reason` for a resync; at seq 0 (no trade yet) an empty one. -1 when trade `seq` itself
   * is no longer (or not yet) in the ring.
   */
  encode(out: Uint8Array, type: Uint8Array, seq: number, epoch: number, reason?: Uint8Array): number {
    const rec = this.rec;
    if (type === TYPE_UPDATE) {
      if (seq <= 0 || !this.store.readTrade(seq, epoch, rec, 0)) return -1;
      return encodeTrade(out, 0, this.symbolJson, rec, 0);
    }
    if (seq > 0 && !this.store.readTrade(seq, epoch, rec, 0)) return -1;
    let pos = beginTradesSnapshot(out, 0, this.symbolJson, seq, epoch, reason);
    // Oldest first: skip the ones overwritten meanwhile (the newest ones are what matters).
    let first = true;
    for (let s = Math.max(1, seq - this.recent + 1); s <= seq; s++) {
      if (!this.store.readTrade(s, epoch, rec, 0)) continue;
      pos = addSnapshotTrade(out, pos, rec, 0, first);
      first = false;
    }
    return endTradesSnapshot(out, pos);
  }

  /** The shard's committed trade seq (may be ahead of what the front has published). */
  committedSeq(): number {
    return this.store.readHeader() ? this.store.header[TH_LAST_SEQ] : 0;
  }
}
