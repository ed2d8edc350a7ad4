// The cache's public types: sources, hits, options, stats and health shapes.

import type { Params } from './keys.js';
import type { Strategy } from './namespaces.js';

export type { Params };

/** Where a value came from: the memory tier, Redis, or a source/loader (a load). */
export type Tier = 'memory' | 'redis' | 'source';

/**
 * A hit. On a memory hit this object is the one stored with the entry (no allocation per hit),
 * and `value` is shared by every caller: treat both as read-only.
 */
export interface CacheHit<T = unknown> {
  readonly value: T;
  readonly tier: Tier;
}

/** The caller's loader for cache-aside (getOrLoad). undefined = nothing to cache (not cached). */
export type Loader<T> = () => Promise<T | undefined> | T | undefined;

/**
 * The source of truth behind a namespace: the built-in "postgres" one (postgres-source.ts) or
 * one the application registers by name (e.g. the cache actor's `market_data`: the runtime's order books).
 * `key` is the namespace's key without the Redis prefix; `params` are the key's parameters.
 * Errors thrown here reach the caller as CacheSourceError.
 */
export interface CacheSource<T = unknown> {
  load(key: string, params: Params): Promise<T | undefined>;
  /** Needed by write-through and write-behind. */
  store?(key: string, params: Params, value: T): Promise<void>;
  /** Optional batch form (write-behind flushes, setMany); otherwise store() is called per item. */
  storeMany?(items: readonly SourceItem<T>[]): Promise<void>;
  delete?(key: string, params: Params): Promise<void>;
  /** Values whose JSON contains `match` (jsonb `@>`), newest first (e.g. active signals of a symbol). */
  query?(match: Readonly<Record<string, unknown>>, limit: number): Promise<{ key: string; value: T }[]>;
}

export interface SourceItem<T = unknown> {
  key: string;
  params: Params;
  value: T;
}

export interface SetOptions {
  /** Overrides the namespace's TTL for this value (the REST API's `?ttl=`), 1 s … 30 days. */
  ttlSeconds?: number;
}

/** Counts of one namespace, for GET /api/v1/cache/stats. */
export interface NamespaceStats {
  strategy: Strategy;
  ttlSeconds: number;
  hits: { memory: number; redis: number; source: number };
  misses: { memory: number; redis: number; source: number };
  entries: number;
  bytes: number;
  limitBytes: number;
  evictions: number;
  expired: number;
  loadErrors: number;
  stampedeWaits: { local: number; lock: number };
}

export type RedisState = 'ready' | 'connecting' | 'down' | 'disabled';

export interface CacheStats {
  nodeId: string;
  redis: { state: RedisState; errors: number };
  writeBehind: { pending: number; written: number; failedBatches: number; overflow: number };
  namespaces: Record<string, NamespaceStats>;
}

export interface CacheHealth {
  /** degraded: Redis or PostgreSQL is configured and not answering; the memory tier still serves. */
  status: 'ok' | 'degraded';
  nodeId: string;
  redis: { state: RedisState; latencyMs?: number; error?: string };
  postgres: { state: 'ok' | 'down' | 'disabled'; latencyMs?: number; error?: string };
  /** Custom sources named by a namespace and not registered yet. */
  unregisteredSources: string[];
  writeBehindPending: number;
}

/** What cleanup() removed: expired memory entries, plus each registered hook's count. */
export interface CleanupResult {
  expiredMemoryEntries: number;
  [hook: string]: number;
}
