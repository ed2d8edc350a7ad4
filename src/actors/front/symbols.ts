// The front actor's view of one symbol: where its published sequence stands, and frames re-read from its store.

import type { Config } from '../../config.js';
import { H_LAST_FEED_TS, H_LAST_SEQ, H_RESYNCING_SINCE } from '../../ring/layout.js';
import { SymbolStore } from '../../ring/symbol-store.js';
import { encodeRecord, maxRecordFrameBytes, symbolJsonBytes } from '../../protocol/encode.js';
import type { SymbolRegistration } from '../registry.js';
import { FrontTrades } from './trades.js';
import { FrontCandles, FrontTicker, KEYS_PER_SYMBOL } from './analytics-streams.js';
import { AnalyticsStore } from '../../ring/analytics-store.js';
import { INTERVALS } from '../../analytics/intervals.js';

/** What a subscription follows: a symbol's book, its trades, its candles of one interval, or its ticker. */
export type Stream = FrontSymbol | FrontTrades | FrontCandles | FrontTicker;

export class FrontSymbol {
  readonly channel = 'book';
  /** Key of a subscription to this symbol's book within a connection (its other channels follow: analytics-streams.ts). */
  readonly key: number;
  readonly id: number;
  readonly name: string;
  readonly shard: number;
  /** uWS topic: one per symbol, so publish fans a frame out to exactly its subscribers. */
  readonly topic: string;
  readonly store: SymbolStore;
  readonly symbolJson: Uint8Array;
  readonly maxFrameBytes: number;
  /** Sequence of the last frame published to the topic (0: none yet). */
  epoch = 0;
  lastSeq = 0;
  /**
   * `stale`: the feed went quiet (the front decides); `resyncing`: the shard relayed the feed's
   * word that the book is being rebuilt. Either ends at the next published update, which is
   * preceded on the topic by a `live` status.
   */
  status: 'live' | 'stale' | 'resyncing' = 'live';
  /** When the current status began (a stale one: the last update, or without one the registration). */
  statusSince = 0;
  /** The frame that announced the current status: a subscriber attaching meanwhile gets it after its snapshot. */
  statusFrame?: Uint8Array;
  /** When the store was created: its history ring holds nothing older. */
  readonly registeredAt: number;
  private readonly rec: Float64Array;
  /** The symbol's trades channel, its candle channels (by INTERVALS index) and its ticker channel. */
  readonly trades: FrontTrades;
  readonly candles: FrontCandles[];
  readonly ticker: FrontTicker;

  constructor(r: SymbolRegistration, private readonly cfg: Config) {
    this.id = r.id;
    this.key = r.id * KEYS_PER_SYMBOL;
    this.name = r.name;
    this.shard = r.shard;
    this.registeredAt = r.registeredAtMs;
    this.topic = `book:${r.name}`;
    this.store = new SymbolStore(r.store, { depth: cfg.depth, rawCapacity: cfg.rawCapacity, historyCapacity: cfg.historyCapacity });
    this.symbolJson = symbolJsonBytes(r.name);
    this.maxFrameBytes = maxRecordFrameBytes(cfg.depth, this.symbolJson.length);
    this.rec = new Float64Array(this.store.rawFields);
    this.trades = new FrontTrades(r.id, r.name, this.symbolJson, r.trades, cfg);
    const analytics = new AnalyticsStore(r.analytics);
    this.candles = INTERVALS.map((_, k) => new FrontCandles(r.id, r.name, this.symbolJson, analytics, k, cfg.marketTimeZone));
    this.ticker = new FrontTicker(r.id, r.name, this.symbolJson, analytics);
    // A store seeded with its stored sequence (after a restart) counts as published up to there:
    // the first subscriber gets the stored book as its snapshot, the next frame is seq + 1. (Not
    // read from the header: for a symbol registered while running, frames the shard already
    // committed may still be queued for us.)
    if (r.seeded) {
      this.epoch = r.seeded.epoch;
      this.lastSeq = r.seeded.seq;
    }
    // A front restarted while an exchange feed rebuilds the book: new subscribers are told, as before.
    if (this.store.readHeader() && this.store.header[H_RESYNCING_SINCE] > 0) {
      const since = this.store.header[H_RESYNCING_SINCE];
      const frame = JSON.stringify({ type: 'status', symbol: this.name, status: 'resyncing', since: new Date(since).toISOString(), reason: this.store.resyncReason() });
      this.setStatus('resyncing', since, Buffer.from(frame));
    }
  }

  get stale(): boolean {
    return this.status === 'stale';
  }

  /** Enters a status (with the frame announcing it), or `live` (no frame). */
  setStatus(status: FrontSymbol['status'], since: number, frame?: Uint8Array): void {
    this.status = status;
    this.statusSince = since;
    this.statusFrame = frame;
  }

  /**
   * Encodes the stored update `seq` of `epoch` as a frame of `type` into `out`;
   * returns its length, or -1 when that update is no longer (or not yet) in the raw ring.
   */
  encode(out: Uint8Array, type: Uint8Array, seq: number, epoch: number, reason?: Uint8Array): number {
    if (seq <= 0 || !this.store.readRaw(seq, epoch, this.rec, 0)) return -1;
    return encodeRecord(out, 0, type, this.symbolJson, this.rec, 0, this.cfg.depth, reason);
  }

  /** The shard's committed state (may be ahead of what the front has published). */
  committed(): { lastSeq: number; lastFeedTs: number } | undefined {
    if (!this.store.readHeader()) return undefined;
    return { lastSeq: this.store.header[H_LAST_SEQ], lastFeedTs: this.store.header[H_LAST_FEED_TS] };
  }
}
