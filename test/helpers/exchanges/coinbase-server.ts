// A local Coinbase Advanced Trade market-data server for tests: the documented wire format, a true book per product, scriptable faults.
//
//   const cb = await startCoinbaseServer({ products: ['BTC-USD'], tickMs: 5 });   // connect to cb.url
//   cb.truthAt(cb.latestConnection, seq, 'BTC-USD', 10)   // the true top 10 when that message left
//   cb.dropNext(); cb.corruptNext('json'); cb.disconnect(); cb.stopHeartbeats(); cb.pause(); cb.resume();
//   await cb.close();
//
// What it reproduces: one subscribe message per channel (level2 / market_trades / heartbeats),
// a `subscriptions` acknowledgement for each (un)subscribe, an `error` for a bad request, a level2
// snapshot on every level2 subscribe and `update` events after it (new_quantity is the new size,
// "0" removes the level), market_trades with a snapshot of recent trades then updates, heartbeats
// every `heartbeatMs`, and one `sequence_num` per connection, from 0, +1 on every message whatever
// its channel. A connection that subscribes to nothing within 5 s is closed, as Coinbase does.
// Trades name the maker's side by default (see src/feeds/coinbase/connector.ts).
//
// The market is a seeded random walk of level changes and trades on integer ticks, so the test's
// truth and the connector's parsed numbers are the same doubles.

import { mulberry32 } from '../../../src/feeds/prng.js';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export type Level = [price: number, size: number];
export interface TopN { bids: Level[]; asks: Level[] }

export interface TrueTrade {
  tradeId: string;
  product: string;
  price: number;
  size: number;
  takerSide: 'buy' | 'sell';
  timeMs: number;
}

export interface CoinbaseServerOptions {
  products: readonly string[];
  seed?: number;
  /** Market events per `tickMs`; tickMs 0: only step() moves the market. */
  tickMs?: number;
  eventsPerTick?: number;
  /** Share of market events that are trades. Default 0.1. */
  tradeShare?: number;
  heartbeatMs?: number;
  /** Trades in a market_trades snapshot. Default 50. */
  snapshotTrades?: number;
  /** Levels per side kept as truth for every l2 message sent. Default 50. */
  recordDepth?: number;
  /** Which party the wire `side` of a trade names. Default 'maker'. */
  sideIs?: 'maker' | 'taker';
  subscribeDeadlineMs?: number;
}

interface Fault { channel: string; how: 'drop' | 'json' | 'content' }

interface Conn {
  readonly id: number;
  readonly ws: WebSocket;
  seq: number;
  readonly level2: Set<string>;
  readonly trades: Set<string>;
  heartbeats: NodeJS.Timeout | null;
  heartbeatCounter: number;
  readonly faults: Fault[];
  /** seq → the product and its true top N when that l2_data message was sent. */
  readonly truth: Map<number, { product: string; top: TopN }>;
  /** Every request the client sent, parsed. */
  readonly received: Record<string, unknown>[];
  closed: boolean;
}

export interface ConnectionInfo {
  id: number;
  /** Messages numbered so far (the next sequence_num). */
  seq: number;
  closed: boolean;
  received: readonly Record<string, unknown>[];
}

export interface CoinbaseServer {
  readonly url: string;
  /** The id of the connection accepted last (a connector has one at a time). */
  readonly latestConnection: number;
  connections(): ConnectionInfo[];
  /** The true top `depth` of `product` when message `seq` of connection `conn` (an l2_data one) was sent. */
  truthAt(conn: number, seq: number, product: string, depth: number): TopN | undefined;
  /** The true top `depth` now. */
  top(product: string, depth: number): TopN;
  /** Every trade so far, oldest first. */
  trades(product: string): readonly TrueTrade[];
  /** Runs `n` market events now. */
  step(n?: number): void;
  pause(): void;
  resume(): void;
  /** The next message of `channel` on the latest connection is not sent; its sequence_num is used up. */
  dropNext(channel?: string): void;
  /** The next message of `channel` becomes broken JSON (no usable sequence_num), or a valid envelope with a bad level. */
  corruptNext(how: 'json' | 'content', channel?: string): void;
  /** Cuts every connection (the client sees 1006). */
  disconnect(): void;
  /** The latest connection gets no more heartbeats. */
  stopHeartbeats(): void;
  close(): Promise<void>;
}

/** Prices are cents, sizes 1e-4 units, printed as Coinbase prints decimals. */
const priceText = (ticks: number): string => (ticks / 100).toFixed(2);
const sizeText = (units: number): string => (units / 10_000).toFixed(4);
/** Coinbase timestamps carry nanoseconds. */
const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '123456Z');

class ProductBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  readonly trades: TrueTrade[] = [];
  nextTradeId = 100_000;

  constructor(readonly product: string, mid: number, rand: () => number) {
    for (let i = 1; i <= 40; i++) {
      if (rand() < 0.7 || i === 1) this.bids.set(mid - i, 1 + Math.floor(rand() * 5000));
      if (rand() < 0.7 || i === 1) this.asks.set(mid + i, 1 + Math.floor(rand() * 5000));
    }
  }

  best(bids: boolean): number {
    const m = bids ? this.bids : this.asks;
    let best = bids ? -Infinity : Infinity;
    for (const p of m.keys()) if (bids ? p > best : p < best) best = p;
    return best;
  }

  top(depth: number): TopN {
    const side = (m: Map<number, number>, desc: boolean): Level[] =>
      [...m.entries()].sort((a, b) => (desc ? b[0] - a[0] : a[0] - b[0])).slice(0, depth)
        .map(([p, u]) => [Number(priceText(p)), Number(sizeText(u))]);
    return { bids: side(this.bids, true), asks: side(this.asks, false) };
  }
}

type WireUpdate = { side: 'bid' | 'offer'; event_time: string; price_level: string; new_quantity: string };

export async function startCoinbaseServer(opts: CoinbaseServerOptions): Promise<CoinbaseServer> {
  const rand = mulberry32(opts.seed ?? 1);
  const recordDepth = opts.recordDepth ?? 50;
  const snapshotTrades = opts.snapshotTrades ?? 50;
  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const tradeShare = opts.tradeShare ?? 0.1;
  const makerSide = (opts.sideIs ?? 'maker') === 'maker';
  const books = new Map<string, ProductBook>();
  opts.products.forEach((p, i) => books.set(p, new ProductBook(p, 3_000_000 + i * 100_000, rand)));
  const conns = new Map<number, Conn>();
  let latest = 0;
  let paused = false;

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

  const faultFor = (c: Conn, channel: string): Fault | undefined => {
    const i = c.faults.findIndex((f) => f.channel === channel);
    return i < 0 ? undefined : c.faults.splice(i, 1)[0];
  };

  /** Numbers and sends one message; returns its sequence_num, or -1 when a fault swallowed it. */
  const send = (c: Conn, channel: string, events: unknown[]): number => {
    if (c.closed) return -1;
    const seq = c.seq++;
    const fault = faultFor(c, channel);
    if (fault?.how === 'drop') return -1;
    if (fault?.how === 'json') {
      c.ws.send(`{"channel":"${channel}","client_id":"","timestamp":"${iso(Date.now())}","sequence_num":`);
      return -1;
    }
    if (fault?.how === 'content') {
      events = [{ type: 'update', product_id: opts.products[0], updates: [{ side: 'bid', event_time: iso(Date.now()), price_level: 'abc', new_quantity: '1' }] }];
    }
    c.ws.send(JSON.stringify({ channel, client_id: '', timestamp: iso(Date.now()), sequence_num: seq, events }));
    return fault === undefined ? seq : -1;
  };

  const sendL2 = (c: Conn, book: ProductBook, type: 'snapshot' | 'update', updates: WireUpdate[], top: TopN): void => {
    const seq = send(c, 'l2_data', [{ type, product_id: book.product, updates }]);
    if (seq >= 0) c.truth.set(seq, { product: book.product, top });
  };

  const snapshotUpdates = (book: ProductBook): WireUpdate[] => {
    const t = iso(Date.now());
    const out: WireUpdate[] = [];
    for (const [p, u] of [...book.bids].sort((a, b) => b[0] - a[0])) out.push({ side: 'bid', event_time: t, price_level: priceText(p), new_quantity: sizeText(u) });
    for (const [p, u] of [...book.asks].sort((a, b) => a[0] - b[0])) out.push({ side: 'offer', event_time: t, price_level: priceText(p), new_quantity: sizeText(u) });
    return out;
  };

  const wireTrade = (t: TrueTrade): Record<string, string> => ({
    trade_id: t.tradeId, product_id: t.product, price: priceText(Math.round(t.price * 100)), size: sizeText(Math.round(t.size * 10_000)),
    side: (t.takerSide === 'buy') !== makerSide ? 'BUY' : 'SELL', time: iso(t.timeMs),
  });

  const ack = (c: Conn): void => {
    send(c, 'subscriptions', [{ subscriptions: {
      ...(c.level2.size > 0 ? { level2: [...c.level2] } : {}),
      ...(c.trades.size > 0 ? { market_trades: [...c.trades] } : {}),
      ...(c.heartbeats !== null ? { heartbeats: ['heartbeats'] } : {}),
    } }]);
  };

  const heartbeat = (c: Conn): void => {
    send(c, 'heartbeats', [{ current_time: new Date().toISOString(), heartbeat_counter: c.heartbeatCounter++ }]);
  };

  const request = (c: Conn, text: string): void => {
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      c.ws.send(JSON.stringify({ type: 'error', message: 'malformed request' }));
      return;
    }
    if (typeof m !== 'object' || m === null) return;
    const r = m as Record<string, unknown>;
    c.received.push(r);
    const ids = Array.isArray(r.product_ids) ? r.product_ids.filter((p): p is string => typeof p === 'string') : [];
    const unknown = ids.filter((p) => !books.has(p));
    if ((r.type !== 'subscribe' && r.type !== 'unsubscribe') || typeof r.channel !== 'string' || unknown.length > 0) {
      c.ws.send(JSON.stringify({ type: 'error', message: `Failed to subscribe: ${unknown.join(',') || String(r.channel)}` }));
      return;
    }
    clearTimeout(deadlines.get(c.id));
    const on = r.type === 'subscribe';
    switch (r.channel) {
      case 'level2':
        for (const p of ids) if (on) c.level2.add(p); else c.level2.delete(p);
        ack(c);
        if (on) for (const p of ids) { const b = books.get(p)!; sendL2(c, b, 'snapshot', snapshotUpdates(b), b.top(recordDepth)); }
        return;
      case 'market_trades': {
        for (const p of ids) if (on) c.trades.add(p); else c.trades.delete(p);
        ack(c);
        if (!on) return;
        const recent = ids.flatMap((p) => books.get(p)!.trades.slice(-snapshotTrades)).sort((a, b) => b.timeMs - a.timeMs);
        send(c, 'market_trades', [{ type: 'snapshot', trades: recent.map(wireTrade) }]);
        return;
      }
      case 'heartbeats':
        if (on && c.heartbeats === null) c.heartbeats = setInterval(heartbeat, heartbeatMs, c);
        if (!on && c.heartbeats !== null) { clearInterval(c.heartbeats); c.heartbeats = null; }
        ack(c);
        return;
      default:
        c.ws.send(JSON.stringify({ type: 'error', message: `Failed to subscribe: unknown channel ${r.channel}` }));
    }
  };

  const deadlines = new Map<number, NodeJS.Timeout>();
  wss.on('connection', (ws) => {
    const c: Conn = {
      id: ++latest, ws, seq: 0, level2: new Set(), trades: new Set(), heartbeats: null, heartbeatCounter: 0,
      faults: [], truth: new Map(), received: [], closed: false,
    };
    conns.set(c.id, c);
    deadlines.set(c.id, setTimeout(() => ws.close(1000, 'no subscribe'), opts.subscribeDeadlineMs ?? 5000));
    ws.on('message', (data) => request(c, data.toString()));
    ws.on('error', () => undefined); // a cut connection: 'close' follows
    ws.on('close', () => {
      c.closed = true;
      if (c.heartbeats !== null) clearInterval(c.heartbeats);
      clearTimeout(deadlines.get(c.id));
    });
  });

  /** One market event on one product: level changes, or a trade against the best level. */
  const event = (): void => {
    const book = books.get(opts.products[Math.floor(rand() * opts.products.length)])!;
    const now = Date.now();
    const t = iso(now);
    const updates: WireUpdate[] = [];
    const set = (bid: boolean, price: number, units: number): void => {
      const m = bid ? book.bids : book.asks;
      if (units === 0) m.delete(price);
      else m.set(price, units);
      updates.push({ side: bid ? 'bid' : 'offer', event_time: t, price_level: priceText(price), new_quantity: sizeText(units) });
    };
    let trade: TrueTrade | null = null;
    if (rand() < tradeShare && book.bids.size > 1 && book.asks.size > 1) {
      const takerBuys = rand() < 0.5;
      const level = book.best(!takerBuys);
      const units = (takerBuys ? book.asks : book.bids).get(level)!;
      const traded = 1 + Math.floor(rand() * units);
      set(!takerBuys, level, units - traded);
      trade = { tradeId: String(book.nextTradeId++), product: book.product, price: level / 100, size: traded / 10_000, takerSide: takerBuys ? 'buy' : 'sell', timeMs: now };
      book.trades.push(trade);
    } else {
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const bid = rand() < 0.5;
        const m = bid ? book.bids : book.asks;
        const r = rand();
        const prices = [...m.keys()];
        if (r < 0.45 && prices.length > 0) {
          set(bid, prices[Math.floor(rand() * prices.length)], 1 + Math.floor(rand() * 5000));
        } else if (r < 0.75 || prices.length < 4) {
          // A new level on its own side of the spread: the book never crosses.
          const price = bid ? book.best(false) - 1 - Math.floor(rand() * 30) : book.best(true) + 1 + Math.floor(rand() * 30);
          set(bid, price, 1 + Math.floor(rand() * 5000));
        } else {
          set(bid, prices[Math.floor(rand() * prices.length)], 0);
        }
      }
    }
    const top = book.top(recordDepth);
    for (const c of conns.values()) {
      if (c.closed) continue;
      if (trade !== null && c.trades.has(book.product)) send(c, 'market_trades', [{ type: 'update', trades: [wireTrade(trade)] }]);
      if (c.level2.has(book.product)) sendL2(c, book, 'update', updates, top);
    }
  };

  const ticker = (opts.tickMs ?? 0) > 0
    ? setInterval(() => { if (!paused) for (let i = 0; i < (opts.eventsPerTick ?? 1); i++) event(); }, opts.tickMs)
    : null;

  const latestConn = (): Conn | undefined => conns.get(latest);

  return {
    url,
    get latestConnection() { return latest; },
    connections: () => [...conns.values()].map((c) => ({ id: c.id, seq: c.seq, closed: c.closed, received: c.received })),
    truthAt(conn, seq, product, depth) {
      const rec = conns.get(conn)?.truth.get(seq);
      if (rec === undefined || rec.product !== product) return undefined;
      return { bids: rec.top.bids.slice(0, depth), asks: rec.top.asks.slice(0, depth) };
    },
    top: (product, depth) => books.get(product)!.top(depth),
    trades: (product) => books.get(product)!.trades,
    step(n = 1) { for (let i = 0; i < n; i++) event(); },
    pause() { paused = true; },
    resume() { paused = false; },
    dropNext(channel = 'l2_data') { latestConn()?.faults.push({ channel, how: 'drop' }); },
    corruptNext(how, channel = 'l2_data') { latestConn()?.faults.push({ channel, how }); },
    disconnect() { for (const c of conns.values()) if (!c.closed) c.ws.terminate(); },
    stopHeartbeats() {
      const c = latestConn();
      if (c?.heartbeats) { clearInterval(c.heartbeats); c.heartbeats = null; }
    },
    async close() {
      if (ticker !== null) clearInterval(ticker);
      for (const c of conns.values()) {
        if (c.heartbeats !== null) clearInterval(c.heartbeats);
        clearTimeout(deadlines.get(c.id));
        c.ws.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
