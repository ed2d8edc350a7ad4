// A local Kraken spot WebSocket v2 server for connector tests: a true book per pair, the documented messages with correct checksums, and scriptable faults.
//
//   const k = await startKrakenServer({ pairs: [{ symbol: 'BTC/USD', pricePrecision: 1, qtyPrecision: 8, mid: 450_000 }] });
//   // connect the connector to k.url
//   k.step('BTC/USD');                        // the true book changes; subscribers get an update
//   k.trade('BTC/USD');
//   k.corruptChecksum('BTC/USD'); k.corruptSnapshot('BTC/USD'); k.dropUpdates('BTC/USD');
//   k.disconnect(); k.hang(); k.sendMalformed(); k.ping();
//   k.truthAt('BTC/USD', update.exchangeTs, 10) // the exchange's top 10 when that book message was sent
//   await k.close();
//
// What it reproduces of Kraken's documented behaviour: an ack per symbol of a subscription; a book
// snapshot then updates, each with the CRC32 of the top 10 levels; levels as JSON numbers written
// at the pair's full precision ("qty":0.10000000); qty 0 deletes; no delete is sent for a level
// that merely falls past the subscribed depth (the client must truncate); a heartbeat about every
// second on an otherwise quiet subscribed connection; a trade snapshot of the last 50 trades;
// sequential trade ids per pair; the instrument channel with price_precision and qty_precision.
// Prices and quantities are integers (ticks, lots) inside, so the wire text and the truth are exact.

import { mulberry32 } from '../../../src/feeds/prng.js';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export interface PairSpec {
  symbol: string; // Kraken's name, BTC/USD
  pricePrecision: number;
  qtyPrecision: number;
  /** The mid price in ticks (10^-pricePrecision): bids lie below it, asks above, so the book never crosses. */
  mid: number;
}

/** A change to one level: `offset` ticks from the mid (≥ 1), `lots` in 10^-qtyPrecision (0 deletes). */
export interface Op {
  side: 'bid' | 'ask';
  offset: number;
  lots: number;
}

/** [ticks, lots], best first. */
export type IntLevel = [number, number];

export interface Sides<T> {
  bids: T[];
  asks: T[];
}

const BOOK_DEPTHS = [10, 25, 100, 500, 1000];
/** Levels per side kept of the truth after every step (tests hand over at most this many). */
const TRUTH_LEVELS = 25;
const TS_BASE_MS = Date.UTC(2026, 0, 1);

/** The decimal text of `units` · 10^-precision: fixed(452852, 1) = "45285.2", fixed(5, 3) = "0.005". */
export function fixed(units: number, precision: number): string {
  const s = String(units).padStart(precision + 1, '0');
  return precision === 0 ? s : `${s.slice(0, -precision)}.${s.slice(-precision)}`;
}

/**
 * Kraken's v2 book checksum read literally from the guide, on wire text: for the top 10 asks (low
 * to high) then the top 10 bids (high to low), price and qty with the '.' removed and then the
 * leading zeros removed, concatenated; CRC32 of that string. Written independently of the
 * connector's digit writer, so a test comparing the two is not circular.
 */
export function referenceChecksum(asks: readonly [string, string][], bids: readonly [string, string][]): number {
  const f = (s: string): string => s.replace('.', '').replace(/^0+/, '');
  let text = '';
  for (const [p, q] of asks.slice(0, 10)) text += f(p) + f(q);
  for (const [p, q] of bids.slice(0, 10)) text += f(p) + f(q);
  return zlib.crc32(text) >>> 0;
}

/** One pair's whole true book, in integer ticks and lots. */
export class TrueBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();

  constructor(readonly spec: PairSpec) {}

  apply(ops: readonly Op[]): void {
    for (const o of ops) {
      const side = o.side === 'bid' ? this.bids : this.asks;
      const ticks = o.side === 'bid' ? this.spec.mid - o.offset : this.spec.mid + o.offset;
      if (o.lots === 0) side.delete(ticks);
      else side.set(ticks, o.lots);
    }
  }

  top(side: 'bid' | 'ask', n: number): IntLevel[] {
    const m = side === 'bid' ? this.bids : this.asks;
    return [...m.entries()].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0])).slice(0, n);
  }

  /** The wire text of levels, at the pair's precision. */
  text(levels: readonly IntLevel[]): [string, string][] {
    return levels.map(([t, l]) => [fixed(t, this.spec.pricePrecision), fixed(l, this.spec.qtyPrecision)]);
  }

  /** Levels as the numbers a client parses from the wire. */
  numbers(levels: readonly IntLevel[]): [number, number][] {
    return levels.map(([t, l]) => [t / 10 ** this.spec.pricePrecision, l / 10 ** this.spec.qtyPrecision]);
  }

  checksum(): number {
    return referenceChecksum(this.text(this.top('ask', 10)), this.text(this.top('bid', 10)));
  }
}

/**
 * What one book subscription has been sent: the top `depth` levels at the last message. diff()
 * sends what changed in that window: new or changed levels, and deletes only for levels gone from
 * the book; a level pushed past the depth by better ones is not deleted, as Kraken documents.
 */
export class DepthView {
  private bids = new Map<number, number>();
  private asks = new Map<number, number>();

  constructor(readonly book: TrueBook, readonly depth: number) {}

  snapshot(): Sides<IntLevel> {
    const bids = this.book.top('bid', this.depth);
    const asks = this.book.top('ask', this.depth);
    this.bids = new Map(bids);
    this.asks = new Map(asks);
    return { bids, asks };
  }

  /** The update message's levels, or null when nothing in the window changed (Kraken sends nothing then). */
  diff(): Sides<IntLevel> | null {
    const out: Sides<IntLevel> = { bids: this.diffSide('bid'), asks: this.diffSide('ask') };
    return out.bids.length + out.asks.length === 0 ? null : out;
  }

  private diffSide(side: 'bid' | 'ask'): IntLevel[] {
    const had = side === 'bid' ? this.bids : this.asks;
    const all = side === 'bid' ? this.book.bids : this.book.asks;
    const now = this.book.top(side, this.depth);
    const out: IntLevel[] = [];
    for (const [t, l] of now) if (had.get(t) !== l) out.push([t, l]);
    const inNow = new Set(now.map(([t]) => t));
    for (const t of had.keys()) if (!inNow.has(t) && !all.has(t)) out.push([t, 0]);
    if (side === 'bid') this.bids = new Map(now);
    else this.asks = new Map(now);
    return out;
  }
}

/** Random operations on a book, never crossing, keeping a dozen or more levels a side. */
export function randomOps(book: TrueBook, rand: () => number): Op[] {
  const ops: Op[] = [];
  const lots = (): number => 1 + Math.floor(rand() * 20 * 10 ** Math.min(book.spec.qtyPrecision, 8));
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const side = rand() < 0.5 ? 'bid' : 'ask';
    const levels = book.top(side, 14);
    const offsetOf = (ticks: number): number => Math.abs(ticks - book.spec.mid);
    const r = rand();
    if (r < 0.4 && levels.length > 0) {
      ops.push({ side, offset: offsetOf(levels[Math.floor(rand() * Math.min(12, levels.length))][0]), lots: lots() });
    } else if (r < 0.65 && levels.length > 12) {
      ops.push({ side, offset: offsetOf(levels[Math.floor(rand() * 12)][0]), lots: 0 });
    } else {
      ops.push({ side, offset: 1 + Math.floor(rand() * 30), lots: lots() });
    }
  }
  return ops;
}

export interface ServerTrade {
  symbol: string;
  side: 'buy' | 'sell';
  price: number;
  qty: number;
  ord_type: 'limit' | 'market';
  trade_id: number;
  timestamp: string;
}

export interface KrakenServerOptions {
  pairs: PairSpec[];
  seed?: number;
  /** Heartbeat period on a quiet subscribed connection, ms (Kraken: about 1 s). */
  heartbeatMs?: number;
  /** Offsets 1..n from the mid start populated on each side. */
  initialLevels?: number;
}

export interface KrakenServer {
  readonly url: string;
  /** Connections open now, and accepted in all. */
  readonly connections: number;
  readonly accepted: number;
  /** Every client request, parsed, in order of arrival. */
  readonly requests: Record<string, unknown>[];
  /** Replies to the server's own pings. */
  readonly pongs: Record<string, unknown>[];
  /** Changes the true book (random operations unless given) and sends each subscriber its update; returns the step number. */
  step(symbol: string, ops?: Op[]): number;
  /** The step the book messages of `symbol` stamped `exchangeTs` were sent at. */
  stepAt(symbol: string, exchangeTs: number): number;
  lastStep(symbol: string): number;
  /** The exchange's top `n` per side after step `k` (as parsed numbers, best first). */
  truthAfter(symbol: string, k: number, n: number): Sides<[number, number]>;
  truthAt(symbol: string, exchangeTs: number, n: number): Sides<[number, number]>;
  trade(symbol: string, count?: number): void;
  tradeLog(symbol: string): readonly ServerTrade[];
  /** The next `count` book updates of `symbol` carry a wrong checksum. */
  corruptChecksum(symbol: string, count?: number): void;
  /** The next `count` book snapshots of `symbol` carry a wrong checksum. */
  corruptSnapshot(symbol: string, count?: number): void;
  /** The next `count` updates of `symbol` are lost on the way (the subscriber's book falls behind). */
  dropUpdates(symbol: string, count?: number): void;
  /** Cuts every connection (TCP reset, no close frame). */
  disconnect(): void;
  /** Current connections stay open but receive nothing more: a silent dead link. */
  hang(): void;
  sendRaw(text: string): void;
  /** A truncated book frame, not JSON. */
  sendMalformed(): void;
  /** Sends {"method":"ping"} to every client. */
  ping(): void;
  close(): Promise<void>;
}

interface PairState {
  spec: PairSpec;
  book: TrueBook;
  history: Sides<IntLevel>[];
  trades: ServerTrade[];
  corrupt: { update: number; snapshot: number };
  drop: number;
}

interface Client {
  ws: WebSocket;
  books: Map<string, DepthView>;
  trades: Set<string>;
  instrument: boolean;
  hung: boolean;
  lastSentAt: number;
}

const tsText = (k: number): string => new Date(TS_BASE_MS + k).toISOString().replace('Z', '417Z'); // RFC 3339 with µs, as Kraken writes it
const levelsJson = (book: TrueBook, levels: readonly IntLevel[]): string =>
  `[${book.text(levels).map(([p, q]) => `{"price":${p},"qty":${q}}`).join(',')}]`;

export async function startKrakenServer(opts: KrakenServerOptions): Promise<KrakenServer> {
  const rand = mulberry32(opts.seed ?? 1);
  const pairs = new Map<string, PairState>();
  for (const spec of opts.pairs) {
    const book = new TrueBook(spec);
    const init: Op[] = [];
    for (let off = 1; off <= (opts.initialLevels ?? 30); off++) {
      for (const side of ['bid', 'ask'] as const) {
        if (rand() < 0.8) init.push({ side, offset: off, lots: 1 + Math.floor(rand() * 5 * 10 ** spec.qtyPrecision) });
      }
    }
    book.apply(init);
    pairs.set(spec.symbol, { spec, book, history: [truthOf(book)], trades: [], corrupt: { update: 0, snapshot: 0 }, drop: 0 });
  }
  const clients = new Set<Client>();
  const requests: Record<string, unknown>[] = [];
  const pongs: Record<string, unknown>[] = [];
  let accepted = 0;
  let pingId = 0;

  function truthOf(book: TrueBook): Sides<IntLevel> {
    return { bids: book.top('bid', TRUTH_LEVELS), asks: book.top('ask', TRUTH_LEVELS) };
  }

  const pairOf = (symbol: string): PairState => {
    const p = pairs.get(symbol);
    if (!p) throw new Error(`kraken-server: no pair ${symbol}`);
    return p;
  };

  function send(c: Client, text: string): void {
    if (c.hung || c.ws.readyState !== WebSocket.OPEN) return;
    c.ws.send(text);
    c.lastSentAt = Date.now();
  }

  function checksumFor(p: PairState, type: 'snapshot' | 'update'): number {
    const c = p.book.checksum();
    if (p.corrupt[type] === 0) return c;
    p.corrupt[type]--;
    return (c ^ 1) >>> 0;
  }

  function bookMessage(p: PairState, type: 'snapshot' | 'update', levels: Sides<IntLevel>): string {
    const k = p.history.length - 1;
    return `{"channel":"book","type":"${type}","data":[{"symbol":"${p.spec.symbol}","bids":${levelsJson(p.book, levels.bids)},`
      + `"asks":${levelsJson(p.book, levels.asks)},"checksum":${checksumFor(p, type)},"timestamp":"${tsText(k)}"}]}`;
  }

  const times = (): { time_in: string; time_out: string } => ({ time_in: new Date().toISOString(), time_out: new Date().toISOString() });
  const ack = (c: Client, method: string, reqId: unknown, result: Record<string, unknown>): void =>
    send(c, JSON.stringify({ method, result, success: true, ...times(), ...(reqId === undefined ? {} : { req_id: reqId }) }));
  const fail = (c: Client, method: unknown, reqId: unknown, error: string, symbol?: string): void =>
    send(c, JSON.stringify({ error, method, success: false, ...(symbol ? { symbol } : {}), ...times(), ...(reqId === undefined ? {} : { req_id: reqId }) }));

  function instrumentSnapshot(): string {
    const assets = new Set<string>();
    const list = [...pairs.values()].map(({ spec }) => {
      const [base, quote] = spec.symbol.split('/');
      assets.add(base);
      assets.add(quote);
      return {
        symbol: spec.symbol, base, quote, status: 'online', qty_precision: spec.qtyPrecision, qty_increment: 10 ** -spec.qtyPrecision,
        price_precision: spec.pricePrecision, cost_precision: 5, marginable: false, has_index: true, cost_min: 0.5,
        tick_size: 10 ** -spec.pricePrecision, price_increment: 10 ** -spec.pricePrecision, qty_min: 10 ** -spec.qtyPrecision,
      };
    });
    const assetList = [...assets].map((id) => ({ id, status: 'enabled', precision: 10, precision_display: 5, borrowable: false, collateral_value: 0, margin_rate: 0 }));
    return JSON.stringify({ channel: 'instrument', type: 'snapshot', data: { assets: assetList, pairs: list } });
  }

  function tradeMessage(type: 'snapshot' | 'update', trades: readonly ServerTrade[]): string {
    return JSON.stringify({ channel: 'trade', type, data: trades });
  }

  function onRequest(c: Client, text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return fail(c, undefined, undefined, 'Malformed request');
    }
    requests.push(m);
    const reqId = m.req_id;
    if (m.method === 'ping') return send(c, JSON.stringify({ method: 'pong', ...(reqId === undefined ? {} : { req_id: reqId }), ...times() }));
    if (m.method === 'pong') {
      pongs.push(m);
      return;
    }
    if (m.method !== 'subscribe' && m.method !== 'unsubscribe') return fail(c, m.method, reqId, 'Method not found');
    const params = (m.params ?? {}) as Record<string, unknown>;
    const subscribe = m.method === 'subscribe';
    if (params.channel === 'instrument') {
      c.instrument = subscribe;
      ack(c, m.method, reqId, { channel: 'instrument', snapshot: true });
      if (subscribe && params.snapshot !== false) send(c, instrumentSnapshot());
      return;
    }
    if (params.channel !== 'book' && params.channel !== 'trade') return fail(c, m.method, reqId, `Channel not found`);
    const symbols = Array.isArray(params.symbol) ? (params.symbol as unknown[]) : [];
    if (symbols.length === 0) return fail(c, m.method, reqId, 'Missing symbol');
    const depth = params.depth ?? 10;
    if (params.channel === 'book' && !BOOK_DEPTHS.includes(depth as number)) return fail(c, m.method, reqId, `Invalid depth ${String(depth)}`);
    for (const s of symbols) {
      const symbol = String(s);
      const p = pairs.get(symbol);
      if (!p) {
        fail(c, m.method, reqId, `Currency pair not supported ${symbol}`, symbol);
        continue;
      }
      if (params.channel === 'book') {
        if (subscribe === c.books.has(symbol)) {
          fail(c, m.method, reqId, subscribe ? 'Already subscribed' : 'Subscription Not Found', symbol);
          continue;
        }
        if (!subscribe) {
          c.books.delete(symbol);
          ack(c, 'unsubscribe', reqId, { channel: 'book', depth, symbol });
          continue;
        }
        const view = new DepthView(p.book, depth as number);
        c.books.set(symbol, view);
        ack(c, 'subscribe', reqId, { channel: 'book', depth, snapshot: true, symbol });
        send(c, bookMessage(p, 'snapshot', view.snapshot()));
      } else {
        if (subscribe === c.trades.has(symbol)) {
          fail(c, m.method, reqId, subscribe ? 'Already subscribed' : 'Subscription Not Found', symbol);
          continue;
        }
        if (!subscribe) {
          c.trades.delete(symbol);
          ack(c, 'unsubscribe', reqId, { channel: 'trade', symbol });
          continue;
        }
        c.trades.add(symbol);
        ack(c, 'subscribe', reqId, { channel: 'trade', snapshot: params.snapshot !== false, symbol });
        if (params.snapshot !== false) send(c, tradeMessage('snapshot', p.trades.slice(-50)));
      }
    }
  }

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    accepted++;
    const c: Client = { ws, books: new Map(), trades: new Set(), instrument: false, hung: false, lastSentAt: Date.now() };
    clients.add(c);
    ws.on('message', (data) => onRequest(c, data.toString()));
    ws.on('close', () => clients.delete(c));
    ws.on('error', () => clients.delete(c)); // a client that resets its socket; 'close' follows
    send(c, JSON.stringify({ channel: 'status', type: 'update', data: [{ api_version: 'v2', connection_id: accepted, system: 'online', version: '2.0.0' }] }));
  });

  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const c of clients) {
      const subscribed = c.instrument || c.books.size > 0 || c.trades.size > 0;
      if (subscribed && now - c.lastSentAt >= heartbeatMs) send(c, '{"channel":"heartbeat"}');
    }
  }, Math.max(10, heartbeatMs / 4));

  function truthAfter(symbol: string, k: number, n: number): Sides<[number, number]> {
    const p = pairOf(symbol);
    const t = p.history[k];
    if (!t) throw new Error(`kraken-server: ${symbol} has no step ${k}`);
    return { bids: p.book.numbers(t.bids.slice(0, n)), asks: p.book.numbers(t.asks.slice(0, n)) };
  }

  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/v2`,
    get connections() {
      return clients.size;
    },
    get accepted() {
      return accepted;
    },
    requests,
    pongs,
    step(symbol, ops) {
      const p = pairOf(symbol);
      p.book.apply(ops ?? randomOps(p.book, rand));
      p.history.push(truthOf(p.book));
      let dropped = false;
      for (const c of clients) {
        const view = c.books.get(symbol);
        const d = view?.diff();
        if (!d) continue;
        if (p.drop > 0) {
          dropped = true;
          continue;
        }
        send(c, bookMessage(p, 'update', d));
      }
      if (dropped) p.drop--;
      return p.history.length - 1;
    },
    stepAt(symbol, exchangeTs) {
      return exchangeTs - TS_BASE_MS;
    },
    lastStep(symbol) {
      return pairOf(symbol).history.length - 1;
    },
    truthAfter,
    truthAt(symbol, exchangeTs, n) {
      return truthAfter(symbol, exchangeTs - TS_BASE_MS, n);
    },
    trade(symbol, count = 1) {
      const p = pairOf(symbol);
      const batch: ServerTrade[] = [];
      for (let i = 0; i < count; i++) {
        const side = rand() < 0.5 ? 'buy' : 'sell';
        const ticks = side === 'buy' ? p.spec.mid + 1 : p.spec.mid - 1;
        const lots = 1 + Math.floor(rand() * 10 ** p.spec.qtyPrecision);
        const t: ServerTrade = {
          symbol, side, price: ticks / 10 ** p.spec.pricePrecision, qty: lots / 10 ** p.spec.qtyPrecision,
          ord_type: rand() < 0.5 ? 'limit' : 'market', trade_id: p.trades.length + 1, timestamp: new Date().toISOString().replace('Z', '123Z'),
        };
        p.trades.push(t);
        batch.push(t);
      }
      for (const c of clients) if (c.trades.has(symbol)) send(c, tradeMessage('update', batch));
    },
    tradeLog(symbol) {
      return pairOf(symbol).trades;
    },
    corruptChecksum(symbol, count = 1) {
      pairOf(symbol).corrupt.update += count;
    },
    corruptSnapshot(symbol, count = 1) {
      pairOf(symbol).corrupt.snapshot += count;
    },
    dropUpdates(symbol, count = 1) {
      pairOf(symbol).drop += count;
    },
    disconnect() {
      for (const c of clients) c.ws.terminate();
    },
    hang() {
      for (const c of clients) c.hung = true;
    },
    sendRaw(text) {
      for (const c of clients) send(c, text);
    },
    sendMalformed() {
      for (const c of clients) send(c, '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,');
    },
    ping() {
      for (const c of clients) send(c, JSON.stringify({ method: 'ping', req_id: ++pingId }));
    },
    async close() {
      clearInterval(heartbeat);
      for (const c of clients) c.ws.terminate();
      await new Promise<void>((resolve, reject) => wss.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
