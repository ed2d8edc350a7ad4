// The cache's Prometheus metrics (tickplant_cache_*), read from plain counters at scrape time.
//
// The hot path increments numbers on NamespaceState; each metric's `collect` copies them into
// prom-client when /metrics is scraped. Only latency is observed as it happens (memory hits one
// in SAMPLE_EVERY, everything else always), through label children bound once per namespace.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { NamespaceState } from './namespace-state.js';

/** Memory-tier hits are timed one in this many (a power of two: `tick & (SAMPLE_EVERY - 1)`): an
 *  observe() costs ~0.5 µs, several hits; under 1 % of hits so the sampled ones stay out of p99. */
export const SAMPLE_EVERY = 128;

/** Seconds; from 10 µs (a memory hit) to 5 s (a slow source). */
export const LATENCY_BUCKETS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface CacheGauges {
  redisUp(): number;
  redisErrors(): number;
  writeBehind(): { pending: number; written: number; failedBatches: number; overflow: number };
}

/** Registers every cache metric on `registry` and binds the latency children of each namespace. */
export function registerCacheMetrics(registry: Registry, states: readonly NamespaceState[], g: CacheGauges): void {
  const reg = [registry];
  // Counters mirror totals kept elsewhere: reset, then set each label set to its total.
  const mirror = (name: string, help: string, labelNames: string[], rows: () => [Record<string, string>, number][]) =>
    new Counter({
      name, help, labelNames, registers: reg,
      collect() {
        this.reset();
        for (const [labels, v] of rows()) this.inc(labels, v);
      },
    });
  const perNs = (f: (s: NamespaceState) => number) => () => states.map((s): [Record<string, string>, number] => [{ namespace: s.name }, f(s)]);

  mirror('tickplant_cache_hits_total', 'Cache lookups answered, by namespace and tier (memory, redis, source = loaded)', ['namespace', 'tier'], () =>
    states.flatMap((s): [Record<string, string>, number][] => [
      [{ namespace: s.name, tier: 'memory' }, s.hitsMemory],
      [{ namespace: s.name, tier: 'redis' }, s.hitsRedis],
      [{ namespace: s.name, tier: 'source' }, s.hitsSource],
    ]));
  mirror('tickplant_cache_misses_total', 'Cache lookups a tier could not answer, by namespace and tier', ['namespace', 'tier'], () =>
    states.flatMap((s): [Record<string, string>, number][] => [
      [{ namespace: s.name, tier: 'memory' }, s.missesMemory],
      [{ namespace: s.name, tier: 'redis' }, s.missesRedis],
      [{ namespace: s.name, tier: 'source' }, s.missesSource],
    ]));
  mirror('tickplant_cache_evictions_total', 'Memory-tier entries evicted by the LRU to stay within the namespace memory limit', ['namespace'], perNs((s) => s.evictions));
  mirror('tickplant_cache_expirations_total', 'Memory-tier entries dropped because their TTL passed', ['namespace'], perNs((s) => s.expired));
  mirror('tickplant_cache_load_errors_total', 'Source or loader failures', ['namespace'], perNs((s) => s.loadErrors));
  mirror('tickplant_cache_stampede_waits_total', 'Misses that waited for a load already in flight: in this process (local) or on another node (lock)', ['namespace', 'kind'], () =>
    states.flatMap((s): [Record<string, string>, number][] => [
      [{ namespace: s.name, kind: 'local' }, s.waitsLocal],
      [{ namespace: s.name, kind: 'lock' }, s.waitsLock],
    ]));
  mirror('tickplant_cache_redis_errors_total', 'Redis commands that failed or timed out (the caller fell back to memory)', [], () => [[{}, g.redisErrors()]]);
  mirror('tickplant_cache_write_behind_written_total', 'Write-behind writes stored in their source', [], () => [[{}, g.writeBehind().written]]);
  mirror('tickplant_cache_write_behind_failed_batches_total', 'Write-behind batches that failed (retried)', [], () => [[{}, g.writeBehind().failedBatches]]);
  mirror('tickplant_cache_write_behind_overflow_total', 'Writes refused by a full write-behind queue (written through instead)', [], () => [[{}, g.writeBehind().overflow]]);

  const gauge = (name: string, help: string, labelNames: string[], rows: () => [Record<string, string>, number][]) =>
    new Gauge({
      name, help, labelNames, registers: reg,
      collect() {
        for (const [labels, v] of rows()) this.set(labels, v);
      },
    });
  gauge('tickplant_cache_memory_bytes', 'Bytes accounted in the memory tier (JSON size + per-entry overhead)', ['namespace'], perNs((s) => s.memory.calculatedSize));
  gauge('tickplant_cache_memory_entries', 'Entries in the memory tier', ['namespace'], perNs((s) => s.memory.size));
  gauge('tickplant_cache_memory_limit_bytes', 'The namespace memory limit (memoryLimitBytes)', ['namespace'], perNs((s) => s.def.memoryLimitBytes));
  gauge('tickplant_cache_redis_up', '1 while the Redis connection is ready, else 0 (memory tier only)', [], () => [[{}, g.redisUp()]]);
  gauge('tickplant_cache_write_behind_pending', 'Keys waiting in the write-behind queue', [], () => [[{}, g.writeBehind().pending]]);

  const latency = new Histogram({
    name: 'tickplant_cache_operation_duration_seconds',
    help: `Cache operation latency by namespace and op (get, set, delete, load); memory-tier hits sampled 1 in ${SAMPLE_EVERY}`,
    labelNames: ['namespace', 'op'],
    buckets: LATENCY_BUCKETS,
    registers: reg,
  });
  for (const s of states) {
    s.latency = {
      get: latency.labels(s.name, 'get'),
      set: latency.labels(s.name, 'set'),
      delete: latency.labels(s.name, 'delete'),
      load: latency.labels(s.name, 'load'),
    };
  }
}
