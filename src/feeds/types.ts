// What every feed produces and where it hands it: one reusable BookUpdate, one sink.

export const KIND_SNAPSHOT = 0; // the levels replace the book side(s) entirely
export const KIND_DELTA = 1; // each level upserts (size > 0) or deletes (size 0) a price level

/**
 * A book update as a feed hands it over. Feeds fill one instance and reuse it for every
 * update (no per-update allocation); a sink must copy what it keeps before returning.
 * Bids are best (highest) first, asks best (lowest) first, for snapshots; deltas are unordered.
 */
export interface BookUpdate {
  symbol: string;
  kind: number; // KIND_SNAPSHOT | KIND_DELTA
  exchangeTs: number; // ms since epoch from the source; 0 when unknown
  bidCount: number;
  askCount: number;
  bidPx: Float64Array; // capacity: the feed's maximum levels per side
  bidSz: Float64Array;
  askPx: Float64Array;
  askSz: Float64Array;
}

export function createBookUpdate(maxLevels: number): BookUpdate {
  return {
    symbol: '', kind: KIND_SNAPSHOT, exchangeTs: 0, bidCount: 0, askCount: 0,
    bidPx: new Float64Array(maxLevels), bidSz: new Float64Array(maxLevels),
    askPx: new Float64Array(maxLevels), askSz: new Float64Array(maxLevels),
  };
}

/**
 * One trade as a feed hands it over; like BookUpdate, one instance is filled and reused.
 * `tradeId`: the exchange's own id, unique per symbol, 1-TRADE_ID_MAX_BYTES characters of
 * [A-Za-z0-9._:-] (layout.ts); `side`: the taker's.
 */
export interface TradeUpdate {
  symbol: string;
  tradeId: string;
  price: number;
  size: number;
  side: 'buy' | 'sell';
  exchangeTs: number; // ms since epoch; 0 when unknown
}

export const TRADE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,40}$/;

export function createTradeUpdate(): TradeUpdate {
  return { symbol: '', tradeId: '', price: 0, size: 0, side: 'buy', exchangeTs: 0 };
}

/** Where a feed delivers. `offer` returns false when the update could not be queued (full). */
export interface FeedSink {
  offer(update: BookUpdate): boolean;
  /** A trade; false when it could not be queued (full). A feed without trades never calls it. */
  trade?(t: TradeUpdate): boolean;
  /** A line or message the feed could not parse: counted and reported, never fatal. */
  malformed(reason: string): void;
}

/** A running feed. `stop` resolves once no further `offer` calls will be made. */
export interface Feed {
  readonly name: string;
  start(sink: FeedSink): void;
  stop(): Promise<void>;
  /** The feed's own counters, shown in /stats beside the router's (e.g. a replay's lines read). */
  stats?(): Record<string, number>;
}
