// Binance spot wire formats: stream and REST names, and hand checks of the messages we accept (numbers arrive as strings).
//
// The checks validate JSON.parse's objects in place and never copy them: a depth event is
// checked whole before any of it is applied, so a bad level can never leave half an event in a
// book. Shapes follow Binance's spot WebSocket Streams and REST documentation:
//
//   combined stream   {"stream":"btcusdt@depth@100ms","data":<event>}
//   diff depth        {"e":"depthUpdate","E":ms,"s":"BTCUSDT","U":first,"u":last,"b":[["px","qty"],…],"a":[…]}
//   trade             {"e":"trade","E":ms,"s":"BTCUSDT","t":id,"p":"px","q":"qty","T":ms,"m":buyerIsMaker,…}
//   GET /api/v3/depth {"lastUpdateId":n,"bids":[["px","qty"],…],"asks":[…]}
//   server shutdown   {"e":"serverShutdown","E":ms}, also wrapped as {"event":{…}} or {"data":{…}}

/** A price level as sent: price and quantity as decimal strings. */
export type Level = [string, string, ...unknown[]];

export interface DepthEvent {
  e: 'depthUpdate';
  E: number;
  s: string;
  U: number;
  u: number;
  b: Level[];
  a: Level[];
}

export interface TradeEvent {
  e: 'trade';
  E: number;
  s: string;
  t: number;
  p: string;
  q: string;
  T: number;
  m: boolean;
}

export interface DepthSnapshot {
  lastUpdateId: number;
  bids: Level[];
  asks: Level[];
}

export interface Envelope {
  stream: string;
  data: unknown;
}

/** Binance's documented ceiling of streams on one connection. */
export const MAX_STREAMS_PER_CONNECTION = 1024;
/** GET /api/v3/depth accepts limit 1..5000. */
export const MAX_SNAPSHOT_LIMIT = 5000;

export const depthStream = (symbol: string, speed: '100ms' | '1000ms'): string =>
  speed === '100ms' ? `${symbol.toLowerCase()}@depth@100ms` : `${symbol.toLowerCase()}@depth`;
export const tradeStream = (symbol: string): string => `${symbol.toLowerCase()}@trade`;

/** `${wsUrl}/stream?streams=a/b/c`; a trailing slash on the base is tolerated. */
export const combinedStreamUrl = (wsUrl: string, streams: readonly string[]): string =>
  `${wsUrl.replace(/\/+$/, '')}/stream?streams=${streams.join('/')}`;

export const snapshotUrl = (restUrl: string, symbol: string, limit: number): string =>
  `${restUrl.replace(/\/+$/, '')}/api/v3/depth?symbol=${encodeURIComponent(symbol.toUpperCase())}&limit=${limit}`;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
/** A decimal string that is a finite number >= 0 (`+""` is 0, so empty strings are refused first). */
/** A price or quantity as Binance sends it (a decimal string) → its value; NaN when it is not one. Converts once. */
function amountOf(x: unknown): number {
  if (typeof x !== 'string' || x.length === 0) return NaN;
  const v = +x;
  return v >= 0 && v !== Infinity ? v : NaN;
}

/** null when every level is [price > 0, quantity >= 0], else what is wrong with the first bad one. */
function checkLevels(levels: unknown, side: string): string | null {
  if (!Array.isArray(levels)) return `${side} is not an array`;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i] as unknown;
    // Validated where it is cheapest: one conversion per field (this runs for every level of every diff).
    if (!Array.isArray(l) || l.length < 2 || !(amountOf(l[0]) > 0) || !(amountOf(l[1]) >= 0)) {
      return `${side}[${i}] is not ["price","quantity"]: ${JSON.stringify(l)?.slice(0, 80)}`;
    }
  }
  return null;
}

/** The combined-stream envelope, or null. */
export function asEnvelope(msg: unknown): Envelope | null {
  return isObject(msg) && typeof msg.stream === 'string' && isObject(msg.data) ? (msg as unknown as Envelope) : null;
}

/** null when `d` is a usable depthUpdate, else what is wrong with it. */
export function checkDepthEvent(d: unknown): string | null {
  if (!isObject(d) || d.e !== 'depthUpdate') return 'not a depthUpdate';
  if (typeof d.s !== 'string') return 'no symbol (s)';
  if (!isId(d.U) || !isId(d.u) || d.U > d.u) return `bad update ids U=${String(d.U)} u=${String(d.u)}`;
  if (!isTime(d.E)) return 'bad event time (E)';
  return checkLevels(d.b, 'b') ?? checkLevels(d.a, 'a');
}

/** null when `d` is a usable trade, else what is wrong with it. */
export function checkTradeEvent(d: unknown): string | null {
  if (!isObject(d) || d.e !== 'trade') return 'not a trade';
  if (typeof d.s !== 'string') return 'no symbol (s)';
  if (!isId(d.t)) return `bad trade id (t): ${String(d.t)}`;
  if (!(amountOf(d.p) > 0)) return `bad price (p): ${String(d.p)}`;
  if (!(amountOf(d.q) > 0)) return `bad quantity (q): ${String(d.q)}`;
  if (!isTime(d.T)) return 'bad trade time (T)';
  if (typeof d.m !== 'boolean') return 'bad maker flag (m)';
  return null;
}

/** null when `d` is a usable GET /api/v3/depth answer, else what is wrong with it. */
export function checkSnapshot(d: unknown): string | null {
  if (!isObject(d)) return 'not an object';
  if (!isId(d.lastUpdateId)) return `bad lastUpdateId: ${String(d.lastUpdateId)}`;
  return checkLevels(d.bids, 'bids') ?? checkLevels(d.asks, 'asks');
}

/** Binance announces a restart of the stream server this way; the connection will be closed soon. */
export function isServerShutdown(msg: unknown): boolean {
  if (!isObject(msg)) return false;
  if (msg.e === 'serverShutdown') return true;
  const inner = isObject(msg.event) ? msg.event : isObject(msg.data) ? msg.data : null;
  return inner !== null && inner.e === 'serverShutdown';
}

/** The answer to a SUBSCRIBE/UNSUBSCRIBE request: `{"result":null,"id":1}`; carries no data. */
export function isRequestReply(msg: unknown): boolean {
  return isObject(msg) && 'id' in msg && 'result' in msg && !('stream' in msg);
}

/**
 * Seconds to wait from a Retry-After header (Binance sends whole seconds with 429 and 418);
 * an HTTP date is accepted too. null when absent or unreadable.
 */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}
