// The Binance spot connector: combined-stream connections, a paced snapshot queue, 24 h rotation and reconnects around one DepthSync per symbol and connection.
//
//   const c = createBinanceConnector({ symbols: ['BTCUSDT'], depth: 10, wsUrl: 'wss://stream.binance.com:9443', log });
//   c.start(sink);  …  await c.stop();
//
// Needs nothing but its options and a ConnectorSink, so it runs the same in a worker thread.
//
// Symbols are split into groups of at most maxStreamsPerConnection / 2 (a depth and a trade
// stream each); a group is one logical connection. Books: every DepthSync of every open
// connection of the group may hand over, and a book is handed over only when its update id is
// above the last one handed over for that symbol. So while two connections overlap (rotation),
// whichever is ahead serves, each book handed over is the exchange's at its id, and ids only
// rise: the switch needs no coordination and shows no gap. A symbol is `resyncing` only when no
// connection has it in sync.
//
// Trades: every open connection delivers them, and a window of recent trade ids per symbol
// drops the repeats of an overlap. Binance does not replay trades, so those made while no
// connection was open (between a cut and the reconnect) are lost; the skipped ids are counted
// (tradesMissed) and logged, nothing more can be done on the stream.

import WebSocket from 'ws';
import type { Connector, ConnectorOptions, ConnectorSink, ConnectorStats } from '../connector.js';
import { Backoff } from '../backoff.js';
import { createBookUpdate, KIND_SNAPSHOT, type BookUpdate } from '../types.js';
import { DepthSync } from './depth-sync.js';
import {
  asEnvelope, checkDepthEvent, checkSnapshot, checkTradeEvent, combinedStreamUrl, depthStream, isRequestReply,
  isServerShutdown, MAX_SNAPSHOT_LIMIT, MAX_STREAMS_PER_CONNECTION, retryAfterMs, snapshotUrl, tradeStream,
  type DepthEvent, type DepthSnapshot, type TradeEvent,
} from './messages.js';
import { TradeWindow } from './trade-window.js';

export interface BinanceConnectorOptions extends ConnectorOptions {
  /** REST base for GET /api/v3/depth; default https://api.binance.com. */
  restUrl?: string;
  /** `limit` of each snapshot request (1..5000, at least `depth`); default 1000. */
  snapshotLimit?: number;
  /** Age at which a connection is replaced, before Binance closes it at 24 h; default 23 h 50 min. */
  rotateMs?: number;
  /** How long a replaced connection waits for its successor to sync every symbol; default 5 min. */
  rotateGraceMs?: number;
  /** Snapshot requests in flight at once, for all symbols (REST weight is per IP); default 2. */
  snapshotConcurrency?: number;
  /** A snapshot request that has not answered by then is retried; default 10 s. */
  snapshotTimeoutMs?: number;
  /** Streams per connection (two per symbol), at most Binance's 1024; default 1024. */
  maxStreamsPerConnection?: number;
  /** Diff events kept per symbol while its snapshot is awaited; default 1000. */
  maxBufferedEvents?: number;
  /** Trade ids remembered per symbol to drop repeats; default 4096. */
  tradeWindow?: number;
  /** Diff stream speed: `<symbol>@depth@100ms` or `<symbol>@depth` (1000 ms); default 100ms. */
  updateSpeed?: '100ms' | '1000ms';
  /** A connection silent this long (no message, no ping; Binance pings every 20 s) is cut; default 60 s. */
  idleTimeoutMs?: number;
  /** WebSocket handshake timeout; default 10 s. */
  connectTimeoutMs?: number;
}

const DAY_MS = 24 * 3600_000;
const DEFAULTS = {
  restUrl: 'https://api.binance.com',
  snapshotLimit: 1000,
  rotateMs: DAY_MS - 10 * 60_000,
  rotateGraceMs: 5 * 60_000,
  snapshotConcurrency: 2,
  snapshotTimeoutMs: 10_000,
  maxStreamsPerConnection: MAX_STREAMS_PER_CONNECTION,
  maxBufferedEvents: 1000,
  tradeWindow: 4096,
  updateSpeed: '100ms' as const,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 15_000,
};
/** Longest URL shown in stats: a 1024-stream URL is ~20 kB. */
const STATS_URL_CHARS = 120;
/** A polite close that gets no answer is cut after this. */
const CLOSE_GRACE_MS = 1000;

type Resolved = Required<Omit<BinanceConnectorOptions, 'log' | 'symbols'>> & { symbols: string[]; log: BinanceConnectorOptions['log'] };

interface Sym {
  native: string;
  name: string;
  group: Group;
  /** In sync as far as the sink knows: a book was taken since the last `resyncing`. */
  live: boolean;
  /** Update id of the last book handed over (-1: the next one is a reset). */
  servedSeq: number;
  trades: TradeWindow;
  resyncs: Record<string, number>;
  snapshotRequests: number;
  rateLimitWaits: number;
  books: number;
  tradeCount: number;
}

interface Conn {
  id: number;
  ws: WebSocket;
  machines: Map<string, DepthSync>;
  opened: boolean;
  /** We are closing it: whatever it still says is ignored. */
  closing: boolean;
  dead: boolean;
  /** Old enough to be replaced (its replacement may have to wait for an earlier one to finish). */
  rotateDue: boolean;
  lastError: string;
  lastActivity: number;
  rotateTimer: NodeJS.Timeout | null;
  idleTimer: NodeJS.Timeout | null;
  closed: Promise<void>;
}

interface Group {
  url: string;
  syms: Sym[];
  /** Oldest first; more than one only while rotating. */
  conns: Conn[];
  backoff: Backoff;
  reconnectTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
  reconnects: number;
  messages: number;
  bytes: number;
  lastMessageAt: number;
}

interface SnapshotJob {
  conn: Conn;
  sym: Sym;
  machine: DepthSync;
}

export function createBinanceConnector(opts: BinanceConnectorOptions): BinanceConnector {
  return new BinanceConnector(opts);
}

export class BinanceConnector implements Connector {
  private readonly o: Resolved;
  private readonly groups: Group[] = [];
  /** Every socket not yet closed, including replaced ones still closing: stop() waits for them all. */
  private readonly sockets = new Set<Conn>();
  private readonly bySymbol = new Map<string, Sym>();
  /** Stream name → its symbol and kind: one lookup per message, no string building. */
  private readonly routes = new Map<string, { sym: Sym; depth: boolean }>();
  private readonly update: BookUpdate;
  private readonly malformedCounts: Record<string, number> = {};
  private sink: ConnectorSink | null = null;
  private stopped = false;
  private nextConnId = 1;
  private readonly queue: SnapshotJob[] = [];
  private inFlight = 0;
  private pausedUntil = 0;
  private pumpTimer: NodeJS.Timeout | null = null;
  private readonly restBackoff: Backoff;
  private readonly aborts = new Set<AbortController>();
  /** Trades dropped as repeats (rotation overlaps), and as too far behind the highest id to tell. */
  tradeRepeats = 0;
  tradesOutOfWindow = 0;
  /** Trade ids skipped between two delivered trades: trades made while no connection was open. */
  tradesMissed = 0;

  constructor(opts: BinanceConnectorOptions) {
    this.o = resolveOptions(opts);
    this.update = createBookUpdate(this.o.depth);
    this.update.kind = KIND_SNAPSHOT;
    this.restBackoff = new Backoff(this.o.reconnectMinMs, this.o.reconnectMaxMs);
    const perConn = Math.floor(this.o.maxStreamsPerConnection / 2);
    for (let i = 0; i < this.o.symbols.length; i += perConn) {
      const natives = this.o.symbols.slice(i, i + perConn);
      const streams = natives.flatMap((s) => [depthStream(s, this.o.updateSpeed), tradeStream(s)]);
      const g: Group = {
        url: combinedStreamUrl(this.o.wsUrl, streams), syms: [], conns: [], reconnectTimer: null, graceTimer: null,
        backoff: new Backoff(this.o.reconnectMinMs, this.o.reconnectMaxMs), reconnects: 0, messages: 0, bytes: 0, lastMessageAt: 0,
      };
      for (const native of natives) {
        const sym: Sym = {
          native, name: `BINANCE.${native}`, group: g, live: false, servedSeq: -1, trades: new TradeWindow(this.o.tradeWindow),
          resyncs: {}, snapshotRequests: 0, rateLimitWaits: 0, books: 0, tradeCount: 0,
        };
        g.syms.push(sym);
        this.bySymbol.set(native, sym);
        this.routes.set(depthStream(native, this.o.updateSpeed), { sym, depth: true });
        this.routes.set(tradeStream(native), { sym, depth: false });
      }
      this.groups.push(g);
    }
  }

  start(sink: ConnectorSink): void {
    if (this.sink) throw new Error('BinanceConnector.start: already started');
    this.sink = sink;
    // Nothing is in sync yet: the contract's "resyncing, once" holds from the start.
    for (const sym of this.bySymbol.values()) sink.resyncing(sym.name, 'start');
    for (const g of this.groups) this.openConn(g);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    for (const ac of this.aborts) ac.abort();
    this.queue.length = 0;
    for (const g of this.groups) {
      if (g.reconnectTimer) clearTimeout(g.reconnectTimer);
      if (g.graceTimer) clearTimeout(g.graceTimer);
    }
    const closing = [...this.sockets];
    for (const c of closing) this.closeConn(c);
    await Promise.all(closing.map((c) => c.closed));
  }

  stats(): ConnectorStats {
    const now = Date.now();
    const symbols: ConnectorStats['symbols'] = {};
    for (const s of this.bySymbol.values()) {
      symbols[s.name] = {
        state: s.live ? 'live' : 'resyncing', resyncs: { ...s.resyncs }, checksumFailures: 0,
        snapshotRequests: s.snapshotRequests, rateLimitWaits: s.rateLimitWaits, books: s.books, trades: s.tradeCount,
      };
    }
    return {
      exchange: 'binance',
      connections: this.groups.map((g) => ({
        url: g.url.length > STATS_URL_CHARS ? `${g.url.slice(0, STATS_URL_CHARS)}…(${g.syms.length * 2} streams)` : g.url,
        connected: g.conns.some((c) => c.opened && !c.dead),
        lastMessageAgeMs: g.lastMessageAt > 0 ? now - g.lastMessageAt : -1,
        messages: g.messages,
        bytes: g.bytes,
        reconnects: g.reconnects,
      })),
      symbols,
      malformed: { ...this.malformedCounts },
    };
  }

  // ── connections ────────────────────────────────────────────────────────────────────────

  private openConn(g: Group): void {
    if (this.stopped) return;
    const ws = new WebSocket(g.url, { handshakeTimeout: this.o.connectTimeoutMs, perMessageDeflate: false });
    let closedResolve!: () => void;
    const c: Conn = {
      id: this.nextConnId++, ws, machines: new Map(), opened: false, closing: false, dead: false, rotateDue: false, lastError: '', lastActivity: Date.now(),
      rotateTimer: null, idleTimer: null, closed: new Promise((r) => (closedResolve = r)),
    };
    for (const sym of g.syms) {
      const machine: DepthSync = new DepthSync({
        book: (seq, ts, fresh) => this.handOver(g, c, sym, machine, seq, ts, fresh),
        requestSnapshot: () => this.enqueueSnapshot({ conn: c, sym, machine }),
        lost: (reason) => this.machineLost(c, sym, reason),
      }, { depth: this.o.depth, snapshotLimit: this.o.snapshotLimit, maxBuffered: this.o.maxBufferedEvents });
      c.machines.set(sym.native, machine);
    }
    g.conns.push(c);
    this.sockets.add(c);
    ws.on('open', () => {
      c.opened = true;
      c.lastActivity = Date.now();
      this.o.log.info('binance: connected', { conn: c.id, streams: g.syms.length * 2 });
      for (const m of c.machines.values()) m.start();
      c.rotateTimer = setTimeout(() => {
        c.rotateDue = true;
        this.rotate(g, 'age');
      }, this.o.rotateMs);
      c.idleTimer = setInterval(() => {
        if (Date.now() - c.lastActivity <= this.o.idleTimeoutMs) return;
        this.o.log.warn('binance: connection silent, cutting it', { conn: c.id, idleTimeoutMs: this.o.idleTimeoutMs });
        ws.terminate();
      }, Math.max(10, this.o.idleTimeoutMs / 4));
      c.idleTimer.unref();
    });
    // ws answers every ping with a pong carrying the same payload (autoPong), as Binance requires.
    ws.on('ping', () => (c.lastActivity = Date.now()));
    ws.on('message', (data, isBinary) => this.onMessage(g, c, data, isBinary));
    ws.on('error', (e) => (c.lastError = e.message)); // reported with the close that follows
    ws.on('close', (code, reason) => {
      this.sockets.delete(c);
      this.onClose(g, c, code, reason.toString());
      closedResolve();
    });
  }

  private onClose(g: Group, c: Conn, code: number, reason: string): void {
    c.dead = true;
    if (c.rotateTimer) clearTimeout(c.rotateTimer);
    if (c.idleTimer) clearInterval(c.idleTimer);
    const i = g.conns.indexOf(c);
    if (i >= 0) g.conns.splice(i, 1);
    const wasNewest = i === g.conns.length;
    for (const m of c.machines.values()) m.reset();
    if (this.stopped || c.closing) return;
    for (const sym of g.syms) if (!this.liveElsewhere(sym, c)) this.symbolResyncing(sym, 'reconnect');
    const retryInMs = wasNewest ? this.scheduleReconnect(g) : undefined;
    this.o.log.warn(c.opened ? 'binance: connection lost' : 'binance: could not connect', {
      conn: c.id, code, reason: reason.slice(0, 120) || undefined, error: c.lastError || undefined, retryInMs,
    });
    if (!wasNewest) this.checkRotation(g);
  }

  /** Returns the delay chosen. */
  private scheduleReconnect(g: Group): number | undefined {
    if (this.stopped || g.reconnectTimer) return undefined;
    const delay = g.backoff.next();
    g.reconnects++;
    g.reconnectTimer = setTimeout(() => {
      g.reconnectTimer = null;
      this.openConn(g);
    }, delay);
    return delay;
  }

  /** Opens the successor of the group's connection; the old one serves until the new one is in sync. */
  private rotate(g: Group, why: string): void {
    if (this.stopped || g.conns.length !== 1 || g.reconnectTimer) return; // already rotating or reconnecting
    this.o.log.info('binance: replacing connection', { conn: g.conns[0].id, why });
    this.openConn(g);
    g.graceTimer = setTimeout(() => {
      g.graceTimer = null;
      this.finishRotation(g, true);
    }, this.o.rotateGraceMs);
  }

  /** Closes the older connections once the newest has every symbol in sync (or, `force`d, at the grace deadline). */
  private checkRotation(g: Group): void {
    if (g.conns.length < 2) {
      if (g.graceTimer) clearTimeout(g.graceTimer);
      g.graceTimer = null;
      return;
    }
    const newest = g.conns[g.conns.length - 1];
    for (const m of newest.machines.values()) if (m.state !== 'live') return;
    this.finishRotation(g, false);
  }

  private finishRotation(g: Group, force: boolean): void {
    if (this.stopped || g.conns.length < 2) return;
    if (g.graceTimer) clearTimeout(g.graceTimer);
    g.graceTimer = null;
    const newest = g.conns[g.conns.length - 1];
    // Out of the group at once: a closing connection serves nothing and must not hold up the next rotation.
    for (const c of g.conns.splice(0, g.conns.length - 1)) this.closeConn(c);
    if (force) {
      this.o.log.warn('binance: successor not in sync by rotateGraceMs, old connection closed anyway', { conn: newest.id });
      for (const sym of g.syms) if (!this.liveElsewhere(sym, null)) this.symbolResyncing(sym, 'rotation');
    } else {
      this.o.log.info('binance: connection replaced', { conn: newest.id });
    }
    // rotateMs shorter than a sync: the successor is already due itself.
    if (newest.rotateDue) this.rotate(g, 'age');
  }

  private closeConn(c: Conn): void {
    if (c.closing) return;
    c.closing = true;
    if (c.rotateTimer) clearTimeout(c.rotateTimer);
    if (c.idleTimer) clearInterval(c.idleTimer);
    if (c.dead) return;
    c.ws.close(1000);
    // A peer that never answers the close frame must not hold stop() or the socket.
    setTimeout(() => c.dead || c.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  // ── messages ───────────────────────────────────────────────────────────────────────────

  private onMessage(g: Group, c: Conn, data: WebSocket.RawData, isBinary: boolean): void {
    const now = Date.now();
    c.lastActivity = now;
    g.messages++;
    g.lastMessageAt = now;
    g.bytes += Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (this.stopped || c.closing) return;
    if (isBinary) return this.malformed('binary', 'a binary frame on a JSON stream');
    const text = data.toString();
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.malformed('json', text.slice(0, 120));
    }
    const env = asEnvelope(msg);
    if (env) {
      const route = this.routes.get(env.stream);
      if (!route) {
        if (isServerShutdown(env.data)) return this.rotate(g, 'serverShutdown');
        return this.malformed('unknown-stream', env.stream.slice(0, 120));
      }
      const d = env.data;
      if (route.depth) {
        const err = checkDepthEvent(d) ?? symbolMismatch(d, route.sym.native);
        // Skipping it is safe: the next event's U shows the hole and the symbol resyncs.
        if (err) return this.malformed('depth', `${env.stream}: ${err}`);
        c.machines.get(route.sym.native)?.onDiff(d as DepthEvent);
      } else {
        const err = checkTradeEvent(d) ?? symbolMismatch(d, route.sym.native);
        if (err) return this.malformed('trade', `${env.stream}: ${err}`);
        this.deliverTrade(route.sym, d as TradeEvent);
      }
      return;
    }
    if (isServerShutdown(msg)) return this.rotate(g, 'serverShutdown');
    if (isRequestReply(msg)) return;
    this.malformed('unexpected', text.slice(0, 120));
  }

  private deliverTrade(sym: Sym, d: TradeEvent): void {
    const high = sym.trades.highest;
    const a = sym.trades.admit(d.t);
    if (a !== 'new') {
      if (a === 'repeat') this.tradeRepeats++;
      else this.tradesOutOfWindow++;
      return;
    }
    sym.tradeCount++;
    // Binance numbers a symbol's trades consecutively and does not replay them after a reconnect.
    if (high >= 0 && d.t > high + 1) {
      this.tradesMissed += d.t - high - 1;
      this.o.log.info('binance: trades missed while not connected', { symbol: sym.name, missed: d.t - high - 1 });
    }
    this.sink!.trade({ symbol: sym.name, tradeId: String(d.t), price: +d.p, size: +d.q, side: d.m ? 'sell' : 'buy', exchangeTs: d.T });
  }

  private malformed(kind: string, detail: string): void {
    this.malformedCounts[kind] = (this.malformedCounts[kind] ?? 0) + 1;
    this.sink?.malformed(kind, detail);
  }

  // ── books ──────────────────────────────────────────────────────────────────────────────

  private handOver(g: Group, c: Conn, sym: Sym, machine: DepthSync, seq: number, exchangeTs: number, fresh: boolean): void {
    if (this.stopped || c.closing) return;
    if (fresh) g.backoff.reset(); // a connection that synced a book worked
    if (seq > sym.servedSeq) {
      const reset = !sym.live;
      const u = this.update;
      u.symbol = sym.name;
      u.exchangeTs = exchangeTs;
      machine.book.fill(u, this.o.depth);
      sym.servedSeq = seq;
      sym.books++;
      // A refused reset book leaves the symbol resyncing, so the next book carries reset again.
      if (this.sink!.book(u, reset, seq)) sym.live = true;
    }
    if (fresh && g.conns.length > 1 && c === g.conns[g.conns.length - 1]) this.checkRotation(g);
  }

  private machineLost(c: Conn, sym: Sym, reason: string): void {
    if (this.stopped || c.closing) return;
    if (!this.liveElsewhere(sym, c)) this.symbolResyncing(sym, reason);
  }

  /** Another open connection of the symbol's group has it in sync (it will serve the next book). */
  private liveElsewhere(sym: Sym, except: Conn | null): boolean {
    for (const c of sym.group.conns) {
      if (c === except || c.closing || c.dead) continue;
      if (c.machines.get(sym.native)?.state === 'live') return true;
    }
    return false;
  }

  private symbolResyncing(sym: Sym, reason: string): void {
    sym.servedSeq = -1;
    if (!sym.live) return; // said already
    sym.live = false;
    sym.resyncs[reason] = (sym.resyncs[reason] ?? 0) + 1;
    this.sink!.resyncing(sym.name, reason);
  }

  // ── snapshots ──────────────────────────────────────────────────────────────────────────

  private enqueueSnapshot(job: SnapshotJob): void {
    this.queue.push(job);
    this.pump();
  }

  /** Starts queued requests up to the concurrency, unless a Retry-After (or a failure's backoff) holds the queue. */
  private pump(): void {
    while (!this.stopped && this.inFlight < this.o.snapshotConcurrency && this.queue.length > 0) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) {
        if (!this.pumpTimer) {
          this.pumpTimer = setTimeout(() => {
            this.pumpTimer = null;
            this.pump();
          }, wait);
        }
        return;
      }
      const job = this.queue.shift()!;
      if (job.conn.closing || job.conn.dead) continue; // its connection is gone; a new one asks again
      this.inFlight++;
      void this.fetchSnapshot(job).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** Never rejects: every outcome is a snapshot delivered, a job re-queued, or a stop. */
  private async fetchSnapshot(job: SnapshotJob): Promise<void> {
    const { sym } = job;
    sym.snapshotRequests++;
    const ac = new AbortController();
    this.aborts.add(ac);
    const timer = setTimeout(() => ac.abort(), this.o.snapshotTimeoutMs);
    try {
      const res = await fetch(snapshotUrl(this.o.restUrl, sym.native, this.o.snapshotLimit), { signal: ac.signal });
      if (res.status === 429 || res.status === 418) {
        // 429: over the weight limit, 418: banned for ignoring 429s; Retry-After says how long either lasts.
        const wait = retryAfterMs(res.headers.get('retry-after')) ?? this.restBackoff.next();
        await res.arrayBuffer();
        sym.rateLimitWaits++;
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + wait);
        this.o.log.warn('binance: snapshot requests rate-limited', { status: res.status, waitMs: wait, symbol: sym.name });
        this.queue.unshift(job);
        return;
      }
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new MalformedSnapshot(`not JSON: ${text.slice(0, 120)}`);
      }
      const err = checkSnapshot(body);
      if (err) throw new MalformedSnapshot(err);
      this.restBackoff.reset();
      if (this.stopped || job.conn.closing || job.conn.dead) return;
      job.machine.onSnapshot(body as DepthSnapshot);
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof MalformedSnapshot) this.malformed('snapshot', `${sym.native}: ${e.message}`);
      else this.o.log.warn('binance: snapshot request failed', { symbol: sym.name, error: (e as Error).message });
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + this.restBackoff.next());
      this.queue.push(job);
    } finally {
      clearTimeout(timer);
      this.aborts.delete(ac);
    }
  }
}

class MalformedSnapshot extends Error {}

function symbolMismatch(d: unknown, native: string): string | null {
  const s = (d as { s: string }).s;
  return s === native ? null : `symbol ${s} on ${native}'s stream`;
}

function resolveOptions(opts: BinanceConnectorOptions): Resolved {
  const o = { ...DEFAULTS, ...stripUndefined(opts) } as Resolved;
  if (!Array.isArray(opts.symbols) || opts.symbols.length === 0) throw new TypeError('symbols: at least one Binance symbol is needed');
  const seen = new Set<string>();
  o.symbols = opts.symbols.map((s) => {
    const up = String(s).toUpperCase();
    if (!/^[A-Z0-9]{2,30}$/.test(up)) throw new RangeError(`symbols: "${s}" is not a Binance spot symbol (letters and digits, e.g. BTCUSDT)`);
    if (seen.has(up)) throw new RangeError(`symbols: ${up} is listed twice`);
    seen.add(up);
    return up;
  });
  const int = (name: keyof Resolved, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = o[name] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  };
  int('depth', 1, 5000);
  int('snapshotLimit', o.depth, MAX_SNAPSHOT_LIMIT);
  int('rotateMs', 1, DAY_MS);
  int('rotateGraceMs', 1);
  int('snapshotConcurrency', 1, 64);
  int('snapshotTimeoutMs', 1);
  int('maxStreamsPerConnection', 2, MAX_STREAMS_PER_CONNECTION);
  int('maxBufferedEvents', 1);
  int('tradeWindow', 1);
  int('idleTimeoutMs', 1);
  int('connectTimeoutMs', 1);
  int('reconnectMinMs', 1);
  int('reconnectMaxMs', o.reconnectMinMs);
  if (o.updateSpeed !== '100ms' && o.updateSpeed !== '1000ms') throw new RangeError(`updateSpeed must be '100ms' or '1000ms', got ${String(o.updateSpeed)}`);
  for (const k of ['wsUrl', 'restUrl'] as const) {
    try {
      new URL(o[k]);
    } catch {
      throw new TypeError(`${k} is not a URL: ${String(o[k])}`);
    }
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
