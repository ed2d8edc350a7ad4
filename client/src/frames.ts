// The wire protocol as the client sees it: every server→client frame as a discriminated union on `type`, and the channel names.
//
// These mirror the server's encoders (README, "WebSocket protocol"); numbers the server cannot
// compute (a metric needing a missing book side) arrive as null.

export const INTERVALS = ['1s', '1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type Interval = (typeof INTERVALS)[number];

/** What a subscription follows of a symbol; each channel has its own `seq` and `epoch`. */
export type Channel = 'book' | 'trades' | 'ticker' | `candles:${Interval}`;
export const CHANNELS: readonly Channel[] = ['book', 'trades', ...INTERVALS.map((i) => `candles:${i}` as const), 'ticker'];

export const isChannel = (c: unknown): c is Channel => typeof c === 'string' && (CHANNELS as readonly string[]).includes(c);

/** A price level: [price, size]. */
export type Level = [number, number];

/** The metrics every book frame carries, with the levels (best first). */
export interface BookMetrics {
  best_bid: number | null;
  best_ask: number | null;
  mid_price: number | null;
  spread: number | null;
  spread_percentage: number | null;
  bid_volume: number | null;
  ask_volume: number | null;
  total_volume: number | null;
  imbalance: number | null;
  microprice: number | null;
}

export interface BookData extends BookMetrics {
  bid_levels: Level[];
  ask_levels: Level[];
}

/** One bucket of `historical_data`: the book's metrics at the end of the bucket; `seq` is the last update it covers. */
export interface HistoryPoint extends BookMetrics {
  time: string;
  seq: number;
  count: number;
}

export interface HistoricalDataFrame {
  type: 'historical_data';
  symbol: string;
  epoch: number;
  seq: number;
  from: string;
  resolution_ms: number;
  points: number;
  sources?: { memory: number; database: number };
  /** Set when a storage tier failed: what is missing (the points present are exact). */
  incomplete?: string;
  data: HistoryPoint[];
}

interface BookStateFrame {
  symbol: string;
  epoch: number;
  seq: number;
  /** The exchange's book was rebuilt: this frame's book replaces the previous one (the seq still follows). */
  reset?: true;
  timestamp: string;
  data: BookData;
}

export interface OrderbookSnapshotFrame extends BookStateFrame { type: 'orderbook_snapshot' }
export interface OrderbookUpdateFrame extends BookStateFrame { type: 'orderbook_update' }
/** The full book at `seq`, replacing the client's: `resume_unavailable`, `epoch_changed`, `slow_consumer`, `gap`, `front_restarted`, … */
export interface ResyncFrame extends BookStateFrame { type: 'resync'; reason: string }

export type BookFrame = HistoricalDataFrame | OrderbookSnapshotFrame | OrderbookUpdateFrame | ResyncFrame;

export interface Trade {
  seq: number;
  trade_id: string;
  price: number;
  size: number;
  /** The taker's side. */
  side: 'buy' | 'sell';
  timestamp: string;
}

/** The recent trades up to `seq`, oldest first; with a `reason`, the sequence restarts here. */
export interface TradesSnapshotFrame {
  type: 'trades_snapshot';
  symbol: string;
  epoch: number;
  seq: number;
  reason?: string;
  trades: Trade[];
}

export interface TradeFrame extends Trade {
  type: 'trade';
  symbol: string;
  epoch: number;
}

export type TradesFrame = TradesSnapshotFrame | TradeFrame;

/** A candle's whole state: apply it by `time`. */
export interface Candle {
  time: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
  vwap: number;
  closed: boolean;
}

/** Today's candles, oldest first; `reason: "resume"`: only those changed after the resumed seq. */
export interface CandlesSnapshotFrame {
  type: 'candles_snapshot';
  symbol: string;
  interval: Interval;
  epoch: number;
  seq: number;
  reason?: string;
  candles: Candle[];
}

export interface CandleFrame {
  type: 'candle';
  symbol: string;
  interval: Interval;
  epoch: number;
  seq: number;
  candle: Candle;
}

export type CandlesFrame = CandlesSnapshotFrame | CandleFrame;

/** The rolling 24 h over whole minutes, from `window_start` to the last trade. */
export interface Ticker {
  window_start: string;
  open: number;
  high: number;
  low: number;
  last: number;
  volume: number;
  quote_volume: number;
  change: number;
  change_percent: number;
  trades: number;
}

/** `ticker: null` before the symbol's first trade (seq 0). */
export interface TickerFrame {
  type: 'ticker';
  symbol: string;
  epoch: number;
  seq: number;
  reason?: string;
  ticker: Ticker | null;
}

export type SymbolStatus = 'live' | 'stale' | 'resyncing' | 'no_data';

export interface StatusFrame {
  type: 'status';
  symbol: string;
  status: SymbolStatus;
  since: string | null;
  reason?: string;
}

export interface AlertFrame {
  type: 'alert';
  alert_id: string;
  symbol: string;
  condition: 'above' | 'below' | 'crosses_above' | 'crosses_below';
  target_price: number;
  price: number;
  /** The trade that fired it, in the symbol's trades channel. */
  trade: { epoch: number; seq: number; time: string };
  triggered_at: string;
}

export const SERVER_ERROR_CODES = [
  'invalid_json', 'invalid_message', 'unknown_action', 'unknown_symbol', 'payload_too_large', 'too_many_subscriptions',
  'not_subscribed', 'unauthorized', 'forbidden', 'rate_limited', 'internal',
] as const;
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

export interface ErrorFrame {
  type: 'error';
  code: ServerErrorCode;
  message: string;
  symbol?: string;
}

export interface AuthenticatedFrame {
  type: 'authenticated';
  user: string;
  scopes: string[];
  expires_at: string | null;
  symbols?: string[];
}

export interface TokenExpiredFrame { type: 'token_expired'; grace_ms: number }
export interface UnsubscribedFrame { type: 'unsubscribed'; symbol: string; channels?: Channel[] }
export interface PongFrame { type: 'pong'; id?: string | number }

/** The frames that carry a channel's `seq`/`epoch`. */
export type SequencedFrame = BookFrame | TradesFrame | CandlesFrame | TickerFrame;

export type ServerFrame =
  | SequencedFrame | StatusFrame | AlertFrame | ErrorFrame | AuthenticatedFrame | TokenExpiredFrame | UnsubscribedFrame | PongFrame;

/** The channel a sequenced frame belongs to. */
export function channelOf(f: SequencedFrame): Channel {
  switch (f.type) {
    case 'trades_snapshot':
    case 'trade':
      return 'trades';
    case 'candles_snapshot':
    case 'candle':
      return `candles:${f.interval}`;
    case 'ticker':
      return 'ticker';
    default:
      return 'book';
  }
}

const SEQUENCED = new Set<string>([
  'historical_data', 'orderbook_snapshot', 'orderbook_update', 'resync', 'trades_snapshot', 'trade', 'candles_snapshot', 'candle', 'ticker',
]);

/** Whether a frame carries a channel sequence (and the fields the checker reads are numbers). */
export function isSequenced(f: { type: string; symbol?: unknown; seq?: unknown; epoch?: unknown }): f is SequencedFrame {
  return SEQUENCED.has(f.type) && typeof f.symbol === 'string' && typeof f.seq === 'number' && typeof f.epoch === 'number';
}
