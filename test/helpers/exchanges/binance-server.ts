// A local Binance spot exchange for connector tests: combined WebSocket streams and GET /api/v3/depth over a true book per symbol, with scriptable faults.
//
//   const ex = await startBinanceServer({ symbols: ['BTCUSDT'] });
//   connector options: { wsUrl: ex.wsUrl, restUrl: ex.restUrl }
//   ex.topAt('BTCUSDT', u, 10)    // the true top-10 after update id u
//   ex.dropNextDiff('BTCUSDT'); ex.disconnectAll(); …
//   await ex.close();
//
// The matching engine changes each book one update id at a time (every `tickMs`); the diff
// stream aggregates every `flushTicks` ticks into one event [U, u] with the final quantity of
// each changed level, as `<symbol>@depth@100ms` does. A snapshot is the engine's book *now*,
// so it is often ahead of the stream and its lastUpdateId often falls inside the next event's
// range: the cases Binance's U <= lastUpdateId+1 <= u rule exists for. Every book state is kept
// by update id, so a test can compare whatever a connector hands over with the truth.
//
// Wire formats as Binance documents them: envelopes {"stream","data"}, lower-case stream names,
// prices and quantities as strings, ping frames answered by pongs with the same payload, a
// connection closed at its age limit (Binance: 24 h), 429/418 with Retry-After in seconds.

import { mulberry32 } from '../../../src/feeds/prng.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface BinanceServerOptions {
  symbols: string[];
  /** Engine period: one or two book changes per symbol per tick; default 5 ms. */
  tickMs?: number;
  /** Ticks aggregated into one diff event; default 4. */
  flushTicks?: number;
  /** Price levels a side can hold (the grid); default 40. */
  gridLevels?: number;
  /** Chance of a trade per symbol per tick; default 0.5. */
  tradeChance?: number;
  seed?: number;
  /** Ping frame period (Binance: 20 s); default 20 s. */
  pingIntervalMs?: number;
  /** A connection that has not answered a ping by then is cut (Binance: 1 min); default 60 s. */
  pongTimeoutMs?: number;
  /** Connections are closed at this age (Binance: 24 h); default none. */
  maxConnectionAgeMs?: number;
  /** Streams one connection may listen to; default 1024. */
  maxStreams?: number;
  /** Each depth snapshot is answered this late (a slow REST round trip); default 0. */
  snapshotDelayMs?: number;
}

/** [price, quantity], best first. */
export type Levels = [number, number][];
export interface TrueBook { bids: Levels; asks: Levels }

export interface SnapshotRequestRecord {
  symbol: string;
  limit: number;
  status: number;
  at: number;
  lastUpdateId?: number;
  stale?: boolean;
}

export interface ServerConnection {
  id: number;
  streams: string[];
  openedAt: number;
  closedAt: number;
  /** How it ended: 'client', 'fault', 'age', 'pong', 'shutdown'. */
  closedBy: string;
  pongsMatched: number;
  pingsSent: number;
}

interface Conn extends ServerConnection {
  ws: WebSocket;
  depthOf: Set<string>;
  tradesOf: Set<string>;
  /** Per symbol: U of the first diff sent here. */
  firstU: Map<string, number>;
  dead: boolean;
  lastPing: string | null;
  pongDeadline: number;
  timers: NodeJS.Timeout[];
}

interface SymState {
  native: string;
  lower: string;
  bids: Map<number, string>; // grid index → quantity string
  asks: Map<number, string>;
  id: number;
  history: Map<number, TrueBook>;
  pendingFirst: number;
  pendingBids: Map<number, string>;
  pendingAsks: Map<number, string>;
  heldDiff: string | null; // reorder: sent after the next one
  drop: number;
  reorder: number;
  corrupt: number;
  staleSnapshots: number;
  tradeId: number;
  trades: { id: number; price: number; size: number; side: 'buy' | 'sell'; time: number }[];
  /** Trade ids written to each connection. */
  sentTrades: Map<number, Set<number>>;
  /** Ids of diff events flushed (U..u), in order. */
  flushed: [number, number][];
}

export interface BinanceServer {
  readonly wsUrl: string;
  readonly restUrl: string;
  /** Every connection ever accepted (open ones have closedAt 0). */
  readonly connections: readonly ServerConnection[];
  readonly snapshotRequests: readonly SnapshotRequestRecord[];
  /** The current update id of `symbol`'s book. */
  updateId(symbol: string): number;
  /** The true top-n after update id `u`, or undefined when u is not an id of this book. */
  topAt(symbol: string, u: number, n: number): TrueBook | undefined;
  /** Every trade the engine made. */
  trades(symbol: string): readonly { id: number; price: number; size: number; side: 'buy' | 'sell'; time: number }[];
  /** Trade ids written to any connection (what a client could have received). */
  tradesSent(symbol: string): Set<number>;
  /** The next `n` diff events of `symbol` are never sent. */
  dropNextDiff(symbol: string, n?: number): void;
  /** The next diff event of `symbol` is sent after the one that follows it. */
  reorderNextDiffs(symbol: string): void;
  /** The next diff of `symbol` is sent with a level that is not a number (and never correctly). */
  corruptNextDiff(symbol: string): void;
  /** The next snapshot of `symbol` is older than every diff sent on any open connection. */
  staleNextSnapshot(symbol: string): void;
  /** The next `n` snapshot requests get `status` (429 or 418) with Retry-After: seconds. */
  rateLimitNextSnapshots(n: number, retryAfterSeconds: number, status?: 429 | 418): void;
  /** Sends a message no connector should accept on every open connection. */
  sendMalformed(kind: 'json' | 'unexpected' | 'unknown-stream' | 'binary'): void;
  /** Sends Binance's serverShutdown notice on every open connection. */
  sendServerShutdown(): void;
  /** Cuts every open connection mid-stream (TCP closed, no close frame). */
  disconnectAll(): void;
  /** Stops / restarts the engine (no changes, no trades, no diffs). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

const HISTORY_IDS = 200_000;
const PRICE_BASE = 10_000; // grid index i → price (PRICE_BASE ± i) / 100

export async function startBinanceServer(opts: BinanceServerOptions): Promise<BinanceServer> {
  const tickMs = opts.tickMs ?? 5;
  const flushTicks = opts.flushTicks ?? 4;
  const grid = opts.gridLevels ?? 40;
  const tradeChance = opts.tradeChance ?? 0.5;
  const pingIntervalMs = opts.pingIntervalMs ?? 20_000;
  const pongTimeoutMs = opts.pongTimeoutMs ?? 60_000;
  const maxStreams = opts.maxStreams ?? 1024;
  const random = mulberry32(opts.seed ?? 7); // seeded, so a failing run can be repeated
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const bidPrice = (i: number): string => ((PRICE_BASE - i) / 100).toFixed(2); // i >= 1: best is 1
  const askPrice = (i: number): string => ((PRICE_BASE + i) / 100).toFixed(2);
  const qty = (): string => (int(1, 5000) / 100).toFixed(2);

  const syms = new Map<string, SymState>();
  for (const native of opts.symbols) {
    const s: SymState = {
      native, lower: native.toLowerCase(), bids: new Map(), asks: new Map(), id: 1000 + int(0, 1000), history: new Map(),
      pendingFirst: 0, pendingBids: new Map(), pendingAsks: new Map(), heldDiff: null, drop: 0, reorder: 0, corrupt: 0,
      staleSnapshots: 0, tradeId: 5000 + int(0, 1000), trades: [], sentTrades: new Map(), flushed: [],
    };
    for (let i = 1; i <= grid; i++) {
      if (random() < 0.6) s.bids.set(i, qty());
      if (random() < 0.6) s.asks.set(i, qty());
    }
    record(s);
    syms.set(native, s);
  }

  function sorted(m: Map<number, string>, price: (i: number) => string): Levels {
    return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([i, q]) => [+price(i), +q]);
  }
  function record(s: SymState): void {
    s.history.set(s.id, { bids: sorted(s.bids, bidPrice), asks: sorted(s.asks, askPrice) });
    s.history.delete(s.id - HISTORY_IDS);
  }

  const conns: Conn[] = [];
  const snapshotRequests: SnapshotRequestRecord[] = [];
  let rateLimit = { n: 0, seconds: 0, status: 429 as 429 | 418 };
  let nextConnId = 1;
  let paused = false;
  let tickNo = 0;

  const open = (): Conn[] => conns.filter((c) => !c.dead);
  const send = (c: Conn, text: string): void => {
    if (!c.dead) c.ws.send(text);
  };

  function change(s: SymState): void {
    const bid = random() < 0.5;
    const book = bid ? s.bids : s.asks;
    const i = int(1, grid);
    const q = book.has(i) && random() < 0.4 ? '0.00' : qty();
    if (q === '0.00') book.delete(i);
    else book.set(i, q);
    s.id++;
    (bid ? s.pendingBids : s.pendingAsks).set(i, q);
    record(s);
  }

  function flush(s: SymState): void {
    if (s.pendingFirst > s.id) return; // nothing changed
    const U = s.pendingFirst;
    const u = s.id;
    s.pendingFirst = u + 1;
    const b = [...s.pendingBids.entries()].map(([i, q]) => [bidPrice(i), q]);
    const a = [...s.pendingAsks.entries()].map(([i, q]) => [askPrice(i), q]);
    s.pendingBids.clear();
    s.pendingAsks.clear();
    s.flushed.push([U, u]);
    if (s.drop > 0) {
      s.drop--;
      return;
    }
    const data = { e: 'depthUpdate', E: Date.now(), s: s.native, U, u, b, a };
    if (s.corrupt > 0) {
      s.corrupt--;
      data.b = [['not-a-price', '1.00'], ...b];
    }
    const text = JSON.stringify({ stream: `${s.lower}@depth@100ms`, data });
    if (s.reorder > 0) {
      s.reorder--;
      s.heldDiff = text;
      return;
    }
    for (const c of open()) {
      if (!c.depthOf.has(s.native)) continue;
      if (!c.firstU.has(s.native)) c.firstU.set(s.native, U);
      send(c, text);
      if (s.heldDiff) send(c, s.heldDiff);
    }
    s.heldDiff = null;
  }

  function trade(s: SymState): void {
    s.tradeId++;
    const side: 'buy' | 'sell' = random() < 0.5 ? 'buy' : 'sell';
    const best = side === 'buy' ? Math.min(...s.asks.keys(), grid) : Math.min(...s.bids.keys(), grid);
    const p = side === 'buy' ? askPrice(best) : bidPrice(best);
    const q = qty();
    const T = Date.now();
    s.trades.push({ id: s.tradeId, price: +p, size: +q, side, time: T });
    // m: the buyer was the maker, so the taker sold.
    const text = JSON.stringify({ stream: `${s.lower}@trade`, data: { e: 'trade', E: T, s: s.native, t: s.tradeId, p, q, T, m: side === 'sell', M: true } });
    for (const c of open()) {
      if (!c.tradesOf.has(s.native)) continue;
      send(c, text);
      let set = s.sentTrades.get(c.id);
      if (!set) s.sentTrades.set(c.id, (set = new Set()));
      set.add(s.tradeId);
    }
  }

  // Some history before anyone connects, so there is an older book to serve as a stale snapshot.
  for (const s of syms.values()) {
    for (let j = 0; j < 50; j++) change(s);
    s.pendingBids.clear();
    s.pendingAsks.clear();
    s.pendingFirst = s.id + 1;
  }

  const engine = setInterval(() => {
    if (paused) return;
    tickNo++;
    for (const s of syms.values()) {
      const k = int(1, 2);
      for (let j = 0; j < k; j++) change(s);
      if (random() < tradeChance) trade(s);
      if (tickNo % flushTicks === 0) flush(s);
    }
  }, tickMs);

  function closeConn(c: Conn, by: string, how: 'close' | 'cut'): void {
    if (c.dead) return;
    c.dead = true;
    c.closedBy = by;
    c.closedAt = Date.now();
    for (const t of c.timers) clearTimeout(t);
    if (how === 'close') {
      c.ws.close(1000, by);
      return;
    }
    // Let what was already written reach the client, then drop the TCP connection without a close frame.
    const cut = (): void => {
      if (c.ws.bufferedAmount > 0) setTimeout(cut, 1);
      else c.ws.terminate();
    };
    setImmediate(cut);
  }

  // ── HTTP: GET /api/v3/depth ──────────────────────────────────────────────────────────────
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close', ...headers });
    res.end(JSON.stringify(body));
  };
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (opts.snapshotDelayMs) setTimeout(() => answer(req, res), opts.snapshotDelayMs);
    else answer(req, res);
  }
  function answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || url.pathname !== '/api/v3/depth') return json(res, 404, { code: -1000, msg: 'not found' });
    const native = url.searchParams.get('symbol') ?? '';
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const rec: SnapshotRequestRecord = { symbol: native, limit, status: 200, at: Date.now() };
    snapshotRequests.push(rec);
    if (rateLimit.n > 0) {
      rateLimit.n--;
      rec.status = rateLimit.status;
      return json(res, rateLimit.status, { code: -1003, msg: 'Too much request weight used; current limit is 6000 request weight per 1 MINUTE.' }, { 'retry-after': String(rateLimit.seconds) });
    }
    const s = syms.get(native);
    if (!s) {
      rec.status = 400;
      return json(res, 400, { code: -1121, msg: 'Invalid symbol.' });
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > 5000) {
      rec.status = 400;
      return json(res, 400, { code: -1100, msg: 'Illegal characters found in parameter \'limit\'.' });
    }
    let id = s.id;
    if (s.staleSnapshots > 0) {
      // Older than the first diff any open connection got, so older than anything a client buffered.
      const firsts = open().map((c) => c.firstU.get(native)).filter((u): u is number => u !== undefined);
      const oldest = s.history.keys().next().value as number;
      const older = Math.min(...firsts) - 3;
      if (firsts.length > 0 && older >= oldest) {
        s.staleSnapshots--;
        id = older;
        rec.stale = true;
      }
    }
    const book = s.history.get(id)!;
    rec.lastUpdateId = id;
    const fmt = (levels: Levels): [string, string][] => levels.slice(0, limit).map(([p, q]) => [p.toFixed(2), q.toFixed(2)]);
    json(res, 200, { lastUpdateId: id, bids: fmt(book.bids), asks: fmt(book.asks) }, { 'x-mbx-used-weight-1m': '50' });
  }

  // ── WebSocket: /stream?streams=a/b/c ────────────────────────────────────────────────────
  const wss = new WebSocketServer({ noServer: true });
  const http = createServer(onRequest);
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const streams = (url.searchParams.get('streams') ?? '').split('/').filter(Boolean);
    const refuse = (status: number, msg: string): void => {
      socket.end(`HTTP/1.1 ${status} Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ code: -1, msg })}`);
    };
    if (url.pathname !== '/stream' || streams.length === 0) return refuse(404, 'unknown path');
    if (streams.length > maxStreams) return refuse(400, `more than ${maxStreams} streams`);
    const depthOf = new Set<string>();
    const tradesOf = new Set<string>();
    for (const st of streams) {
      const m = /^([a-z0-9]+)@(depth@100ms|depth|trade)$/.exec(st);
      const s = m ? [...syms.values()].find((x) => x.lower === m[1]) : undefined;
      if (!m || !s) return refuse(400, `invalid stream ${st}`);
      (m[2] === 'trade' ? tradesOf : depthOf).add(s.native);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Conn = {
        id: nextConnId++, ws, streams, openedAt: Date.now(), closedAt: 0, closedBy: '', pongsMatched: 0, pingsSent: 0,
        depthOf, tradesOf, firstU: new Map(), dead: false, lastPing: null, pongDeadline: Infinity, timers: [],
      };
      conns.push(c);
      ws.on('pong', (payload) => {
        if (payload.toString() === c.lastPing) {
          c.pongsMatched++;
          c.pongDeadline = Infinity;
        }
      });
      ws.on('close', () => {
        if (!c.dead) {
          c.dead = true;
          c.closedBy = 'client';
          c.closedAt = Date.now();
          for (const t of c.timers) clearTimeout(t);
        }
      });
      ws.on('error', () => undefined); // a cut connection; 'close' follows
      ws.on('message', () => undefined); // market streams take no requests here
      const ping = setInterval(() => {
        if (c.dead) return;
        if (Date.now() > c.pongDeadline) return closeConn(c, 'pong', 'cut');
        c.lastPing = `${c.id}:${++c.pingsSent}`;
        if (c.pongDeadline === Infinity) c.pongDeadline = Date.now() + pongTimeoutMs;
        ws.ping(c.lastPing);
      }, pingIntervalMs);
      c.timers.push(ping);
      if (opts.maxConnectionAgeMs !== undefined) c.timers.push(setTimeout(() => closeConn(c, 'age', 'close'), opts.maxConnectionAgeMs));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;

  const sym = (symbol: string): SymState => {
    const s = syms.get(symbol.toUpperCase());
    if (!s) throw new Error(`binance-server: unknown symbol ${symbol}`);
    return s;
  };

  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    restUrl: `http://127.0.0.1:${port}`,
    connections: conns,
    snapshotRequests,
    updateId: (symbol) => sym(symbol).id,
    topAt(symbol, u, n) {
      const b = sym(symbol).history.get(u);
      return b && { bids: b.bids.slice(0, n), asks: b.asks.slice(0, n) };
    },
    trades: (symbol) => sym(symbol).trades,
    tradesSent(symbol) {
      const all = new Set<number>();
      for (const ids of sym(symbol).sentTrades.values()) for (const id of ids) all.add(id);
      return all;
    },
    dropNextDiff: (symbol, n = 1) => void (sym(symbol).drop += n),
    reorderNextDiffs: (symbol) => void (sym(symbol).reorder += 1),
    corruptNextDiff: (symbol) => void (sym(symbol).corrupt += 1),
    staleNextSnapshot: (symbol) => void (sym(symbol).staleSnapshots += 1),
    rateLimitNextSnapshots: (n, seconds, status = 429) => void (rateLimit = { n, seconds, status }),
    sendMalformed(kind) {
      for (const c of open()) {
        if (kind === 'binary') c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
        else if (kind === 'json') send(c, '{"stream":"btcusdt@trade","data":');
        else if (kind === 'unexpected') send(c, JSON.stringify({ hello: 'world' }));
        else send(c, JSON.stringify({ stream: 'nosuch@depth@100ms', data: { e: 'depthUpdate' } }));
      }
    },
    sendServerShutdown() {
      for (const c of open()) send(c, JSON.stringify({ event: { e: 'serverShutdown', E: Date.now() } }));
    },
    disconnectAll() {
      for (const c of open()) closeConn(c, 'fault', 'cut');
    },
    pause: () => void (paused = true),
    resume: () => void (paused = false),
    async close() {
      clearInterval(engine);
      for (const c of conns) {
        for (const t of c.timers) clearTimeout(t);
        c.dead = true;
        c.ws.terminate();
      }
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
