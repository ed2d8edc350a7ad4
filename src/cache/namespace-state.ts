// One namespace at run time: its memory tier (an LRU bounded by bytes, with TTL) and its counters.
//
// One LRU per namespace rather than one global LRU: each namespace's `memoryLimitBytes` is its
// own budget, so a burst of large chart payloads cannot evict sessions or prices, the per-
// namespace bytes/entries gauges are the LRU's own counters (no bookkeeping beside it), and
// eviction counts are per namespace for free. The process-wide bound is the sum of the limits.
//
// Counters are plain numbers incremented on the hot path; metrics.ts reads them at scrape time
// (a prom-client `labels().inc()` per hit would cost more than the hit itself).

import { LRUCache } from 'lru-cache';
import type { Histogram } from 'prom-client';
import type { KeyPattern, Params } from './keys.js';
import type { Namespace } from './namespaces.js';
import type { CacheHit, CacheSource, NamespaceStats } from './types.js';

/** Per-entry overhead added to the JSON size: key string, entry object, LRU slots (an estimate). */
export const ENTRY_OVERHEAD_BYTES = 96;

/** A memory-tier entry. `hit` is preallocated so a memory hit allocates nothing. */
export interface Entry {
  readonly hit: CacheHit;
  /** Accounted size: UTF-8 JSON bytes + key + ENTRY_OVERHEAD_BYTES. A proxy for heap bytes. */
  readonly bytes: number;
  /** Date.now() at which it expires (refresh-ahead reads it; lru-cache enforces the TTL). */
  readonly expiresAt: number;
  /** The TTL this key gets when (re)written: refresh-ahead's ratio applies to it. */
  readonly ttlMs: number;
}

type LatencyChild = ReturnType<Histogram<'namespace' | 'op'>['labels']>;

export class NamespaceState {
  readonly name: string;
  readonly keys: KeyPattern;
  readonly memory: LRUCache<string, Entry>;
  /** Resolved on first use (custom sources are registered after create()). */
  source: CacheSource | undefined;
  /** Latency children, bound once (labels() per call would hash the label set). */
  latency!: { get: LatencyChild; set: LatencyChild; delete: LatencyChild; load: LatencyChild };

  hitsMemory = 0;
  hitsRedis = 0;
  hitsSource = 0;
  missesMemory = 0;
  missesRedis = 0;
  missesSource = 0;
  evictions = 0;
  expired = 0;
  loadErrors = 0;
  waitsLocal = 0;
  waitsLock = 0;
  /** Memory hits are timed one in SAMPLE_EVERY (two clock reads would double a hit's cost). */
  tick = 0;

  private readonly overrides: { param: string; values: ReadonlySet<string>; ttlMs: number }[];
  private readonly ttlMsDefault: number;

  constructor(readonly def: Namespace) {
    this.name = def.name;
    this.keys = def.keys;
    this.ttlMsDefault = def.ttlSeconds * 1000;
    this.overrides = def.ttlOverrides.map((o) => ({ param: o.param, values: new Set(o.values), ttlMs: o.ttlSeconds * 1000 }));
    this.memory = new LRUCache<string, Entry>({
      maxSize: def.memoryLimitBytes,
      // An entry larger than the whole budget is not kept in memory (it still goes to Redis).
      maxEntrySize: def.memoryLimitBytes,
      sizeCalculation: (e) => e.bytes,
      // TTL per entry (set below); expired entries are dropped when touched or by cleanup()'s
      // purgeStale(), never by timers (ttlAutopurge would arm one timer per entry).
      ttl: this.ttlMsDefault,
      updateAgeOnGet: false,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.evictions++;
        else if (reason === 'expire') this.expired++;
      },
    });
  }

  /** The TTL of a key with these params: the first matching ttlOverride, else the namespace's. */
  ttlMs(params: Params): number {
    for (const o of this.overrides) {
      const v = params[o.param];
      if (v !== undefined && o.values.has(String(v))) return o.ttlMs;
    }
    return this.ttlMsDefault;
  }

  /** Stores a value in memory for ttlMs (≤ 0: not stored). `jsonBytes`: its UTF-8 JSON size. */
  remember(key: string, value: unknown, jsonBytes: number, ttlMs: number, fullTtlMs: number): void {
    if (ttlMs <= 0) return;
    const entry: Entry = {
      hit: Object.freeze({ value, tier: 'memory' as const }),
      bytes: jsonBytes + key.length + ENTRY_OVERHEAD_BYTES,
      expiresAt: Date.now() + ttlMs,
      ttlMs: fullTtlMs,
    };
    this.memory.set(key, entry, { ttl: ttlMs });
  }

  /** Drops keys matching `re`; adds them to `into`. Returns how many were dropped. */
  dropMatching(re: RegExp, into?: Set<string>): number {
    const doomed: string[] = [];
    // Collect first: deleting while iterating an LRU's key order would skip entries.
    for (const k of this.memory.keys()) if (re.test(k)) doomed.push(k);
    for (const k of doomed) {
      this.memory.delete(k);
      into?.add(k);
    }
    return doomed.length;
  }

  /** Drops expired entries now; returns how many. */
  purgeExpired(): number {
    const before = this.expired;
    this.memory.purgeStale();
    return this.expired - before;
  }

  stats(): NamespaceStats {
    return {
      strategy: this.def.strategy,
      ttlSeconds: this.def.ttlSeconds,
      hits: { memory: this.hitsMemory, redis: this.hitsRedis, source: this.hitsSource },
      misses: { memory: this.missesMemory, redis: this.missesRedis, source: this.missesSource },
      entries: this.memory.size,
      bytes: this.memory.calculatedSize,
      limitBytes: this.def.memoryLimitBytes,
      evictions: this.evictions,
      expired: this.expired,
      loadErrors: this.loadErrors,
      stampedeWaits: { local: this.waitsLocal, lock: this.waitsLock },
    };
  }
}
