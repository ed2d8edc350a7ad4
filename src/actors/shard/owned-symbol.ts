// What a shard keeps of each symbol it owns: its book, where its sequences stand, its shared stores.

import { Book } from '../../book/book.js';
import { maxRecordFrameBytes, maxStatusFrameBytes, symbolJsonBytes } from '../../protocol/encode.js';
import { maxTradeFrameBytes } from '../../protocol/trade-frames.js';
import { FR_JSON_OFFSET, MAX_REASON_BYTES } from '../../ring/layout.js';
import type { SymbolStore } from '../../ring/symbol-store.js';
import type { TradeStore } from '../../ring/trade-store.js';
import type { SymbolAnalytics } from './symbol-analytics.js';
import type { AlertBook } from '../../analytics/alert-book.js';

/** One owned symbol: its book, where its sequence stands, and its shared store. */
export class OwnedSymbol {
  book: Book;
  epoch = 0;
  lastSeq = 0;
  lastBucket = -1;
  lastInputPos = -1;
  /** The book was lost (a predecessor died mid-write) or is resyncing: deltas wait for a snapshot. */
  needsSnapshot = false;
  /** A resyncing record came and no book since. */
  resyncing = false;
  /**
   * The next accepted book must say `reset`: a resync began, or a reset book was refused (crossed,
   * empty): whichever book ends the resync carries the flag, not only the one the feed marked.
   */
  resetOwed = false;
  /** A resyncing status the full frame queue refused (0: none owed): since when, and why. */
  statusOwedSince = 0;
  readonly statusReason = new Uint8Array(MAX_REASON_BYTES);
  statusReasonLength = 0;
  /** The trades channel: its own sequence (0: no trade yet in this epoch). */
  tradeEpoch = 0;
  lastTradeSeq = 0;
  lastTradeInputPos = -1;
  readonly symbolJson: Uint8Array;
  readonly maxFrameBytes: number;
  readonly maxStatusBytes: number;
  readonly maxTradeFrameBytes: number;
  /** Candles and the 24 h ticker, folded from the trades (set at adoption; absent with ANALYTICS=false). */
  analytics?: SymbolAnalytics;
  /** Active price alerts, from the first one the cache actor sends (absent with ANALYTICS=false). */
  alerts?: AlertBook;

  /** `input`: the index of the one input queue this symbol's records come through. */
  constructor(
    readonly id: number, readonly name: string, readonly store: SymbolStore, readonly trades: TradeStore,
    depth: number, readonly input: number,
  ) {
    this.book = new Book(depth);
    this.symbolJson = symbolJsonBytes(name);
    this.maxFrameBytes = FR_JSON_OFFSET + maxRecordFrameBytes(depth, this.symbolJson.length);
    this.maxStatusBytes = FR_JSON_OFFSET + maxStatusFrameBytes(this.symbolJson.length);
    this.maxTradeFrameBytes = FR_JSON_OFFSET + maxTradeFrameBytes(this.symbolJson.length);
  }
}
