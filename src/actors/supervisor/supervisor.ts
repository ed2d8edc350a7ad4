// The supervisor (main thread): owns the shared memory, starts the actors and the feeds, stops them in order.
//
// Start: database (embedded unless DATABASE_URL) → writer (journal replayed) → stored sequences
//        → admin API key (first start) → symbol stores (every configured exchange symbol too)
//        → cache actor → front actor (listening, linked to the cache) → shards → feed actors
//        (one per exchange entry of FEEDS) → the main thread's feeds (simulator, replay).
// Stop:  feeds and feed actors → shards drain their inputs → front drains frames → writer
//        commits → writer closes → front closes sockets → cache closes (write-behind flushed)
//        → database stops.
// Shared memory lives here, not in the actors, so a restarted actor finds it intact. Each
// shard reads one input queue per producer thread (this thread's router, each feed actor that
// has symbols on it) and sleeps on one doorbell they all ring.

import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Config, FeedEntry } from '../../config.js';
import { type ExchangeDefinition, exchangeDefinition } from '../../feeds/exchanges.js';
import { ReplayFeed } from '../../feeds/replay.js';
import { DEFAULT_SYMBOLS, SimulatorFeed } from '../../feeds/simulator.js';
import type { Feed } from '../../feeds/types.js';
import { type Logger, logger } from '../../log.js';
import { Doorbell, QueueProducer, createDoorbellBuffer, createQueueBuffer } from '../../ring/spsc.js';
import { nowMs } from '../../stats/latency.js';
import type { FeedApi, FeedInit, FeedSymbol } from '../feed/messages.js';
import { writeResyncingRecord } from '../feed/input-records.js';
import { type Remote, connect, disconnect, serve, within } from '../control.js';
import type { FrontApi, FrontInit } from '../front/messages.js';
import type { CacheApi, CacheInit } from '../cache/messages.js';
import type { ComponentHealth, FeedActorStatus, SupervisorApi, SupervisorStats } from './messages.js';
import type { SymbolRegistration } from '../registry.js';
import type { ShardApi, ShardInit, ShardInput } from '../shard/messages.js';
import type { WriterApi, WriterInit, WriterLifecycle } from '../writer/messages.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../store/embedded.js';
import { type DataDirLock, lockDataDir } from '../../store/data-dir-lock.js';
import { loadSeeds } from '../../store/continuation.js';
import { loadCandleSeeds } from '../../store/candle-seeds.js';
import { StartupError } from '../../errors.js';
import { portProblem, probePort } from '../../port-probe.js';
import { DiskWatch } from '../../stats/disk.js';
import { REDIS_OWNER, redisConnectionCount, redisConnectionCounter, releaseRedisOwner } from '../../store/redis-connections.js';
import { type CreatedAdminKey, bootstrapAdminKey } from '../../auth/admin-key.js';
import { ActorHandle, type Spawned } from './actor-handle.js';
import { Router, shardOf } from './router.js';

/** Each shard's price-alert command and firing queues (a command is 32 bytes, a firing 56). */
const ALERT_QUEUE_BYTES = 1 << 20;
/** Graceful shutdown waits this long for each stage to drain before moving on. */
const DRAIN_TIMEOUT_MS = 5000;
/** The writer may need a COPY or two more: it gets longer, then journals what is left. */
const WRITER_DRAIN_TIMEOUT_MS = 10_000;
const RATE_SAMPLE_MS = 1000;
const STATS_TIMEOUT_MS = 2000;
const CLOSE_TIMEOUT_MS = 5000;
const DISK_CHECK_MS = 10_000;

/** What a graceful stop did with the updates of this run. */
export interface StopReport {
  /** Updates the shards accepted (each has a seq and was published). */
  accepted: number;
  /** Rows committed to PostgreSQL by this run's writer (journal replays at start included). */
  committed: number;
  /** Rows left uncommitted, saved in the journal for the next start. */
  journaled: number;
}

interface Link<Api> {
  api?: Remote<Api>;
  registrations?: MessagePort;
  /** Front and cache actors: where the supervisor posts the link between them. */
  cacheLinks?: MessagePort;
}

/** An exchange entry of FEEDS: its connector, its own input queue on each shard it feeds, its actor. */
interface FeedActorPlan {
  entry: FeedEntry;
  def: ExchangeDefinition;
  /** Index = shard; null where none of its symbols lives. */
  inputs: (SharedArrayBuffer | null)[];
  symbols: FeedSymbol[]; // filled when the symbols are registered
  handle?: ActorHandle;
  link: Link<FeedApi>;
  /** Symbol ids whose `feed_restarted` status a full queue refused: the next actor queues it. */
  owedResyncing: number[];
}

export class Supervisor extends EventEmitter implements SupervisorApi {
  readonly log: Logger = logger('supervisor');
  readonly router: Router;
  /** The router's input queue of each shard (this thread's feeds). */
  private readonly inputs: SharedArrayBuffer[];
  private readonly doorbells: SharedArrayBuffer[];
  private readonly feedActors: FeedActorPlan[];
  private readonly frames: SharedArrayBuffer[];
  private readonly rows: SharedArrayBuffer[];
  /** Per shard: price-alert commands (cache actor → shard) and firings (shard → cache actor); none without analytics or PostgreSQL. */
  private readonly alertQueues: { commands: SharedArrayBuffer; firings: SharedArrayBuffer }[];
  /** Shards that were ready once: a later ready is a restart, whose alert books start empty. */
  private readonly shardsStarted = new Set<number>();
  /** Redis connections open in this node's actors, one counter each: REDIS_MAX_CONNECTIONS is one ceiling. */
  private readonly redisConnections = redisConnectionCounter();
  private writer?: ActorHandle;
  private readonly writerLink: Link<WriterApi> = {};
  private writerReady?: Extract<WriterLifecycle, { type: 'ready' }>;
  /** Stored sequences were loaded (the database was up and the journal replayed): candles may be seeded too. */
  private storedStateLoaded = false;
  private embedded?: EmbeddedDatabase;
  private dataDirLock?: DataDirLock;
  private readonly disk: DiskWatch;
  /** Set once start() resolved: an actor's fatal error before that is start()'s rejection, not an event. */
  private started = false;
  private databaseUrl = '';
  private readonly shards: ActorHandle[] = [];
  private readonly shardLinks: Link<ShardApi>[] = [];
  private front?: ActorHandle;
  private readonly frontLink: Link<FrontApi> = {};
  private cache?: ActorHandle;
  private readonly cacheLink: Link<CacheApi> = {};
  private feeds: Feed[] = [];
  private readonly startedAt = Date.now();
  private stopping?: Promise<StopReport>;
  private sampler?: NodeJS.Timeout;
  private rates = { at: Date.now(), accepted: [] as number[], perShard: [] as number[] };
  private adminKey?: CreatedAdminKey;
  port = 0;

  constructor(readonly cfg: Config) {
    super();
    this.inputs = Array.from({ length: cfg.shards }, () => createQueueBuffer(cfg.inputQueueBytes));
    this.doorbells = Array.from({ length: cfg.shards }, () => createDoorbellBuffer());
    this.feedActors = (cfg.feeds ?? []).filter((e) => e.kind === 'exchange').map((entry) => {
      const def = exchangeDefinition(entry.name);
      if (!def) throw new StartupError(`FEEDS names ${entry.name}, whose connector is not registered`);
      const inputs: (SharedArrayBuffer | null)[] = Array.from({ length: cfg.shards }, () => null);
      for (const s of entry.symbols) inputs[shardOf(s.served, cfg.shards)] ??= createQueueBuffer(cfg.inputQueueBytes);
      return { entry, def, inputs, symbols: [], link: {}, owedResyncing: [] };
    });
    this.frames = Array.from({ length: cfg.shards }, () => createQueueBuffer(cfg.frameQueueBytes));
    this.rows = cfg.persist ? Array.from({ length: cfg.shards }, () => createQueueBuffer(cfg.rowQueueBytes)) : [];
    this.alertQueues = cfg.persist && cfg.analytics
      ? Array.from({ length: cfg.shards }, () => ({ commands: createQueueBuffer(ALERT_QUEUE_BYTES), firings: createQueueBuffer(ALERT_QUEUE_BYTES) }))
      : [];
    this.router = new Router(cfg, this.inputs, this.doorbells, logger('router'));
    this.router.onRegister = (r) => this.announce(r);
    this.disk = new DiskWatch(cfg.dataDir, cfg.diskMinFreeBytes, this.log);
  }

  /** Starts everything; on failure, whatever did start is stopped again (and DATA_DIR released) before it rejects. */
  async start(): Promise<void> {
    try {
      await this.doStart();
    } catch (e) {
      await this.stop().catch((err: unknown) => this.log.debug('stop after a failed start also failed', { error: String(err) }));
      throw e;
    }
  }

  private async doStart(): Promise<void> {
    // Cheap checks first: an operator's mistake is reported before a database is started for nothing.
    const taken = await probePort(this.cfg.host, this.cfg.port);
    if (taken) {
      throw new StartupError(
        `${portProblem(taken, this.cfg.host, this.cfg.port)} (WEBSOCKET_PORT): stop the other server, or set WEBSOCKET_PORT to a free port`,
        'port_in_use',
      );
    }
    if (this.cfg.persist) {
      this.dataDirLock = lockDataDir(this.cfg.dataDir);
      this.disk.start(DISK_CHECK_MS);
      await this.startPersistence();
    }
    // Before the front: its first key poll must find the key the operator is about to be shown.
    this.adminKey = await bootstrapAdminKey(this.cfg, { databaseUrl: this.databaseUrl, databaseUp: this.writerReady?.databaseUp, log: this.log });
    this.feeds = this.createFeeds();
    if (this.storedStateLoaded) await this.loadCandleSeeds();
    for (const f of this.feeds) if (f instanceof SimulatorFeed) for (const s of f.symbols) this.router.register(s);
    this.registerExchangeSymbols();
    if (this.router.seeded > 0) this.log.info(`${this.router.seeded} symbol(s) continue their stored sequence`);

    this.cache = this.supervise('cache', 'cache', () => this.prepareCache());
    await this.cache.start();
    this.front = this.supervise('front', 'front', () => this.prepareFront());
    await this.front.start();
    for (let i = 0; i < this.cfg.shards; i++) {
      this.shardLinks.push({});
      this.shards.push(this.supervise(`shard-${i}`, 'shard', () => this.prepareShard(i)));
    }
    await Promise.all(this.shards.map((s) => s.start()));
    for (const p of this.feedActors) p.handle = this.supervise(`feed-${p.entry.name}`, 'feed', () => this.prepareFeed(p));
    await Promise.all(this.feedActors.map((p) => p.handle!.start()));
    for (const f of this.feeds) {
      f.start(this.router);
      if (f instanceof ReplayFeed) f.done.catch((e: Error) => this.log.error('replay feed failed', { error: e.message }));
    }
    this.sampler = setInterval(() => void this.sampleRates(), RATE_SAMPLE_MS);
    this.sampler.unref();
    this.started = true;
  }

  /**
   * Today's candles of the configured symbols (simulator and exchange feeds) from the stored
   * trades, so that live candles and the 24 h ticker continue across the restart. Symbols a replay
   * file brings start empty (their older candles are still read from the table by GET /candles).
   */
  private async loadCandleSeeds(): Promise<void> {
    const names = [
      ...this.feeds.flatMap((f) => (f instanceof SimulatorFeed ? f.symbols : [])),
      ...this.feedActors.flatMap((p) => p.entry.symbols.map((s) => s.served)),
    ];
    const started = Date.now();
    try {
      this.router.candleSeeds = await loadCandleSeeds(this.databaseUrl, names, {
        timescale: this.writerReady!.timescale, timeZone: this.cfg.marketTimeZone, capacity: this.cfg.candleCapacity,
      }, this.log);
      const n = [...this.router.candleSeeds.values()].filter((s) => s.seededUntil > 0).length;
      if (n > 0) this.log.info(`candles of ${n} symbol(s) continue from the stored trades (${Date.now() - started} ms)`);
    } catch (e) {
      this.log.warn('could not load stored candles: candles start from the next trade (GET /candles still reads the stored ones)', { error: (e as Error).message });
    }
  }

  private async startPersistence(): Promise<void> {
    if (this.cfg.databaseUrl) this.databaseUrl = this.cfg.databaseUrl;
    else {
      this.embedded = await startEmbeddedPostgres(this.cfg.dataDir, this.cfg.embeddedPgPort, logger('embedded-pg'));
      this.databaseUrl = this.embedded.url;
    }
    this.writer = this.supervise('writer', 'writer', () => this.prepareWriter());
    await this.writer.start();
    const w = this.writerReady!;
    if (!w.databaseUp || w.journalPending) {
      this.log.warn('stored sequences not loaded (database down or journal not replayed): symbols start new epochs');
      return;
    }
    try {
      this.router.seeds = await loadSeeds(this.databaseUrl, this.cfg.maxSymbols, this.log);
      this.storedStateLoaded = true;
    } catch (e) {
      this.log.warn('could not load stored sequences: symbols start new epochs', { error: (e as Error).message });
    }
  }

  /** The main thread's feeds: FEEDS' simulator and replay entries, or FEED/SYMBOLS when FEEDS is unset. */
  private createFeeds(): Feed[] {
    const c = this.cfg;
    const simulator = (symbols: readonly string[]) => new SimulatorFeed({
      symbols: [...symbols],
      updatesPerSecond: c.simUpdatesPerSecond,
      depth: c.depth,
      seed: c.simSeed ?? Date.now() % 2 ** 31,
      tickIntervalMs: c.simTickMs,
      tradesPerUpdate: c.simTradesPerUpdate,
    });
    const replay = (path: string) => new ReplayFeed({ path, speed: c.replaySpeed, maxLevels: c.depth });
    if (!c.feeds) return [c.feed === 'replay' ? replay(c.replayFile!) : simulator(c.symbols ?? DEFAULT_SYMBOLS)];
    return c.feeds.flatMap((e): Feed[] => {
      if (e.kind === 'simulator') return [simulator(e.symbols.length > 0 ? e.symbols.map((s) => s.native) : DEFAULT_SYMBOLS)];
      if (e.kind === 'replay') return [replay(e.file!)];
      return [];
    });
  }

  /**
   * Every configured exchange symbol gets its id, store and shard before any actor starts: the
   * actors' start-up data lists them, and a subscriber can subscribe before the first book.
   */
  private registerExchangeSymbols(): void {
    for (const p of this.feedActors) {
      p.symbols = p.entry.symbols.map((s) => {
        const r = this.router.register(s.served, true);
        if (!r) throw new StartupError(`FEEDS: ${s.served} could not be registered (MAX_SYMBOLS is ${this.cfg.maxSymbols}): raise MAX_SYMBOLS`);
        return { native: s.native, served: s.served, id: r.id, shard: r.shard };
      });
    }
  }

  private supervise(name: string, entry: string, prepare: () => Spawned): ActorHandle {
    const h = new ActorHandle({
      name, entry, prepare, log: this.log,
      backoffMs: this.cfg.restartBackoffMs, backoffMaxMs: this.cfg.restartBackoffMaxMs, maxStartFailures: this.cfg.maxStartFailures,
    });
    h.on('fatal', (e: Error) => {
      if (!this.started) return; // start() rejects with it, and its caller reports it once
      this.log.error(e.message);
      this.emit('fatal', e);
    });
    return h;
  }

  // ── actor start-up data: fresh ports, the same shared memory ──────────────────

  private prepareShard(i: number): Spawned {
    const control = new MessageChannel();
    const registrations = new MessageChannel();
    const inputs: ShardInput[] = [{ name: 'supervisor', queue: this.inputs[i] }];
    for (const p of this.feedActors) {
      const queue = p.inputs[i];
      if (queue) inputs.push({ name: `feed-${p.entry.name}`, queue, symbols: p.symbols.filter((s) => s.shard === i).map((s) => s.id) });
    }
    const init: ShardInit = {
      index: i, config: this.cfg, inputs, doorbell: this.doorbells[i], frames: this.frames[i], rows: this.rows[i],
      control: control.port2, registrations: registrations.port2,
      symbols: this.router.registrations.filter((r) => r.shard === i),
      alertCommands: this.alertQueues[i]?.commands, alertFirings: this.alertQueues[i]?.firings,
    };
    const link = this.shardLinks[i];
    link.registrations = registrations.port1;
    return {
      workerData: init,
      transferList: [control.port2, registrations.port2],
      onReady: () => {
        link.api = connect<ShardApi>(control.port1);
        // A restarted shard's alert books are empty: the cache actor sends its alerts again.
        if (this.shardsStarted.has(i)) {
          this.cacheLink.api?.resendAlerts(i).catch((e: Error) => this.log.warn(`shard-${i}: its price alerts were not sent again`, { error: e.message }));
        }
        this.shardsStarted.add(i);
      },
      onGone: () => {
        if (link.api) disconnect(link.api);
        link.api = undefined;
        control.port1.close();
        registrations.port1.close();
      },
    };
  }

  private prepareFeed(p: FeedActorPlan): Spawned {
    const control = new MessageChannel();
    const init: FeedInit = {
      config: this.cfg, exchange: p.entry.name, module: p.def.module, factory: p.def.factory, options: p.def.options(this.cfg),
      symbols: p.symbols, inputs: p.inputs, doorbells: this.doorbells, control: control.port2, owedResyncing: p.owedResyncing,
    };
    p.owedResyncing = [];
    return {
      workerData: init,
      transferList: [control.port2],
      onReady: () => {
        p.link.api = connect<FeedApi>(control.port1);
      },
      onGone: () => {
        if (p.link.api) disconnect(p.link.api);
        p.link.api = undefined;
        control.port1.close();
        // Died (not stopped): its symbols get no book until the next actor's connector is in
        // sync again, and subscribers must know it now, not at its first resync.
        if (p.handle && p.handle.state !== 'stopped') this.markResyncing(p, 'feed_restarted');
      },
    };
  }

  /**
   * Queues a resyncing status for each symbol of a feed actor whose thread is gone. Its queues
   * have no producer then, so this thread may be theirs until the next actor starts (which
   * continues from the HEAD committed here): still one producer at a time.
   */
  private markResyncing(p: FeedActorPlan, reason: string): void {
    const producers = p.inputs.map((sab, shard) => (sab ? new QueueProducer(sab, new Doorbell(this.doorbells[shard])) : undefined));
    for (const s of p.symbols) if (!writeResyncingRecord(producers[s.shard]!, s.id, reason, nowMs())) p.owedResyncing.push(s.id);
    // The next actor queues those itself, retrying until there is room (it is their producer then).
    if (p.owedResyncing.length > 0) this.log.warn(`feed-${p.entry.name}: ${p.owedResyncing.length} resyncing status(es) wait for the restarted actor (input queue full)`);
  }

  private prepareWriter(): Spawned {
    const control = new MessageChannel();
    const registrations = new MessageChannel();
    const init: WriterInit = {
      config: this.cfg, databaseUrl: this.databaseUrl, rows: this.rows, control: control.port2,
      registrations: registrations.port2, symbols: [...this.router.registrations], redisConnections: this.redisConnections,
    };
    this.writerLink.registrations = registrations.port1;
    return {
      workerData: init,
      transferList: [control.port2, registrations.port2],
      onReady: (m) => {
        this.writerReady = m as Extract<WriterLifecycle, { type: 'ready' }>;
        this.writerLink.api = connect<WriterApi>(control.port1);
      },
      onGone: () => {
        releaseRedisOwner(this.redisConnections, REDIS_OWNER.writer); // its sockets died with its thread
        if (this.writerLink.api) disconnect(this.writerLink.api);
        this.writerLink.api = undefined;
        control.port1.close();
        registrations.port1.close();
      },
    };
  }

  private prepareFront(): Spawned {
    const control = new MessageChannel();
    const supervisor = new MessageChannel();
    const registrations = new MessageChannel();
    const cacheLinks = new MessageChannel();
    serve<SupervisorApi>(this, supervisor.port1);
    const init: FrontInit = {
      config: this.cfg, frames: this.frames, control: control.port2, supervisor: supervisor.port2,
      registrations: registrations.port2, symbols: [...this.router.registrations],
      database: this.cfg.persist && this.writerReady ? { url: this.databaseUrl, timescale: this.writerReady.timescale } : undefined,
      redisConnections: this.redisConnections, cacheLinks: cacheLinks.port2,
    };
    this.frontLink.registrations = registrations.port1;
    return {
      workerData: init,
      transferList: [control.port2, supervisor.port2, registrations.port2, cacheLinks.port2],
      onReady: (m) => {
        this.port = m.port as number;
        this.frontLink.api = connect<FrontApi>(control.port1);
        this.frontLink.cacheLinks = cacheLinks.port1;
        this.linkFrontToCache();
      },
      onGone: () => {
        releaseRedisOwner(this.redisConnections, REDIS_OWNER.front);
        if (this.frontLink.api) disconnect(this.frontLink.api);
        this.frontLink.api = undefined;
        this.frontLink.cacheLinks = undefined;
        for (const p of [control.port1, supervisor.port1, registrations.port1, cacheLinks.port1]) p.close();
      },
    };
  }

  private prepareCache(): Spawned {
    const control = new MessageChannel();
    const registrations = new MessageChannel();
    const links = new MessageChannel();
    const init: CacheInit = {
      config: this.cfg, databaseUrl: this.cfg.persist ? this.databaseUrl : undefined, control: control.port2, links: links.port2,
      registrations: registrations.port2, symbols: [...this.router.registrations], redisConnections: this.redisConnections,
      alertQueues: this.alertQueues.length > 0 ? this.alertQueues : undefined,
    };
    this.cacheLink.registrations = registrations.port1;
    return {
      workerData: init,
      transferList: [control.port2, registrations.port2, links.port2],
      onReady: () => {
        this.cacheLink.api = connect<CacheApi>(control.port1);
        this.cacheLink.cacheLinks = links.port1;
        this.linkFrontToCache();
      },
      onGone: () => {
        releaseRedisOwner(this.redisConnections, REDIS_OWNER.cache);
        if (this.cacheLink.api) disconnect(this.cacheLink.api);
        this.cacheLink.api = undefined;
        this.cacheLink.cacheLinks = undefined;
        for (const p of [control.port1, registrations.port1, links.port1]) p.close();
      },
    };
  }

  /**
   * A fresh channel between the front and the cache actor, one end to each: called whenever
   * either (re)starts, since a link dies with either of its two threads.
   */
  private linkFrontToCache(): void {
    const front = this.frontLink.cacheLinks;
    const cache = this.cacheLink.cacheLinks;
    if (!front || !cache) return;
    const c = new MessageChannel();
    cache.postMessage(c.port2, [c.port2]);
    front.postMessage(c.port1, [c.port1]);
  }

  private announce(r: SymbolRegistration): void {
    this.frontLink.registrations?.postMessage(r);
    this.cacheLink.registrations?.postMessage(r);
    this.writerLink.registrations?.postMessage(r);
    this.shardLinks[r.shard]?.registrations?.postMessage(r);
  }

  /** What feeds run, for the start-up log line: `simulator, 20 symbols x 100/s`, `replay of …`, `binance (2 symbols)`, `;`-separated. */
  describeFeeds(): string {
    const c = this.cfg;
    const main = this.feeds.map((f) => (f instanceof ReplayFeed
      ? `replay of ${(c.feeds?.find((e) => e.kind === 'replay')?.file ?? c.replayFile)} at ${c.replaySpeed}x`
      : `simulator, ${(f as SimulatorFeed).symbols.length} symbols x ${c.simUpdatesPerSecond}/s`));
    const exchanges = this.feedActors.map((p) => `${p.entry.name} (${p.entry.symbols.length} symbol${p.entry.symbols.length === 1 ? '' : 's'})`);
    return [...main, ...exchanges].join('; ');
  }

  /**
   * The admin API key this start created (none existed), once: the caller prints it and the
   * supervisor forgets it, so nothing later (stats, a debugger, a heap dump) finds it here.
   */
  takeAdminKey(): CreatedAdminKey | undefined {
    const k = this.adminKey;
    this.adminKey = undefined;
    return k;
  }

  // ── control API (served to the front actor) ───────────────────────────────────

  async stats(): Promise<SupervisorStats> {
    const shards = await Promise.all(
      this.shards.map(async (h, i) => {
        const api = this.shardLinks[i].api;
        if (!api || h.state !== 'running') return { index: i, status: h.state };
        const s = await within(api.stats(), STATS_TIMEOUT_MS, undefined);
        if (!s) return { index: i, status: 'not answering' };
        return { ...s, status: h.state, restarts: h.restarts, updatesPerS: this.rates.perShard[i] ?? 0 };
      }),
    );
    const c = this.router.counters;
    const writer = this.writerLink.api ? await within(this.writerLink.api.stats(), STATS_TIMEOUT_MS, undefined) : undefined;
    const own = this.feeds.reduce<Record<string, number> | undefined>((all, f) => {
      const o = f.stats?.();
      return o ? { ...all, ...o } : all;
    }, undefined);
    return {
      writer,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      feed: {
        name: this.feeds.length > 0 ? this.feeds.map((f) => f.name).join('+') : 'none',
        offered: c.offered, queueFullDrops: c.queueFullDrops, tradesOffered: c.tradesOffered, tradeQueueFullDrops: c.tradeQueueFullDrops, malformed: c.malformed, lastMalformed: c.lastMalformed, own,
      },
      feeds: await this.feedStatuses(),
      restarts: this.shards.reduce((n, h) => n + h.restarts, 0) + (this.front?.restarts ?? 0) + (this.cache?.restarts ?? 0) + (this.writer?.restarts ?? 0)
        + this.feedActors.reduce((n, p) => n + (p.handle?.restarts ?? 0), 0),
      redis: this.cfg.redisUrl ? { connections: redisConnectionCount(this.redisConnections), maxConnections: this.cfg.redisMaxConnections } : undefined,
      shards,
    };
  }

  private async feedStatuses(): Promise<FeedActorStatus[]> {
    return Promise.all(this.feedActors.map(async (p) => {
      const h = p.handle;
      const status: FeedActorStatus = { exchange: p.entry.name, status: h?.state ?? 'not started', restarts: h?.restarts ?? 0, symbols: p.entry.symbols.map((s) => s.served) };
      if (!h || h.state !== 'running' || !p.link.api) return status;
      const stats = await within(p.link.api.stats(), STATS_TIMEOUT_MS, undefined);
      return stats ? { ...status, stats } : { ...status, status: 'not answering' };
    }));
  }

  /** A feed actor's health: degraded while it is not running, a connection is down, or a symbol has been resyncing longer than STALE_AFTER_MS. */
  private feedHealth(f: FeedActorStatus): ComponentHealth {
    if (!f.stats) return { status: 'degraded', detail: `feed actor ${f.status}` };
    const problems: string[] = [];
    const conns = f.stats.connector.connections;
    const down = conns.filter((c) => !c.connected).length;
    if (conns.length === 0) problems.push('not connected yet');
    else if (down > 0) problems.push(`${down} of ${conns.length} connection(s) down`);
    const long = Object.entries(f.stats.resyncingForMs).filter(([, ms]) => ms > this.cfg.staleAfterMs).map(([name]) => name);
    if (long.length > 0) problems.push(`resyncing for over ${this.cfg.staleAfterMs} ms: ${long.join(', ')}`);
    if (problems.length > 0) return { status: 'degraded', detail: problems.join('; ') };
    return { status: 'ok', detail: `${f.symbols.length} symbol(s) live over ${conns.length} connection(s)` };
  }

  async health(): Promise<Record<string, ComponentHealth>> {
    const out: Record<string, ComponentHealth> = {};
    for (const h of this.shards) {
      out[h.name] = h.state === 'running' ? { status: 'ok' } : { status: 'degraded', detail: h.state };
    }
    // Exchange-only FEEDS run no feed on this thread: that is a setting, not a fault.
    if (this.feeds.length > 0 || !this.cfg.feeds) {
      out.feed = this.feeds.length > 0 ? { status: 'ok', detail: this.feeds.map((f) => f.name).join('+') } : { status: 'down' };
    }
    for (const f of await this.feedStatuses()) out[`feed-${f.exchange}`] = this.feedHealth(f);
    const cache = this.cacheLink.api && (await within(this.cacheLink.api.status(), STATS_TIMEOUT_MS, undefined));
    out.cache = cache ?? { status: 'degraded', detail: `cache actor ${this.cache?.state ?? 'not started'}` };
    if (this.cfg.persist) {
      try {
        const d = this.disk.state();
        out.disk = { status: d.low ? 'degraded' : 'ok', detail: this.disk.describe(d) };
      } catch (e) {
        out.disk = { status: 'degraded', detail: `cannot read the free space of DATA_DIR: ${(e as Error).message}` };
      }
    }
    // Persistence off is a setting, not a fault.
    if (!this.cfg.persist) out.database = { status: 'ok', detail: 'off (PERSIST=false): nothing is stored' };
    else if (!this.writerLink.api) out.database = { status: 'degraded', detail: `writer ${this.writer?.state ?? 'not started'}` };
    else {
      const w = await within(this.writerLink.api.stats(), STATS_TIMEOUT_MS, undefined);
      if (!w) {
        out.database = { status: 'degraded', detail: 'writer not answering' };
        return out;
      }
      out.database = w.database.status === 'ok'
        ? { status: 'ok', detail: `${w.database.timescale ? 'TimescaleDB' : 'PostgreSQL'}${this.embedded ? ' (embedded)' : ''}` }
        : { status: 'degraded', detail: `unreachable: ${w.pendingRows} rows held, journal ${w.journal.bytes} bytes; ${w.database.lastError ?? ''}` };
      out.redis = w.redis.status === 'off' ? { status: 'ok', detail: 'off (REDIS_URL not set): memory only' }
        : w.redis.status === 'ready' ? { status: 'ok' } : { status: 'degraded', detail: w.redis.status };
    }
    return out;
  }

  /** Each shard's updates/s: its accepted counter sampled once a second (a constant-size answer). */
  private async sampleRates(): Promise<void> {
    const now = Date.now();
    const dt = (now - this.rates.at) / 1000;
    // An actor restarting (or not answering) counts as no progress this second; the previous
    // sample stays the reference, so its next rate is still right.
    const accepted = await Promise.all(
      this.shardLinks.map(async (l, i) => {
        const s = l.api ? await within(l.api.stats(), STATS_TIMEOUT_MS, undefined) : undefined;
        return s?.accepted ?? this.rates.accepted[i] ?? 0;
      }),
    );
    this.rates = {
      at: now,
      accepted,
      perShard: accepted.map((a, i) => Math.max(0, Math.round((a - (this.rates.accepted[i] ?? 0)) / dt))),
    };
  }

  // ── operations ───────────────────────────────────────────────────────────────

  /** Kills shard `i` as a crash would; it is restarted from the shared memory. */
  killShard(i: number): Promise<void> {
    return this.shards[i].kill();
  }

  /** Kills the feed actor of `exchange` as a crash would; it is restarted, its symbols resyncing meanwhile. */
  killFeed(exchange: string): Promise<void> {
    const p = this.feedActors.find((x) => x.entry.name === exchange);
    if (!p?.handle) throw new Error(`no feed actor for ${exchange}`);
    return p.handle.kill();
  }

  /** Kills the cache actor as a crash would; it is restarted, and the front linked to the new one. */
  killCache(): Promise<void> {
    return this.cache!.kill();
  }

  shardState(i: number): string {
    return this.shards[i].state;
  }

  /** Graceful stop: feed, then shards drain, then the front drains and closes its sockets. */
  stop(): Promise<StopReport> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<StopReport> {
    const report: StopReport = { accepted: 0, committed: 0, journaled: 0 };
    if (this.sampler) clearInterval(this.sampler);
    this.disk.stop();
    await Promise.all([
      ...this.feeds.map((f) => f.stop()),
      ...this.feedActors.map((p) => p.handle?.stop(async () => {
        if (p.link.api) await within(p.link.api.close(), CLOSE_TIMEOUT_MS, undefined);
      })),
    ]);
    const grace = DRAIN_TIMEOUT_MS + 1000; // a drained() that never answers: its actor died
    await Promise.all(this.shardLinks.map((l) => l.api && within(l.api.drained(DRAIN_TIMEOUT_MS), grace, false)));
    for (const l of this.shardLinks) report.accepted += (l.api && (await within(l.api.stats(), STATS_TIMEOUT_MS, undefined)))?.accepted ?? 0;
    if (this.frontLink.api) await within(this.frontLink.api.drained(DRAIN_TIMEOUT_MS), grace, false);
    const drained = this.writerLink.api && (await within(this.writerLink.api.drained(WRITER_DRAIN_TIMEOUT_MS), WRITER_DRAIN_TIMEOUT_MS + 1000, false));
    if (drained === false) this.log.warn('not every row was committed in time: the rest is journaled for the next start');
    // The writer closes (journaling what is uncommitted) before anything else can run out the
    // clock: losing client sockets late costs nothing, losing rows does.
    await this.writer?.stop(async () => {
      const api = this.writerLink.api;
      if (!api) return;
      report.committed = (await within(api.stats(), STATS_TIMEOUT_MS, undefined))?.rowsCommitted ?? 0;
      report.journaled = (await within(api.close(), CLOSE_TIMEOUT_MS, undefined))?.journaledRows ?? 0;
    });
    await Promise.all(this.shards.map((h) => h.stop()));
    await this.front?.stop(async () => {
      if (this.frontLink.api) await within(this.frontLink.api.close(), CLOSE_TIMEOUT_MS, undefined);
    });
    // After the front (no request can reach it now), before the database (write-behind rows flush there).
    await this.cache?.stop(async () => {
      if (this.cacheLink.api) await within(this.cacheLink.api.close(), CLOSE_TIMEOUT_MS, undefined);
    });
    await this.embedded?.stop();
    this.dataDirLock?.release();
    return report;
  }
}
