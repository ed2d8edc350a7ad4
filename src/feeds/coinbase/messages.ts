// Coinbase Advanced Trade market-data messages: the subscribe requests we send, and a decoder that validates everything we receive.
//
// Wire format (wss://advanced-trade-ws.coinbase.com), as documented:
//   → {"type":"subscribe"|"unsubscribe","product_ids":["BTC-USD"],"channel":"level2"}   one channel per message
//   ← {"channel":"l2_data","client_id":"","timestamp":"…","sequence_num":N,
//      "events":[{"type":"snapshot"|"update","product_id":"BTC-USD",
//                 "updates":[{"side":"bid"|"offer","event_time":"…","price_level":"…","new_quantity":"…"}]}]}
//   ← {"channel":"market_trades",…,"events":[{"type":"snapshot"|"update",
//      "trades":[{"trade_id","product_id","price","size","side":"BUY"|"SELL","time"}]}]}
//   ← {"channel":"heartbeats",…}, {"channel":"subscriptions",…}, {"type":"error","message":"…"}
// `new_quantity` is the level's new size, not a delta; "0" removes the level.
//
// A message is validated whole before any of it is used: a bad level in the middle of an update
// must not leave half the update applied. Levels are decoded into one growing buffer reused for
// every message, so a steady stream of updates allocates only what JSON.parse does.

export const EXCHANGE = 'COINBASE';

/** Subscribe names; the data of `level2` arrives on channel `l2_data`. */
export const SUB_LEVEL2 = 'level2';
export const SUB_MARKET_TRADES = 'market_trades';
export const SUB_HEARTBEATS = 'heartbeats';

export const CH_L2 = 'l2_data';
export const CH_TRADES = 'market_trades';
export const CH_HEARTBEATS = 'heartbeats';
export const CH_SUBSCRIPTIONS = 'subscriptions';

export const SIDE_BID = 0;
export const SIDE_ASK = 1;

/** `COINBASE.BTC-USD`: the name every sink call carries. */
export function servedName(productId: string): string {
  return `${EXCHANGE}.${productId}`;
}

export function subscribeMessage(type: 'subscribe' | 'unsubscribe', channel: string, productIds: readonly string[]): string {
  return JSON.stringify({ type, product_ids: productIds, channel });
}

/** Every level of one message, in order: event i owns [events[i].from, events[i].to). */
export class LevelBuffer {
  side = new Uint8Array(256);
  px = new Float64Array(256);
  sz = new Float64Array(256);
  n = 0;

  push(side: number, px: number, sz: number): void {
    if (this.n === this.px.length) this.grow();
    this.side[this.n] = side;
    this.px[this.n] = px;
    this.sz[this.n] = sz;
    this.n++;
  }

  private grow(): void {
    const cap = this.px.length * 2;
    const side = new Uint8Array(cap);
    const px = new Float64Array(cap);
    const sz = new Float64Array(cap);
    side.set(this.side);
    px.set(this.px);
    sz.set(this.sz);
    this.side = side;
    this.px = px;
    this.sz = sz;
  }
}

export interface L2Event {
  snapshot: boolean;
  productId: string;
  from: number;
  to: number;
}

/** A trade as the exchange states it; `side` is Coinbase's BUY/SELL, whichever party it names. */
export interface WireTrade {
  tradeId: string;
  productId: string;
  price: number;
  size: number;
  side: 'BUY' | 'SELL';
  ts: number;
}

/** `seq` -1: the message carried no usable sequence_num. */
export type Decoded =
  | { kind: 'l2'; seq: number; ts: number; events: L2Event[]; levels: LevelBuffer }
  | { kind: 'trades'; seq: number; ts: number; trades: WireTrade[] }
  | { kind: 'heartbeat'; seq: number }
  | { kind: 'subscriptions'; seq: number }
  | { kind: 'other'; seq: number; channel: string }
  | { kind: 'error'; message: string }
  | { kind: 'malformed'; what: string; detail: string; seq: number; channel: string };

const DETAIL_CHARS = 160;

function excerpt(text: string): string {
  return text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}…` : text;
}

/**
 * A non-negative decimal as Coinbase prints it ("64123.45", "0", "1e-8"); NaN for anything else.
 * Number() alone would take "", " 1", "0x10" and "Infinity".
 */
export function decimal(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : NaN;
  if (typeof v !== 'string' || v.length === 0 || v.length > 40) return NaN;
  const c = v.charCodeAt(0);
  if (!((c >= 48 && c <= 57) || c === 46)) return NaN; // digit or '.'
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : NaN;
}

/** ISO 8601 with up to nanoseconds (V8 keeps the milliseconds); NaN when unparsable. */
export function isoMs(v: unknown): number {
  return typeof v === 'string' ? Date.parse(v) : NaN;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One decoder per connection: it owns the level buffer the last decoded message points into. */
export class CoinbaseDecoder {
  private readonly levels = new LevelBuffer();
  private readonly events: L2Event[] = [];

  decode(text: string): Decoded {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return malformed('json', excerpt(text), -1, '');
    }
    if (!isObj(msg)) return malformed('envelope', excerpt(text), -1, '');
    if (msg.type === 'error') {
      return { kind: 'error', message: typeof msg.message === 'string' ? msg.message : excerpt(text) };
    }
    const channel = typeof msg.channel === 'string' ? msg.channel : '';
    const seq = msg.sequence_num;
    if (channel === '' || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || !Array.isArray(msg.events)) {
      // Without a sequence_num we cannot place it; the next message's number shows what was lost.
      return malformed('envelope', excerpt(text), -1, channel);
    }
    const ts = isoMs(msg.timestamp);
    const events = msg.events as unknown[];
    switch (channel) {
      case CH_L2:
        return this.l2(events, seq, Number.isFinite(ts) ? ts : 0, text);
      case CH_TRADES:
        return trades(events, seq, Number.isFinite(ts) ? ts : 0, text);
      case CH_HEARTBEATS:
        return { kind: 'heartbeat', seq };
      case CH_SUBSCRIPTIONS:
        return { kind: 'subscriptions', seq };
      default:
        // "Clients are expected to ignore messages they do not support": it still takes a sequence_num.
        return { kind: 'other', seq, channel };
    }
  }

  private l2(raw: unknown[], seq: number, ts: number, text: string): Decoded {
    const levels = this.levels;
    const events = this.events;
    levels.n = 0;
    events.length = 0;
    for (const e of raw) {
      if (!isObj(e) || (e.type !== 'snapshot' && e.type !== 'update') || typeof e.product_id !== 'string' || !Array.isArray(e.updates)) {
        return malformed(CH_L2, excerpt(text), seq, CH_L2);
      }
      const from = levels.n;
      for (const u of e.updates as unknown[]) {
        if (!isObj(u)) return malformed(CH_L2, excerpt(text), seq, CH_L2);
        const side = u.side === 'bid' ? SIDE_BID : u.side === 'offer' ? SIDE_ASK : -1;
        const px = decimal(u.price_level);
        const sz = decimal(u.new_quantity);
        if (side < 0 || !(px > 0) || Number.isNaN(sz)) return malformed(CH_L2, excerpt(text), seq, CH_L2);
        levels.push(side, px, sz);
      }
      events.push({ snapshot: e.type === 'snapshot', productId: e.product_id, from, to: levels.n });
    }
    return { kind: 'l2', seq, ts, events, levels };
  }
}

function trades(raw: unknown[], seq: number, ts: number, text: string): Decoded {
  const out: WireTrade[] = [];
  for (const e of raw) {
    if (!isObj(e) || !Array.isArray(e.trades)) return malformed(CH_TRADES, excerpt(text), seq, CH_TRADES);
    for (const t of e.trades as unknown[]) {
      if (!isObj(t)) return malformed(CH_TRADES, excerpt(text), seq, CH_TRADES);
      const price = decimal(t.price);
      const size = decimal(t.size);
      const time = isoMs(t.time);
      if (typeof t.trade_id !== 'string' || t.trade_id === '' || typeof t.product_id !== 'string'
        || !(price > 0) || !(size > 0) || (t.side !== 'BUY' && t.side !== 'SELL') || !Number.isFinite(time)) {
        return malformed(CH_TRADES, excerpt(text), seq, CH_TRADES);
      }
      out.push({ tradeId: t.trade_id, productId: t.product_id, price, size, side: t.side, ts: time });
    }
  }
  return { kind: 'trades', seq, ts, trades: out };
}

function malformed(what: string, detail: string, seq: number, channel: string): Decoded {
  return { kind: 'malformed', what, detail, seq, channel };
}
