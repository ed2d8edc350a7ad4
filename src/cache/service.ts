// CacheService: namespaces over memory → Redis → source, with each namespace's strategy deciding the order.
//
// Read (get/getOrLoad/peek): memory; on a miss Redis (the hit fills memory); on a miss there a
// load — the namespace's source (read-through, write-through, write-behind, refresh-ahead) or
// getOrLoad's loader (any strategy) — once per key (loading.ts), written to both tiers.
// get() on cache-only/cache-aside namespaces never loads. A hit in the last refreshAheadRatio of
// its TTL reloads in the background.
// Write (set/setMany):   write-through  source, then memory, then Redis (a source failure throws
//                                       and leaves the cache untouched);
//                        write-behind   queue for the source, then memory, then Redis;
//                        others         memory, then Redis.
// Delete: the same order with the source's delete(); invalidate()/clear() touch the cache only.
// Redis trouble never throws (memory serves); source trouble throws CacheSourceError.
//
// Usage:
//   const cache = await CacheService.create({ namespaces: loadNamespaces(process.env), redis: { url }, databaseUrl });
//   cache.register('market_data', { load: async (_key, { symbol }) => latestBook(String(symbol)) });
//   const hit = await cache.get('market_data', { symbol: 'BTC-USD' });   // { value, tier } | undefined

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import { type Logger, logger } from '../log.js';
import { CacheSourceError, UnknownNamespaceError } from './errors.js';
import { Invalidator } from './invalidation.js';
import { type Params, globToRegExp } from './keys.js';
import { type LockOptions, Loads } from './loading.js';
import { registerCacheMetrics, SAMPLE_EVERY } from './metrics.js';
import { MAX_TTL_SECONDS, type Namespace, SOURCE_STRATEGIES } from './namespaces.js';
import { NamespaceState } from './namespace-state.js';
import { PostgresStore } from './postgres-source.js';
import { type CacheRedisOptions, CacheRedisTier } from './redis-tier.js';
import { Tiers, serialize } from './tiers.js';
import type { CacheHealth, CacheHit, CacheSource, CacheStats, CleanupResult, Loader, SetOptions } from './types.js';
import { type WriteBehindOptions, WriteBehindQueue } from './write-behind.js';

export interface CacheServiceOptions {
  namespaces: readonly Namespace[];
  /** Absent: memory tier only (per node). */
  redis?: CacheRedisOptions;
  /** DATABASE_URL; required when a namespace has `source: "postgres"`. */
  databaseUrl?: string;
  /** Names this node in invalidation messages and lock tokens. Default host:pid:random. */
  nodeId?: string;
  /** Where tickplant_cache_* metrics are registered. Default: a new Registry (see `.registry`). */
  registry?: Registry;
  log?: Logger;
  lock?: LockOptions;
  writeBehind?: WriteBehindOptions;
}

const mask = SAMPLE_EVERY - 1;

export class CacheService {
  readonly nodeId: string;
  readonly registry: Registry;
  private readonly states = new Map<string, NamespaceState>();
  private readonly invalidator: Invalidator;
  private readonly tiers: Tiers;
  private readonly loads: Loads;
  private readonly writeBehind: WriteBehindQueue;
  private readonly cleanupHooks = new Map<string, () => Promise<number>>();
  private closed: Promise<void> | undefined;

  /** Connects Redis (a Redis down at start only degrades) and PostgreSQL (unreachable: throws). */
  static async create(opts: CacheServiceOptions): Promise<CacheService> {
    const log = opts.log ?? logger('cache');
    let pg: PostgresStore | undefined;
    if (opts.namespaces.some((n) => n.source === 'postgres')) {
      if (!opts.databaseUrl) {
        const names = opts.namespaces.filter((n) => n.source === 'postgres').map((n) => n.name);
        throw new ConfigError(`invalid configuration: cache namespaces ${names.join(', ')} use source "postgres" but no databaseUrl (DATABASE_URL) was given`);
      }
      pg = await PostgresStore.open(opts.databaseUrl, log);
    }
    let svc: CacheService;
    try {
      svc = new CacheService(opts, log, pg);
    } catch (e) {
      await pg?.close(); // bad options (RangeError/ConfigError naming them): don't leak the pool
      throw e;
    }
    await svc.tiers.redis?.connect();
    return svc;
  }

  private constructor(opts: CacheServiceOptions, log: Logger, private readonly pg: PostgresStore | undefined) {
    if (opts.namespaces.length === 0) throw new ConfigError('invalid configuration: the cache needs at least one namespace');
    this.nodeId = opts.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    const redis = opts.redis ? new CacheRedisTier(opts.redis, this.nodeId, log, (m) => this.invalidator.onMessage(m)) : undefined;
    this.tiers = new Tiers(redis, this.nodeId, log);
    this.loads = new Loads(this.tiers, opts.lock ?? {}, log);
    this.writeBehind = new WriteBehindQueue(opts.writeBehind ?? {}, (ns) => this.sourceOf(this.state(ns)), log);
    for (const def of opts.namespaces) {
      const st = new NamespaceState(def);
      if (def.source === 'postgres') st.source = pg!.source(def.name);
      this.states.set(def.name, st);
    }
    this.invalidator = new Invalidator(this.states, this.tiers, log);
    this.registry = opts.registry ?? new Registry();
    registerCacheMetrics(this.registry, [...this.states.values()], {
      redisUp: () => (redis?.ready ? 1 : 0),
      redisErrors: () => redis?.errors ?? 0,
      writeBehind: () => ({ pending: this.writeBehind.pending, ...this.writeBehind.counters }),
    });
  }

  /** Registers a named source (e.g. 'market_data'); namespaces whose `source` is `name` use it. */
  register(name: string, source: CacheSource): void {
    if (name === 'postgres') throw new TypeError('cache source "postgres" is built in; register custom sources under another name');
    if (typeof source?.load !== 'function') throw new TypeError(`cache source "${name}" must have a load(key, params) method`);
    for (const st of this.states.values()) {
      if (st.def.source !== name) continue;
      if ((st.def.strategy === 'write-through' || st.def.strategy === 'write-behind') && typeof source.store !== 'function') {
        throw new TypeError(`cache source "${name}" needs store() for namespace ${st.name} (strategy ${st.def.strategy})`);
      }
      st.source = source;
    }
  }

  namespace(name: string): Namespace {
    return this.state(name).def;
  }

  /** The TTL a write of (ns, params) gets: the namespace's, or its ttlOverrides' class for these params (Cache-Control max-age). */
  ttlSeconds(ns: string, params: Params = {}): number {
    return this.state(ns).ttlMs(params) / 1000;
  }

  /** The key of (ns, params) as stored in Redis (prefix included when Redis is configured). */
  key(ns: string, params: Params): string {
    return (this.tiers.redis?.prefix ?? '') + this.state(ns).keys.build(params);
  }

  /**
   * Memory tier only, synchronous: the value or undefined. The fast path for hot readers (no
   * promise, no allocation beyond the key string). On refresh-ahead namespaces a hit near expiry
   * still starts the background reload. Throws CacheKeyError / UnknownNamespaceError.
   */
  peek<T = unknown>(ns: string, params: Params): T | undefined {
    const st = this.state(ns);
    const key = st.keys.build(params);
    const sampled = (++st.tick & mask) === 0;
    const t0 = sampled ? performance.now() : 0;
    const e = st.memory.get(key);
    if (e === undefined) {
      st.missesMemory++;
      return undefined;
    }
    st.hitsMemory++;
    if (st.def.refreshAheadRatio !== undefined && st.def.source !== undefined && Loads.due(st, e.expiresAt - Date.now(), e.ttlMs)) {
      this.loads.refresh(st, key, params, () => this.loadFromSource(st, key, params));
    }
    if (sampled) st.latency.get.observe((performance.now() - t0) / 1000);
    return e.hit.value as T;
  }

  /** Strategy-aware read: memory → Redis → (source-backed namespaces) the source. */
  get<T = unknown>(ns: string, params: Params): Promise<CacheHit<T> | undefined> {
    return this.lookup(ns, params, undefined) as Promise<CacheHit<T> | undefined>;
  }

  /** Cache-aside: on a miss in both tiers, `loader` runs once per key (here and across nodes). */
  getOrLoad<T = unknown>(ns: string, params: Params, loader: Loader<T>): Promise<CacheHit<T> | undefined> {
    return this.lookup(ns, params, loader) as Promise<CacheHit<T> | undefined>;
  }

  /** get() for many keys of one namespace, in order. */
  getMany<T = unknown>(ns: string, paramsList: readonly Params[]): Promise<(CacheHit<T> | undefined)[]> {
    return Promise.all(paramsList.map((p) => this.get<T>(ns, p)));
  }

  private lookup(ns: string, params: Params, loader: Loader<unknown> | undefined): Promise<CacheHit | undefined> {
    let st: NamespaceState;
    let key: string;
    try {
      st = this.state(ns);
      key = st.keys.build(params);
    } catch (e) {
      return Promise.reject(e);
    }
    const sampled = (++st.tick & mask) === 0;
    const t0 = sampled ? performance.now() : 0;
    const e = st.memory.get(key);
    if (e !== undefined) {
      st.hitsMemory++;
      if (st.def.refreshAheadRatio !== undefined && Loads.due(st, e.expiresAt - Date.now(), e.ttlMs)) {
        const l = loader ?? (st.def.source !== undefined ? () => this.loadFromSource(st, key, params) : undefined);
        if (l) this.loads.refresh(st, key, params, l);
      }
      if (sampled) st.latency.get.observe((performance.now() - t0) / 1000);
      return Promise.resolve(e.hit);
    }
    st.missesMemory++;
    return this.miss(st, key, params, loader, sampled ? t0 : performance.now());
  }

  private async miss(st: NamespaceState, key: string, params: Params, loader: Loader<unknown> | undefined, t0: number): Promise<CacheHit | undefined> {
    try {
      const l = loader ?? (SOURCE_STRATEGIES.has(st.def.strategy) ? () => this.loadFromSource(st, key, params) : undefined);
      if (l) return await this.loads.load(st, key, params, l);
      return (await this.tiers.fromRedis(st, key, st.ttlMs(params)))?.hit;
    } finally {
      st.latency.get.observe((performance.now() - t0) / 1000);
    }
  }

  /** A source load; a write still waiting in the write-behind queue is newer than the source's row. */
  private loadFromSource(st: NamespaceState, key: string, params: Params): Promise<unknown> {
    const waiting = this.writeBehind.peek(st.name, key);
    if (waiting) return Promise.resolve(waiting.kind === 'store' ? waiting.value : undefined);
    return this.sourceOf(st).load(key, params);
  }

  /** Strategy-aware write (see the top of this file). Throws CacheSourceError if a synchronous source write fails. */
  async set<T = unknown>(ns: string, params: Params, value: T, opts: SetOptions = {}): Promise<void> {
    const st = this.state(ns);
    const key = st.keys.build(params);
    const ttlMs = ttlOf(st, params, opts);
    const json = serialize(ns, key, value); // before any source sees it: a value that cannot be cached is refused whole
    const t0 = performance.now();
    try {
      const s = st.def.strategy;
      if (s === 'write-through') await this.store(st, [{ key, params, value }]);
      else if (s === 'write-behind' && !this.writeBehind.offer({ ns, key, params, kind: 'store', value })) {
        await this.store(st, [{ key, params, value }]); // queue full: write through instead of dropping
      }
      await this.tiers.write(st, key, value, json, ttlMs, 'set');
    } finally {
      st.latency.set.observe((performance.now() - t0) / 1000);
    }
  }

  /** set() for many keys of one namespace; write-through stores them in one source call (storeMany). */
  async setMany<T = unknown>(ns: string, items: readonly { params: Params; value: T }[], opts: SetOptions = {}): Promise<void> {
    const st = this.state(ns);
    const rows = items.map((it) => {
      const key = st.keys.build(it.params);
      return { key, params: it.params, value: it.value as unknown, json: serialize(ns, key, it.value), ttlMs: ttlOf(st, it.params, opts) };
    });
    const s = st.def.strategy;
    if (s === 'write-through') await this.store(st, rows);
    else if (s === 'write-behind') {
      const refused = rows.filter((r) => !this.writeBehind.offer({ ns, key: r.key, params: r.params, kind: 'store', value: r.value }));
      if (refused.length > 0) await this.store(st, refused);
    }
    await Promise.all(rows.map((r) => this.tiers.write(st, r.key, r.value, r.json, r.ttlMs, 'set')));
  }

  /** Strategy-aware delete; true if the key was in memory or Redis. */
  async delete(ns: string, params: Params): Promise<boolean> {
    const st = this.state(ns);
    const key = st.keys.build(params);
    const t0 = performance.now();
    try {
      const s = st.def.strategy;
      if (s === 'write-through') await this.removeFromSource(st, key, params);
      else if (s === 'write-behind' && !this.writeBehind.offer({ ns, key, params, kind: 'delete' })) await this.removeFromSource(st, key, params);
      return await this.tiers.drop(st, key);
    } finally {
      st.latency.delete.observe((performance.now() - t0) / 1000);
    }
  }

  /**
   * Drops every key matching the glob (`stock_price:AAPL*`) from memory here, from Redis (SCAN +
   * UNLINK) and from every other node's memory (pub/sub). Sources are not touched. Returns the
   * number of distinct keys removed here and in Redis. Throws CachePatternError on a bad glob.
   */
  invalidate(pattern: string): Promise<number> {
    return this.invalidator.pattern(pattern);
  }

  /** invalidate() of every key of one namespace. */
  invalidateNamespace(ns: string): Promise<number> {
    return this.invalidator.pattern(this.state(ns).keys.glob());
  }

  /** Removes every value and session index on every node (not rate-limit state); the keys removed here and in Redis. */
  clear(): Promise<number> {
    return this.invalidator.clear();
  }

  /** Params of cached keys of a namespace (memory here ∪ Redis), e.g. the cached symbols. */
  async keys(ns: string, partial: Readonly<Record<string, string | number | undefined>> = {}, limit = 1000): Promise<Record<string, string>[]> {
    const st = this.state(ns);
    const glob = st.keys.glob(partial);
    const re = globToRegExp(glob);
    const found = new Set<string>();
    for (const k of st.memory.keys()) if (re.test(k) && found.size < limit) found.add(k);
    for (const k of (await this.tiers.redis?.scan(glob, limit)) ?? []) if (found.size < limit) found.add(k);
    return [...found].map((k) => st.keys.parse(k)).filter((p): p is Record<string, string> => p !== undefined);
  }

  /**
   * Values whose JSON contains `match` (e.g. signals of a symbol): the source's, newest first; a
   * namespace without a source (cache-only, as PERSIST=false makes the PostgreSQL-backed ones)
   * has only its tiers to offer, so they are scanned (at most QUERY_SCAN_KEYS keys).
   */
  async query<T = unknown>(ns: string, match: Readonly<Record<string, unknown>>, limit = 100): Promise<{ params: Record<string, string>; value: T }[]> {
    const st = this.state(ns);
    if (st.def.source === undefined) {
      const keys = await this.keys(ns, {}, QUERY_SCAN_KEYS);
      const hits = await this.getMany(ns, keys);
      const out: { params: Record<string, string>; value: T }[] = [];
      hits.forEach((h, i) => {
        if (h !== undefined && out.length < limit && contains(h.value, match)) out.push({ params: keys[i], value: h.value as T });
      });
      return out;
    }
    const src = this.sourceOf(st);
    if (!src.query) throw new CacheSourceError(ns, `source "${st.def.source}" cannot be queried (no query())`);
    let rows: { key: string; value: unknown }[];
    try {
      rows = await src.query(match, limit);
    } catch (e) {
      throw new CacheSourceError(ns, `query failed: ${(e as Error).message}`, { cause: e });
    }
    return rows.flatMap((r) => {
      const params = st.keys.parse(r.key);
      return params ? [{ params, value: r.value as T }] : [];
    });
  }

  /** Registers a cleanup step (SessionStore registers 'expiredSessions'); cleanup() runs it and reports its count under `name`. */
  onCleanup(name: string, fn: () => Promise<number>): void {
    this.cleanupHooks.set(name, fn);
  }

  /** Drops expired memory entries and runs the cleanup hooks; counts per step. */
  async cleanup(): Promise<CleanupResult> {
    let expired = 0;
    for (const st of this.states.values()) expired += st.purgeExpired();
    const out: CleanupResult = { expiredMemoryEntries: expired };
    for (const [name, fn] of this.cleanupHooks) out[name] = await fn();
    return out;
  }

  stats(): CacheStats {
    const namespaces: CacheStats['namespaces'] = {};
    for (const st of this.states.values()) namespaces[st.name] = st.stats();
    const redis = this.tiers.redis;
    return {
      nodeId: this.nodeId,
      redis: { state: redis ? redis.state : 'disabled', errors: redis?.errors ?? 0 },
      writeBehind: { pending: this.writeBehind.pending, ...this.writeBehind.counters },
      namespaces,
    };
  }

  async health(): Promise<CacheHealth> {
    const redis = this.tiers.redis;
    const [r, p] = await Promise.all([redis?.ping(), this.pg?.ping()]);
    const unregistered = [...new Set([...this.states.values()].filter((s) => s.def.source && !s.source).map((s) => s.def.source!))];
    const redisDown = redis !== undefined && r?.error !== undefined;
    const pgDown = this.pg !== undefined && p?.error !== undefined;
    return {
      status: redisDown || pgDown ? 'degraded' : 'ok',
      nodeId: this.nodeId,
      redis: redis ? { state: redis.state, ...r } : { state: 'disabled' },
      postgres: this.pg ? { state: p?.error ? 'down' : 'ok', ...p } : { state: 'disabled' },
      unregisteredSources: unregistered,
      writeBehindPending: this.writeBehind.pending,
    };
  }

  /** Runs fn on the Redis command connection; undefined when Redis is absent, down or fails. */
  withRedis<T>(fn: (client: Redis, keyPrefix: string) => Promise<T>): Promise<T | undefined> {
    const redis = this.tiers.redis;
    return redis ? redis.run((c) => fn(c, redis.prefix)) : Promise.resolve(undefined);
  }

  /** The Redis key prefix ('' without Redis). */
  get keyPrefix(): string {
    return this.tiers.redis?.prefix ?? '';
  }

  /** Stores the write-behind queue's waiting writes now; resolves with how many still wait. */
  flush(timeoutMs = 5000): Promise<number> {
    return this.writeBehind.drain(timeoutMs);
  }

  /** Drains write-behind (bounded), then closes Redis and PostgreSQL. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.writeBehind.close();
      await this.tiers.redis?.close();
      await this.pg?.close();
    })();
    return this.closed;
  }

  private state(ns: string): NamespaceState {
    const st = this.states.get(ns);
    if (st === undefined) throw new UnknownNamespaceError(ns, [...this.states.keys()]);
    return st;
  }

  private sourceOf(st: NamespaceState): CacheSource {
    if (st.source) return st.source;
    throw new CacheSourceError(st.name, `source "${st.def.source}" is not registered; call cache.register("${st.def.source}", source) at start`);
  }

  private async store(st: NamespaceState, rows: { key: string; params: Params; value: unknown }[]): Promise<void> {
    const src = this.sourceOf(st);
    try {
      if (src.storeMany && rows.length > 1) await src.storeMany(rows);
      else if (src.store) for (const r of rows) await src.store(r.key, r.params, r.value);
      else throw new Error(`source "${st.def.source}" has no store()`);
    } catch (e) {
      throw new CacheSourceError(st.name, `storing ${rows.length === 1 ? rows[0].key : `${rows.length} keys`} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private async removeFromSource(st: NamespaceState, key: string, params: Params): Promise<void> {
    const src = this.sourceOf(st);
    try {
      await src.delete?.(key, params);
    } catch (e) {
      throw new CacheSourceError(st.name, `deleting ${key} failed: ${(e as Error).message}`, { cause: e });
    }
  }
}

function ttlOf(st: NamespaceState, params: Params, opts: SetOptions): number {
  const s = opts.ttlSeconds;
  if (s === undefined) return st.ttlMs(params);
  if (!Number.isInteger(s) || s < 1 || s > MAX_TTL_SECONDS) throw new RangeError(`cache set option ttlSeconds must be whole seconds 1-${MAX_TTL_SECONDS}, got ${s}`);
  return s * 1000;
}

/** Keys a query of a cache-only namespace scans at most. */
const QUERY_SCAN_KEYS = 10_000;

/** Whether `value` is an object holding every field of `match` (the source's JSON containment, one level deep). */
function contains(value: unknown, match: Readonly<Record<string, unknown>>): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const [k, v] of Object.entries(match)) if ((value as Record<string, unknown>)[k] !== v) return false;
  return true;
}
