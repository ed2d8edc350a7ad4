// Front actor: publishes the shards' encoded frames to uWS topics and serves HTTP + WebSocket.
//
// Publish before anything else: a frame is handed to uWS as the bytes the shard encoded
// (serialize once); per subscriber, uWS copies bytes in C++ and JavaScript does nothing.

import { Piscina } from 'piscina';
import type { Config } from '../../config.js';
import { startOfDayMs } from '../../market-day.js';
import { statusFrame } from '../../protocol/client-message.js';
import { CLOSE_GOING_AWAY } from '../../protocol/close-codes.js';
import { TYPE_RESYNC, maxRecordFrameBytes, reasonBytes } from '../../protocol/encode.js';
import { type MemoryHistoryTask, type PointsPayload, effectiveResolution, envelopePrefix } from '../../protocol/history.js';
import type { DatabaseHistoryTask } from '../../store/history-points.js';
import { FR_EPOCH, FR_FEED_TS, FR_JSON_LENGTH, FR_JSON_OFFSET, FR_KIND, FR_SEQ, FRAME_ANALYTICS, FRAME_TRADE, SEQ_NONE, TICKER_CHANNEL } from '../../ring/layout.js';
import { QueueConsumer } from '../../ring/spsc.js';
import { LatencyRecorder, nowMs } from '../../stats/latency.js';
import { logger } from '../../log.js';
import { type Remote, within } from '../control.js';
import { RegistrationInbox, type SymbolRegistration } from '../registry.js';
import { workerEntry } from '../worker-url.js';
import { HistoryTiers, type Points } from './history-tiers.js';
import { REDIS_OWNER, nodeRedis } from '../../store/redis-connections.js';
import { type HttpDeps, errorReply, handleHttp } from './http.js';
import type { TradesSources } from './trades-http.js';
import { type StoredTrade, readRecentTradesRedis } from '../../store/trade-query.js';
import type { StoredTradesTask } from '../../store/trades-task.js';
import type { StoredCandlesTask } from '../../store/candles-task.js';
import type { StoredCandle } from '../../store/candle-query.js';
import type { FrontApi, FrontInit, FrontStats } from './messages.js';
import type { SupervisorApi } from '../supervisor/messages.js';
import { type FrontCounters, type HistoryResult, type Session, Sessions } from './sessions.js';
import { FrontSymbol } from './symbols.js';
import { FrontTrades } from './trades.js';
import { FrontCandles, FrontTicker } from './analytics-streams.js';
import { IndicatorCache } from './indicators-http.js';
import { CacheLink } from './cache-link.js';
import { OPS_PATHS, OpsHttp } from './ops-http.js';
import { isApiPath } from '../../cache/api/api.js';
import { type Server, startServer } from './uws.js';
import { Authenticator } from '../../auth/authenticator.js';
import { JwtVerifier } from '../../auth/jwt.js';
import { KeyRing } from '../../auth/key-ring.js';
import { openKeyStore } from '../../auth/key-store.js';
import { OriginPolicy } from '../../auth/origins.js';
import { ConfigError, StartupError } from '../../errors.js';
import { type GateCounters, HttpGate, SECURITY_HEADERS } from './gate.js';
import { Page } from './page.js';
import { type AccessCounters, WsAccess } from './ws-access.js';

const BATCH = 1024;
const IDLE_WAIT_MS = 250;
const SWEEP_INTERVAL_MS = 25;
const RATE_SAMPLE_MS = 1000;
const CLOSE_GRACE_MS = 2000;
/** /metrics and /health/detailed answer without the supervisor's figures rather than hang. */
const STATS_TIMEOUT_MS = 2000;
/** How long start waits for the API keys' first load (requests with a key get 503 until it succeeds). */
const KEYS_FIRST_LOAD_MS = 5000;
const ACCESS_SWEEP_MS = 1000;
const COMMA = 0x2c;
const CLOSE = Buffer.from(']}');

export class FrontActor implements FrontApi {
  private readonly cfg: Config;
  private readonly symbols: (FrontSymbol | undefined)[] = [];
  private readonly byName = new Map<string, FrontSymbol>();
  private readonly queues: QueueConsumer[];
  private readonly inbox: RegistrationInbox;
  private readonly pool: Piscina<MemoryHistoryTask | DatabaseHistoryTask, PointsPayload>;
  private readonly tiers?: HistoryTiers;
  private readonly sessions: Sessions;
  private readonly latency = new LatencyRecorder();
  private readonly counters: FrontCounters = {
    messagesSent: 0, bytesSent: 0, resyncs: new Map(), conflations: 0, backpressureLimitHits: 0, errorsSent: new Map(),
  };
  private framesPublished = 0;
  private tradesPublished = 0;
  private analyticsPublished = 0;
  private alertsDelivered = 0;
  private readonly rate = { at: Date.now(), frames: 0, perS: 0 };
  private bytesSinceSweep = 0;
  private bytesThisTurn = 0;
  private readonly sweepBudget: number;
  private duplicatesDropped = 0;
  private statusesPublished = 0;
  private unknownSymbols = 0;
  private unresolvedGaps = 0;
  private server?: Server;
  private readonly cache: CacheLink;
  private running = true;
  private timers: NodeJS.Timeout[] = [];
  private readonly resyncScratch: Uint8Array;
  private readonly keys: KeyRing;
  private readonly access: WsAccess;
  private readonly gate: HttpGate;
  /** The chart page, read at start; undefined when not built. */
  private page: Page | undefined;
  private readonly accessCounters: AccessCounters & GateCounters = {
    wsRefused: new Map(), wsClosed: new Map(), wsAuthFailures: new Map(), httpRefused: new Map(), corsPreflights: 0,
  };
  private readonly indicators = new IndicatorCache();

  constructor(private readonly init: FrontInit, private readonly supervisor: Remote<SupervisorApi>) {
    this.cfg = init.config;
    this.queues = init.frames.map((sab) => new QueueConsumer(sab));
    for (const r of init.symbols) this.register(r);
    this.inbox = new RegistrationInbox(init.registrations, (r) => this.register(r));
    this.cache = new CacheLink(init.cacheLinks, logger('front'));
    this.cache.onAlert = (user, frame) => {
      this.alertsDelivered += this.sessions.deliverToUser(user, frame);
    };
    const entry = workerEntry('snapshot');
    this.pool = new Piscina({
      filename: entry.url.href,
      execArgv: entry.execArgv,
      minThreads: 1,
      maxThreads: this.cfg.snapshotThreads,
      maxQueue: 1024, // bounded: a burst of reloads beyond this gets an error frame, not memory growth
      idleTimeout: 60_000,
    });
    // Symbol names are at most 32 characters of [A-Za-z0-9._:/-] (checked at registration).
    const maxFrame = maxRecordFrameBytes(this.cfg.depth, 32);
    if (init.database) {
      this.tiers = new HistoryTiers(this.pool as Piscina, init.database, nodeRedis(this.cfg, init.redisConnections, REDIS_OWNER.front), logger('front'));
    }
    // Direct sends may be a trades snapshot (the recent trades at once): the larger bound.
    const maxDirect = Math.max(maxFrame, FrontTrades.maxFrameBytes(this.cfg, 32), FrontCandles.maxFrameBytes(this.cfg.candleCapacity, 32), FrontTicker.maxFrameBytes(32));
    this.resyncScratch = new Uint8Array(maxDirect);
    // Sweep at least every 4 × WS_CONFLATE_BYTES published, and always before an attached
    // connection could reach the uWS ceiling (one frame of margin below the sweep's "near the
    // ceiling" mark). Frequent sweeps leave the ceiling far away: uWS's buffered amount lags
    // while it batches topic frames, and at saturation that lag alone produced silent skips.
    this.sweepBudget = Math.min(4 * this.cfg.wsConflateBytes, this.cfg.wsMaxBackpressure - this.cfg.wsConflateBytes - 2 * maxFrame);
    let jwt: JwtVerifier | undefined;
    try {
      jwt = JwtVerifier.load({ secret: this.cfg.jwtSecret, publicKeyFile: this.cfg.jwtPublicKeyFile, issuer: this.cfg.jwtIssuer, audience: this.cfg.jwtAudience });
    } catch (e) {
      // A key file that cannot be used does not get better by restarting.
      throw e instanceof ConfigError ? new StartupError(e.message, e.code) : e;
    }
    const log = logger('front');
    this.keys = new KeyRing(() => openKeyStore(this.cfg, { databaseUrl: init.database?.url, log }), log);
    const auth = new Authenticator(this.keys, jwt);
    const origins = new OriginPolicy(this.cfg.allowedOrigins ?? []);
    this.access = new WsAccess(this.cfg, auth, origins, this.accessCounters);
    this.gate = new HttpGate(this.cfg.auth, auth, origins, this.accessCounters, (req) => this.page?.serves(req) ?? false);
    this.sessions = new Sessions(
      {
        cfg: this.cfg,
        symbolByName: (n) => this.byName.get(n),
        buildHistory: (sym, res) => this.buildHistory(sym, res),
        counters: this.counters,
        access: this.access,
      },
      maxFrame,
      maxDirect,
    );
  }

  private register(r: SymbolRegistration): void {
    if (this.symbols[r.id]) return;
    const s = new FrontSymbol(r, this.cfg);
    this.symbols[r.id] = s;
    this.byName.set(s.name, s);
  }

  async start(): Promise<number> {
    const sessions = this.sessions;
    if (this.cfg.auth === 'off') logger('front').warn('AUTH=off: every route and WebSocket is open to anyone, admin routes included; for development only');
    // Compressed in zlib's thread pool while the keys load.
    const page = Page.load(logger('front'));
    await within(this.keys.start(), KEYS_FIRST_LOAD_MS, undefined);
    this.page = await page;
    const deps = this.httpDeps;
    const ops = new OpsHttp({
      runtime: async () => ({ front: this.stats(), supervisor: await within(this.supervisor.stats(), STATS_TIMEOUT_MS, undefined) }),
      health: () => deps.health(),
      cache: this.cache,
    });
    this.server = await startServer<Session>({
      host: this.cfg.host,
      port: this.cfg.port,
      maxBackpressure: this.cfg.wsMaxBackpressure,
      maxPayloadLength: sessions.limits.uwsBytes,
      idleTimeoutS: this.cfg.wsIdleTimeoutS,
      maxBodyBytes: this.cfg.httpMaxBodyBytes,
      requestTimeoutMs: this.cfg.httpRequestTimeoutMs,
      headers: SECURITY_HEADERS,
      upgrade: (info) => this.access.upgrade(info, (state) => sessions.createSession(info.id, state)),
      aborted: (session) => this.access.release(session),
      timedOut: () => this.accessCounters.httpRefused.set('timeout', (this.accessCounters.httpRefused.get('timeout') ?? 0) + 1),
      open: (ws) => sessions.open(ws),
      message: (ws, text, bytes) => sessions.message(ws, text, bytes),
      drain: (ws) => sessions.drain(ws),
      close: (ws) => sessions.close(ws),
      // The cache's routes run on the cache actor: here they are only forwarded.
      http: (req) => this.gate.serve(req, (r) => (isApiPath(r.url) ? this.cache.forward(r) : OPS_PATHS.has(r.url) ? ops.handle(r) : handleHttp(r, deps))),
      errorReply,
    });
    for (const q of this.queues) void this.pump(q);
    this.timers.push(setInterval(() => this.sweep(), SWEEP_INTERVAL_MS));
    this.timers.push(setInterval(() => this.checkStale(), Math.min(1000, this.cfg.staleAfterMs / 2)));
    this.timers.push(setInterval(() => this.sampleRate(), RATE_SAMPLE_MS));
    this.timers.push(setInterval(() => this.access.sweep(), ACCESS_SWEEP_MS));
    return this.server.port;
  }

  // ── publishing ───────────────────────────────────────────────────────────────

  private async pump(q: QueueConsumer): Promise<void> {
    while (this.running) {
      // uWS hands published frames to the sockets once per event-loop turn, so buffered amounts
      // are only current between turns: sweep here, and end a turn after a quarter of the budget
      // (the sweep may then be one turn behind, and two quarters still fit under the ceiling).
      this.bytesThisTurn = 0;
      if (this.bytesSinceSweep > this.sweepBudget >> 1) this.sweep();
      let n = 0;
      let full = false;
      for (let at = q.peek(); at >= 0; at = q.peek()) {
        this.publishFrame(q, at);
        q.release();
        if (++n === BATCH || this.bytesThisTurn > this.sweepBudget >> 2) {
          full = true;
          break;
        }
      }
      if (full) await new Promise<void>((r) => setImmediate(r));
      else await q.waitForData(IDLE_WAIT_MS);
    }
  }

  private publishFrame(q: QueueConsumer, at: number): void {
    const id = q.aux;
    let sym = this.symbols[id];
    if (sym === undefined) {
      this.inbox.drainSync();
      sym = this.symbols[id];
      if (sym === undefined) {
        this.unknownSymbols++;
        return;
      }
    }
    const b = at >> 3;
    const kind = q.u32[(at >> 2) + FR_KIND];
    if (kind === FRAME_TRADE) {
      this.publishTrade(sym.trades, q, at);
      return;
    }
    if (kind >= FRAME_ANALYTICS) {
      const k = kind - FRAME_ANALYTICS;
      this.publishState(k === TICKER_CHANNEL ? sym.ticker : sym.candles[k], q, at);
      return;
    }
    let seq = q.f64[b + FR_SEQ];
    if (seq === SEQ_NONE) {
      this.publishStatus(sym, q, at);
      return;
    }
    const epoch = q.f64[b + FR_EPOCH];
    if (epoch === sym.epoch && seq <= sym.lastSeq) {
      this.duplicatesDropped++; // re-sent by a shard restarted between queueing and committing
      return;
    }
    const server = this.server!;
    let frame: Uint8Array;
    let resyncReason: string | undefined;
    if ((epoch === sym.epoch && seq === sym.lastSeq + 1) || (sym.epoch === 0 && seq === 1)) {
      // In sequence (or the very start of one): the shard's bytes, untouched.
      const from = at + FR_JSON_OFFSET;
      // One view per frame (not per client): uWS takes no (buffer, offset, length) triple.
      frame = q.bytes.subarray(from, from + q.u32[(at >> 2) + FR_JSON_LENGTH]);
    } else {
      // A gap (the shard's frame queue was full), a new epoch, or the first frame a restarted
      // front sees mid-sequence: subscribers get the full state at this seq, never a delta
      // that would hide the jump.
      resyncReason = sym.epoch === 0 ? 'front_restarted' : epoch === sym.epoch ? 'gap' : 'epoch_changed';
      let len = sym.encode(this.resyncScratch, TYPE_RESYNC, seq, epoch, reasonBytes(resyncReason));
      if (len < 0) {
        // That update is gone from the raw ring already: resync to the newest committed one
        // instead (frames up to it, still queued, are then dropped as already covered).
        const c = sym.committed();
        if (c && c.lastSeq > seq && (len = sym.encode(this.resyncScratch, TYPE_RESYNC, c.lastSeq, epoch, reasonBytes(resyncReason))) >= 0) {
          seq = c.lastSeq;
        }
      }
      if (len < 0) {
        // Nothing readable to resync from: the next frame resyncs instead, and the status
        // (stale, resyncing) holds until a frame is actually published.
        this.unresolvedGaps++;
        return;
      }
      frame = this.resyncScratch.subarray(0, len);
    }
    if (sym.status !== 'live') {
      // Subscribers learn it is over right before the update that ends it (after stale or resyncing).
      sym.setStatus('live', Date.now());
      server.publish(sym.topic, Buffer.from(statusFrame(sym.name, 'live', sym.statusSince)));
    }
    if (resyncReason !== undefined) {
      const n = server.subscribers(sym.topic);
      this.counters.resyncs.set(resyncReason, (this.counters.resyncs.get(resyncReason) ?? 0) + n);
    }
    this.deliver(sym.topic, frame);
    sym.epoch = epoch;
    sym.lastSeq = seq;
    this.framesPublished++;
    this.latency.recordMs(nowMs() - q.f64[b + FR_FEED_TS]);
    this.sessions.published(sym);
  }

  /**
   * A frame of a candles or ticker channel (a whole state): in sequence, the shard's bytes; after
   * a gap (a full frame queue), a new epoch or a front restart, a snapshot consistent at the
   * store's committed seq, which then counts as published (queued frames up to it are dropped).
   */
  private publishState(st: FrontCandles | FrontTicker, q: QueueConsumer, at: number): void {
    const b = at >> 3;
    const seq = q.f64[b + FR_SEQ];
    const epoch = q.f64[b + FR_EPOCH];
    if (epoch === st.epoch && seq <= st.lastSeq) {
      this.duplicatesDropped++;
      return;
    }
    if ((epoch === st.epoch && seq === st.lastSeq + 1) || (st.epoch === 0 && seq === 1)) {
      const from = at + FR_JSON_OFFSET;
      this.deliver(st.topic, q.bytes.subarray(from, from + q.u32[(at >> 2) + FR_JSON_LENGTH]));
      st.epoch = epoch;
      st.lastSeq = seq;
    } else {
      const reason = st.epoch === 0 ? 'front_restarted' : epoch === st.epoch ? 'gap' : 'epoch_changed';
      const snap = st.snapshot(this.resyncScratch, Date.now(), reasonBytes(reason));
      if (snap === undefined || snap.epoch !== epoch || snap.seq < seq) {
        this.unresolvedGaps++; // the store moved on meanwhile: the next frame tries again
        return;
      }
      this.counters.resyncs.set(`${st.channel}_${reason}`, (this.counters.resyncs.get(`${st.channel}_${reason}`) ?? 0) + this.server!.subscribers(st.topic));
      this.deliver(st.topic, this.resyncScratch.subarray(0, snap.length));
      st.epoch = snap.epoch;
      st.lastSeq = snap.seq;
    }
    this.analyticsPublished++;
    this.sessions.published(st);
  }

  /**
   * A trade of the symbol's trades channel: the shard's bytes in sequence; after a gap (the frame
   * queue was full), a new epoch or a front restart, a `trades_snapshot` with the reason, holding
   * the recent trades up to this one (a subscriber missed at most those, or finds the rest in
   * GET /trades).
   */
  private publishTrade(t: FrontTrades, q: QueueConsumer, at: number): void {
    const b = at >> 3;
    const seq = q.f64[b + FR_SEQ];
    const epoch = q.f64[b + FR_EPOCH];
    if (epoch === t.epoch && seq <= t.lastSeq) {
      this.duplicatesDropped++; // re-sent by a shard restarted between queueing and committing
      return;
    }
    if ((epoch === t.epoch && seq === t.lastSeq + 1) || (t.epoch === 0 && seq === 1)) {
      const from = at + FR_JSON_OFFSET;
      this.deliver(t.topic, q.bytes.subarray(from, from + q.u32[(at >> 2) + FR_JSON_LENGTH]));
    } else {
      const reason = t.epoch === 0 ? 'front_restarted' : epoch === t.epoch ? 'gap' : 'epoch_changed';
      const len = t.encode(this.resyncScratch, TYPE_RESYNC, seq, epoch, reasonBytes(reason));
      if (len < 0) {
        this.unresolvedGaps++; // overwritten already: a later trade resyncs instead
        return;
      }
      const n = this.server!.subscribers(t.topic);
      this.counters.resyncs.set(`trades_${reason}`, (this.counters.resyncs.get(`trades_${reason}`) ?? 0) + n);
      this.deliver(t.topic, this.resyncScratch.subarray(0, len));
    }
    t.epoch = epoch;
    t.lastSeq = seq;
    this.tradesPublished++;
  }

  /**
   * A frame outside the sequence (FR_SEQ = SEQ_NONE): the shard's `resyncing` status. Published
   * as encoded, and kept (a copy: the queue's bytes are reused) for those who attach while it holds.
   */
  private publishStatus(sym: FrontSymbol, q: QueueConsumer, at: number): void {
    const since = q.f64[(at >> 3) + FR_FEED_TS];
    if (sym.status === 'resyncing' && sym.statusSince === since) {
      this.duplicatesDropped++; // re-sent by a shard restarted before it released the record
      return;
    }
    const from = at + FR_JSON_OFFSET;
    const frame = q.bytes.slice(from, from + q.u32[(at >> 2) + FR_JSON_LENGTH]);
    sym.setStatus('resyncing', since, frame);
    this.statusesPublished++;
    this.deliver(sym.topic, frame);
  }

  private deliver(topic: string, bytes: Uint8Array): void {
    const n = this.server!.subscribers(topic);
    if (n === 0) return;
    // After a sweep every attached connection holds at most WS_CONFLATE_BYTES, and a
    // connection gets at most one copy of each frame: sweeping again before the bytes published
    // since could reach the uWS ceiling means no connection is ever over it, so uWS never skips
    // one silently — whether or not the sweep timer kept up. (The sweep itself runs between
    // pump turns: see pump().)
    this.bytesSinceSweep += bytes.length;
    this.bytesThisTurn += bytes.length;
    this.server!.publish(topic, bytes);
    this.counters.messagesSent += n;
    this.counters.bytesSent += n * bytes.length;
  }

  private sweep(): void {
    this.bytesSinceSweep = 0;
    this.sessions.sweep();
  }

  /** A symbol whose feed went quiet longer than STALE_AFTER_MS is stale: a dead feed is not a quiet market. */
  private checkStale(): void {
    const now = Date.now();
    for (const sym of this.byName.values()) {
      // A resyncing symbol is quiet on purpose, and its subscribers know why.
      if (sym.status !== 'live') continue;
      const c = sym.committed();
      const last = c && c.lastFeedTs > 0 ? c.lastFeedTs : sym.registeredAt;
      if (now - last > this.cfg.staleAfterMs) {
        const frame = Buffer.from(statusFrame(sym.name, 'stale', last));
        sym.setStatus('stale', last, frame);
        this.server?.publish(sym.topic, frame);
      }
    }
  }

  private sampleRate(): void {
    const now = Date.now();
    this.rate.perS = Math.round(((this.framesPublished - this.rate.frames) * 1000) / Math.max(1, now - this.rate.at));
    this.rate.at = now;
    this.rate.frames = this.framesPublished;
  }

  // ── snapshots ────────────────────────────────────────────────────────────────

  /**
   * historical_data of `sym` from `fromMs` to now: PostgreSQL (through the cache tiers) for what
   * precedes this process's memory, the shared history ring for the rest.
   */
  private async buildHistory(sym: FrontSymbol, resolutionMs: number, fromMs = startOfDayMs(Date.now(), this.cfg.marketTimeZone)): Promise<HistoryResult> {
    const base = this.cfg.historyResolutionMs;
    const res = effectiveResolution(resolutionMs, base);
    const ringStart = (Math.floor(Date.now() / base) - this.cfg.historyCapacity + 1) * base;
    // Align on the served resolution so no bucket is split between the two sources.
    const coveredFrom = Math.floor(Math.max(sym.registeredAt, ringStart) / res) * res;
    const memoryTask: MemoryHistoryTask = {
      kind: 'memory', store: sym.store.sab, geometry: sym.store.geometry,
      fromMs: Math.max(fromMs, coveredFrom), baseResolutionMs: base, resolutionMs: res,
    };
    let incomplete: string | undefined;
    const [db, mem] = await Promise.all([
      this.tiers && fromMs < coveredFrom
        // PostgreSQL away: serve what memory has and say so, rather than fail the subscribe.
        ? this.tiers.read(sym.name, fromMs, coveredFrom, res).catch((e: Error) => {
            incomplete = `stored history before ${new Date(coveredFrom).toISOString()} unavailable: ${e.message}`;
            return undefined;
          })
        : Promise.resolve(undefined),
      this.pool.run(memoryTask),
    ]);
    const memory: Points = { bytes: new Uint8Array(mem.buffer, mem.offset, mem.length), points: mem.points, lastSeq: mem.lastSeq, epoch: mem.epoch };
    const newest = memory.points > 0 ? memory : db && db.points > 0 ? db : memory;
    const prefix = Buffer.from(envelopePrefix({
      symbol: sym.name, epoch: newest.epoch, seq: newest.lastSeq, fromMs, resolutionMs: res,
      points: memory.points + (db?.points ?? 0), sources: { memory: memory.points, database: db?.points ?? 0 }, incomplete,
    }));
    // The frame is written once into one buffer: a day of points is ~20 MB.
    const parts = [...(db?.parts ?? []), ...(memory.points > 0 ? [memory.bytes] : [])];
    const bytes = Buffer.allocUnsafe(prefix.length + parts.reduce((n, p) => n + p.length, 0) + Math.max(0, parts.length - 1) + CLOSE.length);
    let pos = prefix.copy(bytes, 0);
    parts.forEach((p, i) => {
      if (i > 0) bytes[pos++] = COMMA;
      bytes.set(p, pos);
      pos += p.length;
    });
    CLOSE.copy(bytes, pos);
    return { bytes, lastSeq: newest.lastSeq, epoch: newest.epoch, points: memory.points + (db?.points ?? 0) };
  }

  /** Where GET /trades reads beyond the trade rings: Redis's capped lists, PostgreSQL through the snapshot pool. */
  private get tradeSources(): TradesSources {
    const redis = this.tiers?.redisClient;
    const db = this.init.database;
    return {
      redis: redis && ((symbol, limit) => readRecentTradesRedis(redis, symbol, limit)),
      database: db && ((symbol, fromMs, toMs, limit) =>
        this.pool.run({ kind: 'trades', databaseUrl: db.url, symbol, fromMs, toMs, limit } satisfies StoredTradesTask as never) as unknown as Promise<StoredTrade[]>),
    };
  }

  private get httpDeps(): HttpDeps {
    return {
      cfg: this.cfg,
      symbols: () => [...this.byName.values()],
      symbol: (name) => this.byName.get(name),
      history: (sym, res, fromMs) => this.buildHistory(sym, res, fromMs),
      stats: async () => ({ ...(await this.supervisor.stats()), front: this.stats() }),
      trades: this.tradeSources,
      candles: this.init.database && ((symbol, interval, fromMs, toMs, limit) => {
        const db = this.init.database!;
        const task: StoredCandlesTask = { kind: 'candles', databaseUrl: db.url, timescale: db.timescale, timeZone: this.cfg.marketTimeZone, symbol, interval, fromMs, toMs, limit };
        return this.pool.run(task as never) as unknown as Promise<StoredCandle[]>;
      }),
      indicators: this.indicators,
      page: this.page,
      health: async () => {
        const components = await this.supervisor.health();
        const stale = [...this.byName.values()].filter((s) => s.stale).map((s) => s.name);
        const resyncing = [...this.byName.values()].filter((s) => s.status === 'resyncing').map((s) => s.name);
        components.front = { status: 'ok', detail: `${this.sessions.sockets.size} connections` };
        // Resyncing is the feed's business (its feed-<exchange> component says when it lasts
        // too long); here it is only listed.
        components.symbols = stale.length === 0
          ? { status: 'ok', detail: `${this.byName.size - resyncing.length} live${resyncing.length > 0 ? `; resyncing: ${resyncing.join(', ')}` : ''}` }
          : { status: 'degraded', detail: `stale: ${stale.join(', ')}${resyncing.length > 0 ? `; resyncing: ${resyncing.join(', ')}` : ''}` };
        return components;
      },
    };
  }

  // ── control API ──────────────────────────────────────────────────────────────

  stats(): FrontStats {
    const subs = this.sessions.subscriptionCount();
    return {
      connections: this.sessions.sockets.size,
      subscriptions: subs.live,
      pendingSnapshots: subs.pending,
      messagesSent: this.counters.messagesSent,
      bytesSent: this.counters.bytesSent,
      framesPublished: this.framesPublished,
      tradesPublished: this.tradesPublished,
      analyticsPublished: this.analyticsPublished,
      alertsDelivered: this.alertsDelivered,
      publishedPerS: this.rate.perS,
      duplicatesDropped: this.duplicatesDropped,
      statusesPublished: this.statusesPublished,
      unresolvedGaps: this.unresolvedGaps,
      resyncs: Object.fromEntries(this.counters.resyncs),
      conflations: this.counters.conflations,
      backpressureLimitHits: this.counters.backpressureLimitHits,
      errorsSent: Object.fromEntries(this.counters.errorsSent),
      frameQueues: this.queues.map((q) => ({ depthBytes: q.depth(), capacityBytes: q.capacity })),
      feedToPublish: this.latency.summary(),
      staleSymbols: [...this.byName.values()].filter((s) => s.stale).map((s) => s.name),
      resyncingSymbols: [...this.byName.values()].filter((s) => s.status === 'resyncing').map((s) => s.name),
      access: {
        apiKeys: this.keys.size,
        httpRefused: Object.fromEntries(this.accessCounters.httpRefused),
        corsPreflights: this.accessCounters.corsPreflights,
        wsRefused: Object.fromEntries(this.accessCounters.wsRefused),
        wsClosed: Object.fromEntries(this.accessCounters.wsClosed),
        wsAuthFailures: Object.fromEntries(this.accessCounters.wsAuthFailures),
        wsMessagesThrottled: this.sessions.throttled,
      },
      indicators: this.indicators.stats(),
      historyTiers: this.tiers && {
        memory: { ...this.tiers.tiers.memory.stats(), ...this.tiers.cacheStats() },
        redis: this.tiers.tiers.redis.stats(),
        database: this.tiers.tiers.database.stats(),
      },
    };
  }

  async drained(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.queues.some((q) => q.depth() > 0)) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  async close(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    // Connections and the listen socket first: a worker exiting with them open aborts the process.
    await this.server?.close(CLOSE_GOING_AWAY, 'server shutting down', CLOSE_GRACE_MS);
    this.inbox.close();
    await this.tiers?.close();
    this.cache.close();
    await this.keys.close();
    await this.pool.destroy();
  }
}
