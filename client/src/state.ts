// The state a chart needs, per symbol, kept from the frames the sequence checker accepted: the latest book, candles by time, the last N trades, the ticker, the status.

import type {
  BookData, Candle, CandlesFrame, Interval, Level, OrderbookSnapshotFrame, OrderbookUpdateFrame, ResyncFrame, StatusFrame,
  SymbolStatus, Ticker, Trade, TradesFrame,
} from './frames.js';

export interface BookState {
  epoch: number;
  seq: number;
  timestamp: string;
  bids: Level[];
  asks: Level[];
  data: BookData;
}

export interface SymbolState {
  readonly symbol: string;
  /** `live` until the server says otherwise (stale, resyncing, no_data). */
  status: SymbolStatus;
  statusSince: string | null;
  statusReason?: string;
  book?: BookState;
  /** Oldest first, at most `trades` of the options. */
  trades: Trade[];
  /** Per interval, oldest first, one per `time`; at most `candles` of the options (the oldest go first). */
  candles: Partial<Record<Interval, Candle[]>>;
  /** null before the symbol's first trade. */
  ticker?: Ticker | null;
}

export interface StateLimits {
  /** Trades kept per symbol (default 500). */
  trades: number;
  /** Candles kept per symbol and interval (default 5000: a day of 1m candles, over an hour of 1s). */
  candles: number;
}

export const DEFAULT_STATE_LIMITS: StateLimits = { trades: 500, candles: 5000 };

export function emptyState(symbol: string): SymbolState {
  return { symbol, status: 'live', statusSince: null, trades: [], candles: {} };
}

/** Every book frame carries the whole top of the book: each one replaces the state (a reset or resync included). */
export function applyBook(s: SymbolState, f: OrderbookSnapshotFrame | OrderbookUpdateFrame | ResyncFrame): void {
  s.book = { epoch: f.epoch, seq: f.seq, timestamp: f.timestamp, bids: f.data.bid_levels, asks: f.data.ask_levels, data: f.data };
}

/** A snapshot replaces the trades (with a reason too: the sequence restarted there); a trade is appended. */
export function applyTrades(s: SymbolState, f: TradesFrame, limits: StateLimits): void {
  if (f.type === 'trades_snapshot') s.trades = f.trades.slice(-limits.trades);
  else {
    const { type: _type, symbol: _symbol, epoch: _epoch, ...trade } = f;
    s.trades.push(trade);
    if (s.trades.length > limits.trades) s.trades.splice(0, s.trades.length - limits.trades);
  }
}

/**
 * Candles are states: each is applied by `time`. A snapshot replaces the interval's candles,
 * except a resume's (`reason: "resume"`), which holds only the candles changed since and is merged.
 */
export function applyCandles(s: SymbolState, f: CandlesFrame, limits: StateLimits): void {
  let list = s.candles[f.interval];
  if (f.type === 'candles_snapshot' && f.reason !== 'resume') list = s.candles[f.interval] = [];
  list ??= s.candles[f.interval] = [];
  if (f.type === 'candle') upsert(list, f.candle);
  else for (const c of f.candles) upsert(list, c);
  if (list.length > limits.candles) list.splice(0, list.length - limits.candles);
}

export function applyStatus(s: SymbolState, f: StatusFrame): void {
  s.status = f.status;
  s.statusSince = f.since;
  s.statusReason = f.reason;
}

/** Puts `c` at its time in `list` (sorted by time), replacing the candle of that time. Most frames are the newest candle: found at the end at once. */
function upsert(list: Candle[], c: Candle): void {
  const t = Date.parse(c.time);
  let lo = 0;
  let hi = list.length;
  if (hi > 0 && Date.parse(list[hi - 1].time) < t) lo = hi;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Date.parse(list[mid].time) < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo < list.length && Date.parse(list[lo].time) === t) list[lo] = c;
  else list.splice(lo, 0, c);
}
