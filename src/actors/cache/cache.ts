// Cache actor: the cache service (tiers, sources, sessions, rate limits, its REST API) on a thread of its own.
//
// The front actor's event loop is the fan-out's: validation, the cache's PostgreSQL pool and
// Redis connections, compression of large values and the rate limiter would all delay
// publishes there. The front forwards /api/ requests over a link (a MessagePort) and writes the
// replies; everything between runs here.

import type { MessagePort } from 'node:worker_threads';
import { Registry } from 'prom-client';
import type { Config, NamespaceDefinition } from '../../config.js';
import { CacheHttp, isApiPath } from '../../cache/api/api.js';
import { ApiError, errorReply } from '../../cache/api/replies.js';
import { CacheService, RateLimiter, SessionStore, parseNamespaces } from '../../cache/index.js';
import { ConfigError } from '../../errors.js';
import { type Logger, logger } from '../../log.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import { recentTrades } from '../../store/recent-trades.js';
import { REDIS_OWNER, RedisConnectionLimitError, nodeRedis } from '../../store/redis-connections.js';
import { readRecentTradesRedis } from '../../store/trade-query.js';
import { RegistrationInbox, type SymbolRegistration } from '../registry.js';
import type { ComponentHealth } from '../supervisor/messages.js';
import { Books } from './books.js';
import { AlertHub } from './alerts.js';
import { Markets } from './market.js';
import { Prices } from './prices.js';
import { StoredPrices } from './stored-prices.js';
import type { CacheApi, CacheInit, LinkReply, LinkRequest, WireRequest } from './messages.js';

/** Expired sessions and memory entries are swept this often (a sliding TTL leaves index entries behind). */
const CLEANUP_INTERVAL_MS = 60_000;
/** First retry delay of a cache service that could not start (PostgreSQL away), doubling. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

export class CacheActor implements CacheApi {
  private readonly cfg: Config;
  private readonly log: Logger = logger('cache');
  private readonly books: Books;
  /** Each symbol's trade ring and 1m candles: the sources of price_change, price_history and GET /trades. */
  private readonly markets = new Markets();
  /** Stored trades and candles before the rings' coverage; absent without PostgreSQL. */
  private readonly stored?: StoredPrices;
  private readonly inbox: RegistrationInbox;
  /** tickplant_cache_* metrics; the front appends them to its /metrics. */
  private readonly registry = new Registry();
  private ready?: { http: CacheHttp; cache: CacheService };
  private lastError = 'starting';
  private closed = false;
  private retry?: NodeJS.Timeout;
  private cleanup?: NodeJS.Timeout;
  private connecting?: Promise<void>;
  private readonly links = new Set<MessagePort>();
  /** Symbol → id and shard: where a price alert's commands go. */
  private readonly symbolIds = new Map<string, { id: number; shard: number }>();
  /** Price alerts (absent without PostgreSQL or with ANALYTICS=false). */
  private readonly alerts?: AlertHub;

  constructor(private readonly init: CacheInit) {
    this.cfg = init.config;
    this.books = new Books(this.cfg);
    for (const r of init.symbols) this.register(r);
    this.inbox = new RegistrationInbox(init.registrations, (r) => this.register(r));
    if (init.databaseUrl) this.stored = new StoredPrices(init.databaseUrl, this.cfg.marketTimeZone, this.log);
    if (init.databaseUrl && init.alertQueues) {
      this.alerts = new AlertHub(this.cfg, init.databaseUrl, init.alertQueues, (name) => this.symbolIds.get(name), (user, frame) => this.toUser(user, frame), this.log);
    }
    init.links.on('message', (port: MessagePort) => this.serve(port));
  }

  /**
   * Ready at once: /api/ answers 503 until the service has connected, in the background and
   * retrying while PostgreSQL is away, so a database outage never keeps the node from starting.
   */
  start(): void {
    this.connect(RETRY_FIRST_MS);
    // Loads (retrying while PostgreSQL is away) in the background, like the cache service.
    this.alerts?.start().catch((e: Error) => this.log.error('price alerts did not start', { error: e.message }));
  }

  private register(r: SymbolRegistration): void {
    this.books.add(r);
    this.markets.add(r);
    this.symbolIds.set(r.name, { id: r.id, shard: r.shard });
  }

  /** An alert frame for the user's connections: to the front (one per node) over its links. */
  private toUser(user: string, frame: string): void {
    for (const port of this.links) port.postMessage({ id: 0, kind: 'alert', user, frame } satisfies LinkReply);
  }

  resendAlerts(shard: number): Promise<void> {
    return this.alerts?.resend(shard) ?? Promise.resolve();
  }

  private connect(delayMs: number): void {
    this.connecting = (async () => {
      try {
        const cache = await this.createCache();
        if (this.closed) {
          await cache.close();
          return;
        }
        let http: CacheHttp;
        try {
          http = this.wire(cache);
        } catch (e) {
          await cache.close(); // its pools and connections must not outlive a failed start
          throw new ConfigError(`cache sources: ${(e as Error).message}`); // not retried: the namespaces are wrong
        }
        this.ready = { cache, http };
        this.cleanup = setInterval(() => {
          cache.cleanup().catch((e: Error) => this.log.warn('cache cleanup failed', { error: e.message }));
        }, CLEANUP_INTERVAL_MS);
        this.cleanup.unref();
        if (this.lastError !== 'starting') this.log.info('cache service connected');
      } catch (e) {
        this.lastError = (e as Error).message;
        if (e instanceof ConfigError || e instanceof RedisConnectionLimitError) {
          this.log.error(`cache service not started: ${this.lastError}`); // retrying cannot fix the configuration
          return;
        }
        this.log.warn(`cache service cannot start (retrying in ${delayMs} ms): ${this.lastError}`);
        if (!this.closed) this.retry = setTimeout(() => this.connect(Math.min(delayMs * 2, RETRY_MAX_MS)), delayMs);
      }
    })();
  }

  private createCache(): Promise<CacheService> {
    const redis = nodeRedis(this.cfg, this.init.redisConnections, REDIS_OWNER.cache);
    return CacheService.create({
      namespaces: parseNamespaces({ namespaces: withoutDatabase(this.cfg.cacheNamespaces, this.init.databaseUrl, this.log) }, {}, 'cache namespaces'),
      databaseUrl: this.init.databaseUrl,
      redis: redis && { connections: redis },
      registry: this.registry,
      log: this.log,
    });
  }

  /** Registers the runtime's sources on a connected cache and builds its REST API. */
  private wire(cache: CacheService): CacheHttp {
    // The runtime is the source of truth of its symbols' books: read-through from the shared store.
    cache.register('market_data', {
      load: async (_key, p) => {
        const f = this.books.latest(String(p.symbol));
        return f && { symbol: f.symbol, seq: f.seq, epoch: f.epoch, timestamp: f.timestamp, ...f.data };
      },
    });
    cache.register('price', {
      load: async (_key, p) => {
        const f = this.books.latest(String(p.symbol));
        const d = f?.data;
        return f && d && { symbol: f.symbol, price: d.mid_price, best_bid: d.best_bid, best_ask: d.best_ask, spread: d.spread, volume: d.total_volume, seq: f.seq, timestamp: f.timestamp };
      },
    });
    // Recent trades: the trade ring, or after a restart the writer's capped list in Redis (no
    // cache key prefix: the writer's key), read on the cache's command connection.
    const redisTrades = async (symbol: string, limit: number) => (await cache.withRedis((c) => readRecentTradesRedis(c, symbol, limit))) ?? [];
    const prices = new Prices(this.markets, this.stored, async (symbol) => (await redisTrades(symbol, 1)).at(-1)?.price);
    cache.register('price_change', { load: (_key, p) => prices.change(String(p.symbol), Number(p.minutes)) });
    cache.register('price_history', { load: (_key, p) => prices.history(String(p.symbol), Number(p.since), Number(p.limit)) });
    const trades = async (symbol: string, limit: number) => {
      const m = this.markets.get(symbol);
      return m && recentTrades(m.trades, symbol, limit, redisTrades);
    };
    const sessions = new SessionStore(cache);
    cache.onCleanup('expiredSessions', () => sessions.cleanup());
    const c = this.cfg;
    const limiter = c.rateLimitEnabled
      ? new RateLimiter({ limits: { requests: c.rateLimitRequests, windowSeconds: c.rateLimitWindow, perKey: c.rateLimitPerKey }, cache, registry: this.registry })
      : undefined;
    return new CacheHttp({
      cache, sessions, limiter, runtimeSymbols: () => this.books.names(), recentTrades: trades, alerts: this.alerts, health: () => cache.health(), log: this.log,
    });
  }

  // ── links: the front's requests ──────────────────────────────────────────────

  private serve(port: MessagePort): void {
    this.links.add(port);
    port.on('close', () => this.links.delete(port));
    port.on('message', (m: LinkRequest) => {
      this.answer(m).then(
        (reply) => {
          if (!this.links.has(port)) return;
          // Reply bodies as bytes, encoded here and moved: the front writes them as they are,
          // with no copy of its own and no UTF-8 encoding on the fan-out thread.
          if (reply.kind === 'http') {
            const bytes = ownBytes(reply.reply.body);
            reply.reply.body = bytes;
            port.postMessage(reply, bytes.byteLength > 0 ? [bytes.buffer as ArrayBuffer] : []);
          } else {
            port.postMessage(reply);
          }
        },
        (e: unknown) => this.log.error('cache link request failed', { kind: m.kind, error: String((e as Error)?.stack ?? e) }),
      );
    });
  }

  private async answer(m: LinkRequest): Promise<LinkReply> {
    switch (m.kind) {
      case 'http':
        return { id: m.id, kind: 'http', reply: await this.handle(toRequest(m.req)) };
      case 'metrics':
        return { id: m.id, kind: 'metrics', text: await this.registry.metrics() };
      case 'health':
        return this.ready
          ? { id: m.id, kind: 'health', health: await this.ready.cache.health() }
          : { id: m.id, kind: 'health', error: `not connected: ${this.lastError}` };
    }
  }

  private handle(req: HttpRequest): Promise<HttpReply> {
    if (!isApiPath(req.url)) return Promise.resolve(errorReply(new ApiError(404, 'not_found', `no route ${req.url}`)));
    if (!this.ready) return Promise.resolve(errorReply(new ApiError(503, 'cache_unavailable', `the cache service is not connected yet: ${this.lastError}`)));
    return this.ready.http.handle(req);
  }

  // ── control API ──────────────────────────────────────────────────────────────

  status(): ComponentHealth {
    if (!this.ready) return { status: 'degraded', detail: `not connected: ${this.lastError}` };
    const redis = this.ready.cache.stats().redis.state;
    if (redis === 'disabled') return { status: 'ok', detail: 'memory tier only (REDIS_URL not set)' };
    return redis === 'ready' ? { status: 'ok', detail: 'redis ready' } : { status: 'degraded', detail: `redis ${redis}: memory tier only until it returns` };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.alerts?.close();
    clearTimeout(this.retry);
    clearInterval(this.cleanup);
    for (const p of this.links) p.close();
    this.links.clear();
    this.init.links.close();
    this.inbox.close();
    await this.connecting?.catch(() => undefined); // its failure was logged; a late success is closed above
    await this.ready?.cache.close(); // flushes write-behind rows before the pools go
    await this.stored?.close();
  }
}

const utf8 = new TextEncoder();

/** The body as bytes in an ArrayBuffer of their own (movable to another thread). */
function ownBytes(body: string | Uint8Array): Uint8Array {
  if (typeof body === 'string') return utf8.encode(body);
  return body.byteOffset === 0 && body.buffer.byteLength === body.byteLength ? body : new Uint8Array(body);
}

function toRequest(w: WireRequest): HttpRequest {
  const headers = new Map(w.headers);
  return {
    method: w.method,
    url: w.url,
    query: new URLSearchParams(w.query),
    header: (name) => headers.get(name.toLowerCase()) ?? '',
    headers,
    remoteAddress: w.remoteAddress,
    body: Buffer.from(w.body.buffer, w.body.byteOffset, w.body.byteLength),
    identity: w.identity,
  };
}

/**
 * With persistence off (PERSIST=false) there is no PostgreSQL: namespaces backed by it keep
 * working from the cache tiers alone, and the log says which ones.
 */
function withoutDatabase(namespaces: readonly NamespaceDefinition[], databaseUrl: string | undefined, log: Logger): readonly NamespaceDefinition[] {
  if (databaseUrl) return namespaces;
  const backed = namespaces.filter((n) => n.source === 'postgres');
  if (backed.length === 0) return namespaces;
  log.info(`no PostgreSQL (PERSIST=false): cache namespaces ${backed.map((n) => n.name).join(', ')} are cache-only`);
  return namespaces.map((n) => (n.source === 'postgres' ? { ...n, strategy: 'cache-only' as const, source: undefined, refreshAheadRatio: undefined } : n));
}
