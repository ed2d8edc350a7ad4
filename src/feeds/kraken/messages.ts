// Kraken spot WebSocket v2 wire format: the requests the connector sends, and every message it reads parsed into a discriminated union (never a throw).
//
// Shapes (docs.kraken.com, Spot WebSocket v2): requests are {"method","params","req_id"}; acks
// {"method":"subscribe"|"unsubscribe","success","result":{channel,symbol,…},"error"?,"req_id"?},
// one per symbol; data {"channel","type":"snapshot"|"update","data":[…]}; {"channel":"heartbeat"}
// about once a second while subscribed; {"channel":"status"} on connect; {"method":"pong"}.

/** Kraken's public v2 endpoint (configure WS URL to point elsewhere, e.g. a local test server). */
export const KRAKEN_WS_URL = 'wss://ws.kraken.com/v2';

/** The depths Kraken accepts for a book subscription. */
export const BOOK_DEPTHS = [10, 25, 100, 500, 1000] as const;

/** The smallest Kraken depth that holds `depth` levels and the 10 the checksum covers. */
export function subscriptionDepth(depth: number): number {
  if (!Number.isInteger(depth) || depth < 1 || depth > BOOK_DEPTHS[BOOK_DEPTHS.length - 1]) {
    throw new RangeError(`depth: Kraken books go to ${BOOK_DEPTHS[BOOK_DEPTHS.length - 1]} levels, got ${depth}`);
  }
  return BOOK_DEPTHS.find((d) => d >= depth)!;
}

/** A configured symbol (`BTC/USD` or `BTC-USD`) as Kraken v2 names it (`BTC/USD`); undefined when it is neither. */
export function krakenPair(configured: string): string | undefined {
  const m = /^([A-Za-z0-9.]+)[/-]([A-Za-z0-9.]+)$/.exec(configured.trim());
  return m ? `${m[1].toUpperCase()}/${m[2].toUpperCase()}` : undefined;
}

/** How tickplant serves a Kraken pair: `BTC/USD` → `KRAKEN.BTC-USD`. */
export const servedName = (pair: string): string => `KRAKEN.${pair.replace('/', '-')}`;

// ---- requests ----

export const subscribeInstrument = (reqId: number): string =>
  JSON.stringify({ method: 'subscribe', params: { channel: 'instrument', snapshot: true }, req_id: reqId });

export const subscribeBook = (pairs: readonly string[], depth: number, reqId: number): string =>
  JSON.stringify({ method: 'subscribe', params: { channel: 'book', symbol: pairs, depth, snapshot: true }, req_id: reqId });

export const unsubscribeBook = (pairs: readonly string[], depth: number, reqId: number): string =>
  JSON.stringify({ method: 'unsubscribe', params: { channel: 'book', symbol: pairs, depth }, req_id: reqId });

/** With a snapshot: after a reconnect the last 50 trades cover what was missed (repeats are dropped by id). */
export const subscribeTrade = (pairs: readonly string[], reqId: number): string =>
  JSON.stringify({ method: 'subscribe', params: { channel: 'trade', symbol: pairs, snapshot: true }, req_id: reqId });

export const ping = (reqId: number): string => JSON.stringify({ method: 'ping', req_id: reqId });

export const pong = (reqId: number | undefined): string => JSON.stringify(reqId === undefined ? { method: 'pong' } : { method: 'pong', req_id: reqId });

// ---- messages ----

export interface WireLevel {
  price: number;
  qty: number;
}

export interface BookData {
  symbol: string;
  bids: WireLevel[];
  asks: WireLevel[];
  checksum: number;
  /** ms since the epoch; 0 when the message has none. */
  timestampMs: number;
}

export interface TradeData {
  symbol: string;
  side: 'buy' | 'sell';
  price: number;
  qty: number;
  tradeId: number;
  timestampMs: number;
}

export interface PairInfo {
  symbol: string;
  pricePrecision: number;
  qtyPrecision: number;
}

/** An entry of a data message that could not be used; `symbol` when it could still be read. */
export interface BadEntry {
  symbol?: string;
  detail: string;
}

export type KrakenMessage =
  | { type: 'book'; snapshot: boolean; books: BookData[]; bad: BadEntry[] }
  | { type: 'trade'; trades: TradeData[]; bad: BadEntry[] }
  | { type: 'instrument'; snapshot: boolean; pairs: PairInfo[] }
  | { type: 'heartbeat' }
  | { type: 'status'; system: string }
  | { type: 'ping'; reqId?: number }
  | { type: 'pong'; reqId?: number }
  | { type: 'ack'; method: 'subscribe' | 'unsubscribe'; success: boolean; channel?: string; symbol?: string; reqId?: number; error?: string }
  | { type: 'malformed'; kind: string; detail: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clip = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** A JSON number, or a numeric string (v1 quoted decimals; tolerated), finite. */
function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

const reqIdOf = (o: Obj): number | undefined => (typeof o.req_id === 'number' ? o.req_id : undefined);

function timeOf(v: unknown): number {
  if (typeof v !== 'string') return 0;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : 0;
}

function levels(v: unknown, side: string): WireLevel[] | string {
  if (v === undefined) return []; // an update may change one side only
  if (!Array.isArray(v)) return `${side} is not an array`;
  const out: WireLevel[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const l = v[i];
    const price = isObj(l) ? num(l.price) : undefined;
    const qty = isObj(l) ? num(l.qty) : undefined;
    if (price === undefined || qty === undefined || price <= 0 || qty < 0) return `${side}[${i}] is not {price > 0, qty ≥ 0}: ${clip(JSON.stringify(l) ?? String(l))}`;
    out[i] = { price, qty };
  }
  return out;
}

function parseBook(o: Obj): KrakenMessage {
  if (o.type !== 'snapshot' && o.type !== 'update') return { type: 'malformed', kind: 'book', detail: `type ${String(o.type)}` };
  if (!Array.isArray(o.data)) return { type: 'malformed', kind: 'book', detail: 'data is not an array' };
  const books: BookData[] = [];
  const bad: BadEntry[] = [];
  for (const d of o.data) {
    const symbol = isObj(d) && typeof d.symbol === 'string' ? d.symbol : undefined;
    if (!isObj(d) || symbol === undefined) {
      bad.push({ detail: `entry without a symbol: ${clip(JSON.stringify(d) ?? '')}` });
      continue;
    }
    const bids = levels(d.bids, 'bids');
    const asks = levels(d.asks, 'asks');
    const checksum = d.checksum;
    if (typeof bids === 'string' || typeof asks === 'string') {
      bad.push({ symbol, detail: typeof bids === 'string' ? bids : (asks as string) });
    } else if (typeof checksum !== 'number' || !Number.isInteger(checksum) || checksum < 0 || checksum > 0xffffffff) {
      bad.push({ symbol, detail: `checksum ${String(checksum)}` });
    } else {
      books.push({ symbol, bids, asks, checksum, timestampMs: timeOf(d.timestamp) });
    }
  }
  return { type: 'book', snapshot: o.type === 'snapshot', books, bad };
}

function parseTrade(o: Obj): KrakenMessage {
  if (o.type !== 'snapshot' && o.type !== 'update') return { type: 'malformed', kind: 'trade', detail: `type ${String(o.type)}` };
  if (!Array.isArray(o.data)) return { type: 'malformed', kind: 'trade', detail: 'data is not an array' };
  const trades: TradeData[] = [];
  const bad: BadEntry[] = [];
  for (const d of o.data) {
    if (!isObj(d) || typeof d.symbol !== 'string') {
      bad.push({ detail: `trade without a symbol: ${clip(JSON.stringify(d) ?? '')}` });
      continue;
    }
    const price = num(d.price);
    const qty = num(d.qty);
    const tradeId = d.trade_id;
    const timestampMs = timeOf(d.timestamp);
    if ((d.side !== 'buy' && d.side !== 'sell') || price === undefined || price <= 0 || qty === undefined || qty <= 0
      || typeof tradeId !== 'number' || !Number.isSafeInteger(tradeId) || timestampMs === 0) {
      bad.push({ symbol: d.symbol, detail: clip(JSON.stringify(d)) });
      continue;
    }
    trades.push({ symbol: d.symbol, side: d.side, price, qty, tradeId, timestampMs });
  }
  return { type: 'trade', trades, bad };
}

function parseInstrument(o: Obj): KrakenMessage {
  const data = o.data;
  if (!isObj(data) || !Array.isArray(data.pairs)) return { type: 'malformed', kind: 'instrument', detail: 'data.pairs is not an array' };
  const pairs: PairInfo[] = [];
  for (const p of data.pairs) {
    if (!isObj(p) || typeof p.symbol !== 'string') continue;
    const pricePrecision = p.price_precision;
    const qtyPrecision = p.qty_precision;
    if (typeof pricePrecision !== 'number' || !Number.isInteger(pricePrecision) || typeof qtyPrecision !== 'number' || !Number.isInteger(qtyPrecision)) continue;
    pairs.push({ symbol: p.symbol, pricePrecision, qtyPrecision });
  }
  return { type: 'instrument', snapshot: o.type === 'snapshot', pairs };
}

/** One text frame from Kraken, parsed. */
export function parseMessage(text: string): KrakenMessage {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { type: 'malformed', kind: 'json', detail: clip(text) };
  }
  if (!isObj(o)) return { type: 'malformed', kind: 'unexpected', detail: clip(text) };
  if (typeof o.channel === 'string') {
    switch (o.channel) {
      case 'book': return parseBook(o);
      case 'trade': return parseTrade(o);
      case 'instrument': return parseInstrument(o);
      case 'heartbeat': return { type: 'heartbeat' };
      case 'status': {
        const d = Array.isArray(o.data) && isObj(o.data[0]) ? o.data[0] : undefined;
        return { type: 'status', system: d && typeof d.system === 'string' ? d.system : 'unknown' };
      }
      default: return { type: 'malformed', kind: 'unexpected', detail: `channel ${clip(o.channel)}` };
    }
  }
  switch (o.method) {
    case 'ping': return { type: 'ping', reqId: reqIdOf(o) };
    case 'pong': return { type: 'pong', reqId: reqIdOf(o) };
    case 'subscribe':
    case 'unsubscribe': {
      const r = isObj(o.result) ? o.result : {};
      return {
        type: 'ack',
        method: o.method,
        success: o.success === true,
        channel: typeof r.channel === 'string' ? r.channel : undefined,
        symbol: typeof r.symbol === 'string' ? r.symbol : typeof o.symbol === 'string' ? o.symbol : undefined,
        reqId: reqIdOf(o),
        error: typeof o.error === 'string' ? o.error : undefined,
      };
    }
    default: return { type: 'malformed', kind: 'unexpected', detail: clip(text) };
  }
}
