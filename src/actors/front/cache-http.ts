// The front actor's cache service: built from the configuration, fed by the runtime's books, served at /api/v1/cache and /metrics.

import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config, NamespaceDefinition } from '../../config.js';
import { CacheService, RateLimiter, SessionStore, parseNamespaces } from '../../cache/index.js';
import { CacheHttp, isApiPath } from '../../cache/api/api.js';
import { ConfigError } from '../../errors.js';
import { TYPE_SNAPSHOT } from '../../protocol/encode.js';
import { registerRuntimeMetrics, type RuntimeSnapshot } from '../../stats/runtime-metrics.js';
import type { Logger } from '../../log.js';
import { errorReply } from './http.js';
import type { ComponentHealth } from '../supervisor/messages.js';
import type { HttpReply, HttpRequest } from './uws.js';
import type { FrontSymbol } from './symbols.js';

/** Expired sessions and memory entries are swept this often (a sliding TTL leaves index entries behind). */
const CLEANUP_INTERVAL_MS = 60_000;

export interface CacheHttpOptions {
  cfg: Config;
  databaseUrl?: string;
  log: Logger;
  symbol(name: string): FrontSymbol | undefined;
  symbols(): string[];
  runtime(): Promise<RuntimeSnapshot>;
  health(): Promise<Record<string, ComponentHealth>>;
}

export interface FrontCache {
  /** The reply for /api/v1/cache/*, /metrics and /health/detailed; undefined for any other path. */
  handle(req: HttpRequest): Promise<HttpReply> | undefined;
  close(): Promise<void>;
}

/** prom-client default metrics that are gauges despite their `_total` suffix. */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** First retry delay of a cache service that could not start (PostgreSQL away), doubling. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * Starts at once: /metrics and /health/detailed answer from the first moment, and the cache
 * service connects in the background (retrying while PostgreSQL is away, so a database outage
 * at start-up never keeps the WebSocket service down); until then /api/ answers 503.
 */
export function startFrontCache(o: CacheHttpOptions): FrontCache {
  const registry = new Registry();
  // prom-client names them process_* and nodejs_*: the prefix makes tickplant_process_cpu_seconds_total.
  collectDefaultMetrics({ register: registry, prefix: 'tickplant_' });
  // Three of them are gauges named `_total`, which Prometheus reserves for counters; the gauges
  // by type beside them (tickplant_nodejs_active_handles{type}, …) hold the same figures.
  for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(`tickplant_${name}`);
  const runtimeMetrics = registerRuntimeMetrics(registry, o.runtime);
  let ready: { http: CacheHttp; cache: CacheService } | undefined;
  let lastError = 'starting';
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let cleanup: NodeJS.Timeout | undefined;
  let connecting: Promise<void> | undefined;

  const connect = (delayMs: number): void => {
    connecting = (async () => {
      try {
        const cache = await createCache(o, registry);
        if (closed) {
          await cache.close();
          return;
        }
        let http: CacheHttp;
        try {
          http = wire(o, cache, registry);
        } catch (e) {
          await cache.close(); // its pools and connections must not outlive a failed start
          throw new ConfigError(`cache sources: ${(e as Error).message}`); // not retried: the namespaces are wrong
        }
        ready = { cache, http };
        cleanup = setInterval(() => {
          cache.cleanup().catch((e: Error) => o.log.warn('cache cleanup failed', { error: e.message }));
        }, CLEANUP_INTERVAL_MS);
        cleanup.unref();
        if (lastError !== 'starting') o.log.info('cache service connected');
      } catch (e) {
        lastError = (e as Error).message;
        if (e instanceof ConfigError) {
          o.log.error(`cache service not started: ${lastError}`); // retrying cannot fix the configuration
          return;
        }
        o.log.warn(`cache service cannot start (retrying in ${delayMs} ms): ${lastError}`);
        if (!closed) retry = setTimeout(() => connect(Math.min(delayMs * 2, RETRY_MAX_MS)), delayMs);
      }
    })();
  };
  connect(RETRY_FIRST_MS);

  const detailedHealth = async (): Promise<HttpReply> => {
    const [components, c, rt] = await Promise.all([o.health(), ready?.cache.health(), o.runtime()]);
    components.cache = c
      ? { status: c.status, detail: `redis ${c.redis.state}, postgres ${c.postgres.state}` }
      : { status: 'degraded', detail: `not connected: ${lastError}` };
    const states = Object.values(components).map((x) => x.status);
    const status = states.includes('down') ? 'down' : states.includes('degraded') ? 'degraded' : 'ok';
    const body = {
      status,
      components,
      cache: c ?? { status: 'degraded', error: lastError },
      websocket: { connections: rt.front.connections, subscriptions: rt.front.subscriptions, messagesSent: rt.front.messagesSent },
      feedToPublish: rt.front.feedToPublish,
      uptimeS: rt.supervisor?.uptimeS,
    };
    return { status: status === 'down' ? 503 : 200, body: JSON.stringify(body) };
  };

  return {
    handle(req) {
      if (req.url === '/metrics' || req.url === '/health/detailed') {
        if (req.method !== 'GET') return Promise.resolve({ ...errorReply(req.url, 405, 'method_not_allowed', `${req.method} ${req.url}: use GET`), headers: { allow: 'GET' } });
        if (req.url === '/health/detailed') return detailedHealth();
        return runtimeMetrics.refresh().then(async () => ({ status: 200, body: await registry.metrics(), contentType: registry.contentType }));
      }
      if (!isApiPath(req.url)) return undefined;
      if (!ready) return Promise.resolve(errorReply(req.url, 503, 'cache_unavailable', `the cache service is not connected yet: ${lastError}`));
      return ready.http.handle(req);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(cleanup);
      await connecting?.catch(() => undefined); // its failure was logged; a late success is closed above
      await ready?.cache.close(); // flushes write-behind rows before the pools go
    },
  };
}

function createCache(o: CacheHttpOptions, registry: Registry): Promise<CacheService> {
  return CacheService.create({
    namespaces: parseNamespaces({ namespaces: withoutDatabase(o.cfg.cacheNamespaces, o.databaseUrl, o.log) }, {}, 'cache namespaces'),
    databaseUrl: o.databaseUrl,
    redis: o.cfg.redisUrl
      ? { url: o.cfg.redisUrl, password: o.cfg.redisPassword, db: o.cfg.redisDb, maxConnections: o.cfg.redisMaxConnections }
      : undefined,
    registry,
    log: o.log,
  });
}

/** Registers the runtime's sources on a connected cache and builds its REST API. */
function wire(o: CacheHttpOptions, cache: CacheService, registry: Registry): CacheHttp {
  // The runtime is the source of truth of its symbols' books: read-through from the shared store.
  const latest = (name: string) => {
    const sym = o.symbol(name);
    if (!sym || sym.lastSeq === 0) return undefined;
    const out = new Uint8Array(sym.maxFrameBytes);
    const len = sym.encode(out, TYPE_SNAPSHOT, sym.lastSeq, sym.epoch);
    if (len < 0) return undefined;
    const { type: _type, ...frame } = JSON.parse(Buffer.from(out.buffer, 0, len).toString('utf8')) as { type: string; data: Record<string, unknown> };
    return frame as { symbol: string; epoch: number; seq: number; timestamp: string; data: Record<string, number | null | number[][]> };
  };
  cache.register('market_data', {
    load: async (_key, p) => {
      const f = latest(String(p.symbol));
      return f && { symbol: f.symbol, seq: f.seq, epoch: f.epoch, timestamp: f.timestamp, ...f.data };
    },
  });
  cache.register('price', {
    load: async (_key, p) => {
      const f = latest(String(p.symbol));
      const d = f?.data;
      return f && d && { symbol: f.symbol, price: d.mid_price, best_bid: d.best_bid, best_ask: d.best_ask, spread: d.spread, volume: d.total_volume, seq: f.seq, timestamp: f.timestamp };
    },
  });
  const sessions = new SessionStore(cache);
  cache.onCleanup('expiredSessions', () => sessions.cleanup());
  const limiter = o.cfg.rateLimitEnabled
    ? new RateLimiter({ limits: { requests: o.cfg.rateLimitRequests, windowSeconds: o.cfg.rateLimitWindow, perKey: o.cfg.rateLimitPerKey }, cache, registry })
    : undefined;
  return new CacheHttp({ cache, sessions, limiter, runtimeSymbols: o.symbols, health: () => cache.health(), log: o.log });
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
