// The Kraken spot WebSocket v2 connector: checksum-verified top-N books and trades of the configured pairs, over one connection.
//
//   const c = createKrakenConnector({ symbols: ['BTC/USD'], depth: 10, wsUrl: KRAKEN_WS_URL, log });
//   c.start(sink); … await c.stop();
//
// On each connection: subscribe `instrument` (each pair's price and qty precision: without them
// no checksum can be computed) and `trade` with a snapshot; once the instrument snapshot is in,
// `book` at the smallest Kraken depth ≥ max(depth, 10). A checksum mismatch or an unreadable book
// message marks the pair resyncing and re-subscribes its book alone (unsubscribe + subscribe
// brings a fresh snapshot): the first time at once, repeats paced by a backoff so a pair that
// keeps failing cannot hammer the exchange's subscription limits. A lost or silent connection
// marks every live pair resyncing and reconnects with a jittered backoff.

import WebSocket from 'ws';
import { Backoff } from '../backoff.js';
import type { Connector, ConnectorOptions, ConnectorSink, ConnectorStats } from '../connector.js';
import { createBookUpdate, KIND_SNAPSHOT, type BookUpdate } from '../types.js';
import { KrakenBook } from './book-state.js';
import * as wire from './messages.js';
import { TradeWindow } from '../trade-window.js';

export interface KrakenConnectorOptions extends ConnectorOptions {
  /** Silence after which an application ping is sent, ms (Kraken sends a heartbeat about every second while subscribed). Default 5000. */
  pingAfterMs?: number;
  /** Silence after which the connection is taken for dead and replaced, ms. Default 15000. */
  staleAfterMs?: number;
  /** Trade ids remembered per pair to drop repeats (a trade snapshot repeats the last 50). Default 1000. */
  tradeWindow?: number;
  /** The backoffs' jitter source (tests pin it). */
  random?: () => number;
}

/** A pair that was live this long has its re-subscription backoff start over. */
const RESYNC_QUIET_MS = 10_000;
/** stop(): how long a close handshake may take before the socket is cut. */
const CLOSE_WAIT_MS = 1_000;

interface Pair {
  pair: string;
  served: string;
  book: KrakenBook;
  seen: TradeWindow<number>;
  /** A book subscription was sent on the current connection. */
  bookSubscribed: boolean;
  resubscribe: Backoff;
  resubscribeAttempts: number;
  resubscribeTimer: NodeJS.Timeout | undefined;
  /** When the pair last became live (0: not live since the last resync request). */
  liveSince: number;
  resyncs: Record<string, number>;
  checksumFailures: number;
  snapshotRequests: number;
  rateLimitWaits: number;
  books: number;
  trades: number;
}

class KrakenConnector implements Connector {
  private readonly pairs = new Map<string, Pair>();
  private readonly update: BookUpdate;
  private readonly bookDepth: number;
  private readonly backoff: Backoff;
  private readonly pingAfterMs: number;
  private readonly staleAfterMs: number;
  private sink: ConnectorSink | undefined;
  private ws: WebSocket | undefined;
  private connected = false;
  private stopped = false;
  private booksRequested = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastMessageAt = 0;
  private pingSentAt = 0;
  private messages = 0;
  private bytes = 0;
  private reconnects = 0;
  private reqId = 0;
  /** Requests whose acks are still due, by req_id: error acks name the symbol but not the channel. */
  private readonly pending = new Map<number, { channel: string; acks: number }>();
  private readonly malformedCounts: Record<string, number> = {};

  constructor(private readonly opts: KrakenConnectorOptions) {
    if (!Array.isArray(opts.symbols) || opts.symbols.length === 0) throw new TypeError('symbols: at least one Kraken pair is needed (BTC/USD or BTC-USD)');
    let url: URL;
    try {
      url = new URL(opts.wsUrl);
    } catch {
      throw new TypeError(`wsUrl: "${opts.wsUrl}" is not a URL (Kraken's is ${wire.KRAKEN_WS_URL})`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`wsUrl: "${opts.wsUrl}" is not a ws:// or wss:// URL`);
    if (!Number.isInteger(opts.depth) || opts.depth < 1) throw new RangeError(`depth: a positive number of levels, got ${opts.depth}`);
    this.bookDepth = wire.subscriptionDepth(Math.max(opts.depth, 10));
    const tradeWindow = opts.tradeWindow ?? 1000;
    if (!Number.isInteger(tradeWindow) || tradeWindow <= 50) throw new RangeError(`tradeWindow: more than the 50 trades of a trade snapshot, got ${tradeWindow}`);
    this.pingAfterMs = opts.pingAfterMs ?? 5_000;
    this.staleAfterMs = opts.staleAfterMs ?? 15_000;
    if (!(this.pingAfterMs > 0) || !(this.staleAfterMs > this.pingAfterMs)) throw new RangeError('staleAfterMs: must exceed pingAfterMs (both > 0)');
    const minMs = opts.reconnectMinMs ?? 500;
    const maxMs = opts.reconnectMaxMs ?? 15_000;
    this.backoff = new Backoff(minMs, maxMs, opts.random);
    for (const s of opts.symbols) {
      const pair = wire.krakenPair(s);
      if (!pair) throw new TypeError(`symbols: "${s}" is not a Kraken pair (BTC/USD or BTC-USD)`);
      if (this.pairs.has(pair)) continue;
      this.pairs.set(pair, {
        pair, served: wire.servedName(pair), book: new KrakenBook(this.bookDepth), seen: new TradeWindow(tradeWindow),
        bookSubscribed: false, resubscribe: new Backoff(minMs, maxMs, opts.random), resubscribeAttempts: 0, resubscribeTimer: undefined,
        liveSince: 0, resyncs: {}, checksumFailures: 0, snapshotRequests: 0, rateLimitWaits: 0, books: 0, trades: 0,
      });
    }
    this.update = createBookUpdate(opts.depth);
  }

  start(sink: ConnectorSink): void {
    if (this.sink) throw new Error('kraken connector: start() called twice');
    this.sink = sink;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.idleTimer);
    for (const p of this.pairs.values()) clearTimeout(p.resubscribeTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS);
      ws.once('close', () => {
        clearTimeout(cut);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    });
  }

  stats(): ConnectorStats {
    const now = Date.now();
    const symbols: ConnectorStats['symbols'] = {};
    for (const p of this.pairs.values()) {
      symbols[p.served] = {
        state: p.book.isLive ? 'live' : 'resyncing', resyncs: { ...p.resyncs }, checksumFailures: p.checksumFailures,
        snapshotRequests: p.snapshotRequests, rateLimitWaits: p.rateLimitWaits, books: p.books, trades: p.trades,
      };
    }
    return {
      exchange: 'kraken',
      connections: [{
        url: this.opts.wsUrl, connected: this.connected, lastMessageAgeMs: this.lastMessageAt ? now - this.lastMessageAt : -1,
        messages: this.messages, bytes: this.bytes, reconnects: this.reconnects,
      }],
      symbols,
      malformed: { ...this.malformedCounts },
    };
  }

  // ---- connection ----

  private connect(): void {
    this.reconnectTimer = undefined;
    const ws = new WebSocket(this.opts.wsUrl, { handshakeTimeout: this.staleAfterMs });
    this.ws = ws;
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data: WebSocket.RawData) => this.onMessage(ws, data));
    ws.on('close', () => this.onClose(ws));
    // 'close' follows every 'error'; the reconnect happens there.
    ws.on('error', (e: Error) => {
      if (ws === this.ws && !this.stopped) this.opts.log.warn('kraken: connection error', { url: this.opts.wsUrl, error: e.message });
    });
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws || this.stopped) return;
    this.connected = true;
    this.lastMessageAt = Date.now();
    this.pingSentAt = 0;
    this.opts.log.info('kraken: connected', { url: this.opts.wsUrl, pairs: this.pairs.size });
    this.idleTimer = setInterval(() => this.checkIdle(ws), Math.max(50, Math.min(this.pingAfterMs, this.staleAfterMs - this.pingAfterMs) / 2));
    this.request('instrument', 1, wire.subscribeInstrument);
    const all = [...this.pairs.keys()];
    this.request('trade', all.length, (id) => wire.subscribeTrade(all, id));
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.connected = false;
    this.booksRequested = false;
    this.pending.clear();
    clearInterval(this.idleTimer);
    for (const p of this.pairs.values()) {
      clearTimeout(p.resubscribeTimer);
      p.resubscribeTimer = undefined;
      p.bookSubscribed = false;
      const wasLive = p.book.desync();
      if (!this.stopped) this.announce(p, 'reconnect', wasLive);
    }
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.opts.log.warn('kraken: disconnected, reconnecting', { url: this.opts.wsUrl, inMs: delay });
    this.reconnectTimer = setTimeout(() => {
      this.reconnects++;
      this.connect();
    }, delay);
  }

  /** Kraken sends a heartbeat about every second while subscribed: silence means a dead link, which TCP may take minutes to notice. */
  private checkIdle(ws: WebSocket): void {
    if (ws !== this.ws) return;
    const now = Date.now();
    const silent = now - this.lastMessageAt;
    if (silent >= this.staleAfterMs) {
      this.opts.log.warn('kraken: no message, replacing the connection', { silentMs: silent });
      ws.terminate();
    } else if (silent >= this.pingAfterMs && this.pingSentAt === 0) {
      this.pingSentAt = now;
      this.send(wire.ping(++this.reqId));
    }
  }

  private send(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** Sends a request expecting `acks` acknowledgements (Kraken acks each symbol of a subscription separately). */
  private request(channel: string, acks: number, make: (reqId: number) => string): void {
    const id = ++this.reqId;
    this.pending.set(id, { channel, acks });
    this.send(make(id));
  }

  // ---- messages ----

  private onMessage(ws: WebSocket, data: WebSocket.RawData): void {
    if (ws !== this.ws || this.stopped) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.lastMessageAt = Date.now();
    this.pingSentAt = 0;
    this.messages++;
    this.bytes += buf.length;
    const m = wire.parseMessage(buf.toString('utf8'));
    switch (m.type) {
      case 'book': return this.onBook(m.snapshot, m.books, m.bad);
      case 'trade': return this.onTrade(m.trades, m.bad);
      case 'instrument': return this.onInstrument(m.snapshot, m.pairs);
      case 'ack': return this.onAck(m);
      case 'ping': return this.send(wire.pong(m.reqId));
      case 'status':
        if (m.system !== 'online') this.opts.log.warn('kraken: exchange status', { system: m.system });
        return;
      case 'heartbeat':
      case 'pong':
        return;
      case 'malformed': return this.malformed(m.kind, m.detail);
    }
  }

  private onInstrument(snapshot: boolean, infos: wire.PairInfo[]): void {
    for (const i of infos) {
      const p = this.pairs.get(i.symbol);
      if (p) p.book.precision = { price: i.pricePrecision, qty: i.qtyPrecision };
    }
    if (snapshot && !this.booksRequested) {
      this.booksRequested = true;
      this.backoff.reset(); // the exchange answers: the next failure starts from the first delay
      for (const p of this.pairs.values()) {
        if (!p.book.precision) this.malformed('unknown_pair', `${p.pair} is not in Kraken's instrument list: its book is not subscribed`);
      }
    }
    if (!this.booksRequested) return;
    // Also after an instrument update: a pair listed late is subscribed then.
    const ready = [...this.pairs.values()].filter((p) => p.book.precision && !p.bookSubscribed);
    if (ready.length === 0) return;
    for (const p of ready) {
      p.bookSubscribed = true;
      p.snapshotRequests++;
    }
    const names = ready.map((p) => p.pair);
    this.request('book', names.length, (id) => wire.subscribeBook(names, this.bookDepth, id));
  }

  private onBook(snapshot: boolean, books: wire.BookData[], bad: wire.BadEntry[]): void {
    for (const b of books) {
      const p = this.pairs.get(b.symbol);
      if (!p) {
        this.malformed('unexpected', `book for ${b.symbol}, which is not subscribed`);
        continue;
      }
      const step = snapshot ? p.book.snapshot(b.bids, b.asks, b.checksum) : p.book.update(b.bids, b.asks, b.checksum);
      switch (step) {
        case 'book':
          this.handOver(p, b.timestampMs);
          break;
        case 'mismatch':
          p.checksumFailures++;
          this.opts.log.warn('kraken: book checksum mismatch, re-subscribing', { symbol: p.served, snapshot });
          this.announce(p, 'checksum', p.book.wasLive);
          this.requestSnapshot(p);
          break;
        case 'unverifiable':
          this.malformed('no_precision', `book for ${p.pair} before its precision is known`);
          this.announce(p, 'no_precision', p.book.wasLive);
          break;
        case 'ignored':
          break;
      }
    }
    for (const e of bad) {
      this.malformed('book', e.symbol ? `${e.symbol}: ${e.detail}` : e.detail);
      const p = e.symbol === undefined ? undefined : this.pairs.get(e.symbol);
      if (!p) continue;
      // The update was lost with it: the book cannot be proven until a fresh snapshot.
      this.announce(p, 'malformed', p.book.desync());
      this.requestSnapshot(p);
    }
  }

  private handOver(p: Pair, exchangeTs: number): void {
    const u = this.update;
    u.symbol = p.served;
    u.kind = KIND_SNAPSHOT;
    u.exchangeTs = exchangeTs;
    p.book.book.fill(u, this.opts.depth);
    if (p.book.reset) p.liveSince = Date.now();
    p.books++;
    this.sink!.book(u, p.book.reset, p.book.verified);
  }

  private onTrade(trades: wire.TradeData[], bad: wire.BadEntry[]): void {
    for (const t of trades) {
      const p = this.pairs.get(t.symbol);
      if (!p) {
        this.malformed('unexpected', `trade for ${t.symbol}, which is not subscribed`);
        continue;
      }
      if (!p.seen.add(t.tradeId)) continue;
      p.trades++;
      this.sink!.trade({ symbol: p.served, tradeId: String(t.tradeId), price: t.price, size: t.qty, side: t.side, exchangeTs: t.timestampMs });
    }
    for (const e of bad) this.malformed('trade', e.symbol ? `${e.symbol}: ${e.detail}` : e.detail);
  }

  private onAck(m: Extract<wire.KrakenMessage, { type: 'ack' }>): void {
    const req = m.reqId === undefined ? undefined : this.pending.get(m.reqId);
    if (req && --req.acks <= 0) this.pending.delete(m.reqId!);
    if (m.success || m.method === 'unsubscribe') return; // an unsubscribe of what is already gone is harmless
    const channel = m.channel ?? req?.channel ?? 'unknown';
    this.malformed('rejected', `subscribe ${channel} ${m.symbol ?? ''}: ${m.error ?? 'no reason given'}`);
    if (channel === 'instrument') {
      this.ws?.terminate(); // no precisions, no checksums: start over after the backoff
      return;
    }
    const p = m.symbol === undefined ? undefined : this.pairs.get(m.symbol);
    if (channel === 'book' && p) this.requestSnapshot(p);
  }

  // ---- resync ----

  /** Says once that the pair is not in sync any more (only when it was). */
  private announce(p: Pair, reason: string, wasLive: boolean): void {
    if (!wasLive) return;
    p.resyncs[reason] = (p.resyncs[reason] ?? 0) + 1;
    this.sink!.resyncing(p.served, reason);
  }

  private requestSnapshot(p: Pair): void {
    if (p.resubscribeTimer || !this.connected || !p.bookSubscribed) return;
    if (p.liveSince && Date.now() - p.liveSince >= RESYNC_QUIET_MS) {
      p.resubscribeAttempts = 0;
      p.resubscribe.reset();
    }
    p.liveSince = 0;
    const delay = p.resubscribeAttempts++ === 0 ? 0 : p.resubscribe.next();
    if (delay === 0) return this.resubscribe(p);
    p.rateLimitWaits++;
    p.resubscribeTimer = setTimeout(() => {
      p.resubscribeTimer = undefined;
      this.resubscribe(p);
    }, delay);
  }

  private resubscribe(p: Pair): void {
    if (!this.connected) return;
    p.snapshotRequests++;
    this.request('book', 1, (id) => wire.unsubscribeBook([p.pair], this.bookDepth, id));
    this.request('book', 1, (id) => wire.subscribeBook([p.pair], this.bookDepth, id));
  }

  private malformed(kind: string, detail: string): void {
    this.malformedCounts[kind] = (this.malformedCounts[kind] ?? 0) + 1;
    this.sink?.malformed(kind, detail);
  }
}

/** A Kraken spot v2 connector for `opts.symbols` (`BTC/USD` or `BTC-USD`), served as `KRAKEN.BTC-USD`. Bad options throw TypeError/RangeError naming the option. */
export function createKrakenConnector(opts: KrakenConnectorOptions): Connector {
  return new KrakenConnector(opts);
}

export { KRAKEN_WS_URL } from './messages.js';
