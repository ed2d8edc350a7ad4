// The Coinbase Advanced Trade market-data connector: level2 books, market_trades and heartbeats over `ws`, one or more connections.
//
//   const c = createCoinbaseConnector({ symbols: ['BTC-USD'], depth: 10, wsUrl: 'wss://advanced-trade-ws.coinbase.com', log });
//   c.start(sink); …; await c.stop();
//
// Each connection subscribes heartbeats, level2 and market_trades (one channel per subscribe
// message, as Coinbase requires) for its products; sync.ts keeps the books and the sequence.
// Heartbeats arrive every second: a connection silent for `heartbeatTimeoutMs` is dead even if
// TCP says otherwise, and is replaced. Every loss of a connection marks its symbols
// resyncing('reconnect'); reconnects are jittered (Backoff), the first within reconnectMinMs.
//
// Trade side: the docs disagree. Coinbase's REST Trade schema calls `side` the taker's; its
// Exchange feed documents the `side` of a match as the maker order's, and recorded Advanced Trade
// market trades show SELL on trades printed at the best ask (a buyer lifting a resting sell), which
// only the maker reading explains. So `tradeSideIs` defaults to 'maker' and Trade.side is the
// opposite of the wire's; 'taker' passes it through, should Coinbase's data ever say otherwise.

import WebSocket from 'ws';
import { Backoff } from '../backoff.js';
import type { Connector, ConnectorOptions, ConnectorSink, ConnectorStats } from '../connector.js';
import { createBookUpdate } from '../types.js';
import { SUB_HEARTBEATS, SUB_LEVEL2, SUB_MARKET_TRADES, subscribeMessage } from './messages.js';
import { CoinbaseSync, RESUBSCRIBE_BOOKS, RESUBSCRIBE_TRADES } from './sync.js';

export const DEFAULT_WS_URL = 'wss://advanced-trade-ws.coinbase.com';

export interface CoinbaseOptions {
  /** A connection with no message for this long is dead and is replaced (heartbeats come every second). Default 10,000 ms. */
  heartbeatTimeoutMs?: number;
  /** Which party Coinbase's market_trades `side` names; Trade.side is always the taker's. Default 'maker'. */
  tradeSideIs?: 'maker' | 'taker';
  /** Trade ids remembered per symbol to drop the repeats of a re-subscription's snapshot. Default 1,000. */
  tradeWindow?: number;
  /** Products per WebSocket connection. Default: all on one. */
  productsPerConnection?: number;
}

export type CoinbaseConnectorOptions = ConnectorOptions & CoinbaseOptions;

const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
const DEFAULT_TRADE_WINDOW = 1_000;
const DEFAULT_RECONNECT_MIN_MS = 500;
const DEFAULT_RECONNECT_MAX_MS = 15_000;
/** Coinbase product ids: BASE-QUOTE, letters and digits. */
const PRODUCT_ID = /^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$/;

interface Link {
  readonly products: readonly string[];
  readonly sync: CoinbaseSync;
  readonly backoff: Backoff;
  ws: WebSocket | null;
  connected: boolean;
  /** A book went live on the current socket: the connection works, backoff starts over. */
  heard: boolean;
  lastMessageAt: number;
  /** When the current socket was created, and opened: silence is measured from the latest of these and the last message. */
  startedAt: number;
  openedAt: number;
  messages: number;
  bytes: number;
  reconnects: number;
  retry: NodeJS.Timeout | null;
}

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer (got ${String(v)})`);
  return v;
}

function validate(opts: CoinbaseConnectorOptions): void {
  if (!Array.isArray(opts.symbols) || opts.symbols.length === 0) throw new TypeError('symbols must name at least one Coinbase product (BTC-USD)');
  const bad = opts.symbols.filter((s) => typeof s !== 'string' || !PRODUCT_ID.test(s));
  if (bad.length > 0) throw new TypeError(`symbols: not Coinbase product ids (BASE-QUOTE, upper case): ${bad.join(', ')}`);
  if (new Set(opts.symbols).size !== opts.symbols.length) throw new TypeError('symbols: a product is listed twice');
  positiveInt('depth', opts.depth, 1);
  if (typeof opts.wsUrl !== 'string' || !/^wss?:\/\//.test(opts.wsUrl)) throw new TypeError(`wsUrl must be a ws:// or wss:// URL (got ${String(opts.wsUrl)})`);
  if (opts.tradeSideIs !== undefined && opts.tradeSideIs !== 'maker' && opts.tradeSideIs !== 'taker') {
    throw new TypeError(`tradeSideIs must be 'maker' or 'taker' (got ${String(opts.tradeSideIs)})`);
  }
}

const rawLength = (data: WebSocket.RawData): number =>
  Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;

const rawText = (data: WebSocket.RawData): string =>
  Buffer.isBuffer(data) ? data.toString('utf8')
    : Array.isArray(data) ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data).toString('utf8');

export function createCoinbaseConnector(opts: CoinbaseConnectorOptions): Connector {
  validate(opts);
  const heartbeatTimeoutMs = positiveInt('heartbeatTimeoutMs', opts.heartbeatTimeoutMs, DEFAULT_HEARTBEAT_TIMEOUT_MS);
  const tradeWindow = positiveInt('tradeWindow', opts.tradeWindow, DEFAULT_TRADE_WINDOW);
  const perLink = positiveInt('productsPerConnection', opts.productsPerConnection, opts.symbols.length);
  const reconnectMinMs = positiveInt('reconnectMinMs', opts.reconnectMinMs, DEFAULT_RECONNECT_MIN_MS);
  const reconnectMaxMs = Math.max(reconnectMinMs, positiveInt('reconnectMaxMs', opts.reconnectMaxMs, DEFAULT_RECONNECT_MAX_MS));
  const log = opts.log;
  const links: Link[] = [];
  let sink: ConnectorSink | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  let stopping = false;
  let stopped: Promise<void> | null = null;

  const send = (link: Link, text: string): void => {
    // A socket closing under us refuses the send; its close event reconnects.
    link.ws?.send(text, (err) => {
      if (err && !stopping) log.debug('coinbase: send failed', { error: err.message });
    });
  };

  const subscribe = (link: Link, type: 'subscribe' | 'unsubscribe', channel: string): void => {
    send(link, subscribeMessage(type, channel, link.products));
    if (type === 'subscribe' && channel === SUB_LEVEL2) link.sync.snapshotsRequested();
  };

  const connect = (link: Link): void => {
    link.retry = null;
    if (stopping) return;
    const ws = new WebSocket(opts.wsUrl, { perMessageDeflate: false, handshakeTimeout: heartbeatTimeoutMs });
    link.ws = ws;
    link.heard = false;
    link.startedAt = Date.now();
    link.sync.opened();
    ws.on('open', () => {
      if (link.ws !== ws || stopping) return;
      link.connected = true;
      link.openedAt = Date.now();
      // Heartbeats first: they keep the others open when a product is quiet.
      subscribe(link, 'subscribe', SUB_HEARTBEATS);
      subscribe(link, 'subscribe', SUB_LEVEL2);
      subscribe(link, 'subscribe', SUB_MARKET_TRADES);
    });
    ws.on('message', (data: WebSocket.RawData) => {
      if (link.ws !== ws || stopping) return; // a replaced socket's leftovers, or after stop(): no sink call
      link.messages++;
      link.bytes += rawLength(data);
      link.lastMessageAt = Date.now();
      const action = link.sync.onText(rawText(data));
      // Not at the first message: a server that accepts, says "error" and hangs up would be retried at full speed.
      if (!link.heard && link.sync.anyLive()) {
        link.heard = true;
        link.backoff.reset();
      }
      if (action & RESUBSCRIBE_BOOKS) {
        // Coinbase recovers a book by a new subscription: its first message is a fresh snapshot.
        subscribe(link, 'unsubscribe', SUB_LEVEL2);
        subscribe(link, 'subscribe', SUB_LEVEL2);
      }
      if (action & RESUBSCRIBE_TRADES) {
        subscribe(link, 'unsubscribe', SUB_MARKET_TRADES);
        subscribe(link, 'subscribe', SUB_MARKET_TRADES);
      }
    });
    ws.on('error', (err: Error) => {
      if (link.ws === ws && !stopping) log.warn('coinbase: connection error', { url: opts.wsUrl, error: err.message });
    });
    ws.on('close', (code: number) => {
      if (link.ws !== ws) return; // replaced already: its loss was handled when it was dropped
      drop(link, `closed (${code})`);
    });
  };

  /** Forgets the link's socket, resyncs its symbols and schedules the next attempt. */
  const drop = (link: Link, why: string): void => {
    const ws = link.ws;
    link.ws = null;
    link.connected = false;
    if (ws !== null) ws.terminate();
    if (stopping) return;
    link.sync.lost('reconnect');
    const delay = link.backoff.next();
    link.reconnects++;
    log.warn('coinbase: connection lost, reconnecting', { url: opts.wsUrl, why, inMs: delay });
    link.retry = setTimeout(connect, delay, link);
  };

  /** Heartbeats come every second; silence means a dead connection whatever TCP believes. */
  const check = (): void => {
    const now = Date.now();
    for (const link of links) {
      if (link.ws === null) continue;
      const since = Math.max(link.startedAt, link.openedAt, link.lastMessageAt); // the older two may be a previous socket's
      if (now - since > heartbeatTimeoutMs) drop(link, `no message for ${now - since} ms`);
    }
  };

  return {
    start(s: ConnectorSink): void {
      if (sink !== null) throw new Error('coinbase connector: start() called twice');
      sink = s;
      const update = createBookUpdate(opts.depth); // one for the connector: the sink copies it before returning
      for (let i = 0; i < opts.symbols.length; i += perLink) {
        const products = opts.symbols.slice(i, i + perLink);
        links.push({
          products,
          sync: new CoinbaseSync({ products, depth: opts.depth, tradeSideIs: opts.tradeSideIs ?? 'maker', tradeWindow }, s, update),
          backoff: new Backoff(reconnectMinMs, reconnectMaxMs),
          ws: null, connected: false, heard: false, lastMessageAt: 0, startedAt: 0, openedAt: 0, messages: 0, bytes: 0, reconnects: 0, retry: null,
        });
      }
      watchdog = setInterval(check, Math.max(10, Math.min(1000, Math.floor(heartbeatTimeoutMs / 4))));
      for (const link of links) connect(link);
    },

    stop(): Promise<void> {
      if (stopped !== null) return stopped;
      stopping = true;
      if (watchdog !== null) clearInterval(watchdog);
      const closing: Promise<void>[] = [];
      for (const link of links) {
        if (link.retry !== null) clearTimeout(link.retry);
        const ws = link.ws;
        if (ws === null) continue;
        link.connected = false;
        if (ws.readyState !== WebSocket.CLOSED) closing.push(new Promise((resolve) => ws.once('close', () => resolve())));
        ws.terminate();
      }
      stopped = Promise.all(closing).then(() => undefined);
      return stopped;
    },

    stats(): ConnectorStats {
      const now = Date.now();
      const out: ConnectorStats = { exchange: 'coinbase', connections: [], symbols: {}, malformed: {} };
      for (const link of links) {
        out.connections.push({
          url: opts.wsUrl,
          connected: link.connected,
          lastMessageAgeMs: link.messages === 0 ? -1 : now - link.lastMessageAt,
          messages: link.messages,
          bytes: link.bytes,
          reconnects: link.reconnects,
        });
        for (const s of link.sync.symbols()) {
          out.symbols[s.served] = {
            state: s.live ? 'live' : 'resyncing',
            resyncs: { ...s.counters.resyncs },
            checksumFailures: 0, // level2 carries no checksum
            snapshotRequests: s.counters.snapshotRequests,
            rateLimitWaits: 0, // market data needs no REST calls
            books: s.counters.books,
            trades: s.counters.trades,
          };
        }
        for (const [kind, n] of Object.entries(link.sync.malformed)) out.malformed[kind] = (out.malformed[kind] ?? 0) + n;
      }
      return out;
    },
  };
}
