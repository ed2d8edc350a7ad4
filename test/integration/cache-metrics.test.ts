// The cache's Prometheus metrics and stats() against the real Redis, parsed by the Prometheus text format rules.
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, SAMPLE_EVERY } from '../../src/cache/metrics.js';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import { cacheNodes } from '../helpers/cache-nodes.js';

const NAMESPACES = parseNamespaces({
  namespaces: [
    { name: 'quotes', keyPattern: 'quotes:{symbol}', ttlSeconds: 60, strategy: 'read-through', source: 'feed', memoryLimitBytes: 4096, compressionThresholdBytes: 4096 },
    { name: 'notes', keyPattern: 'notes:{id}', ttlSeconds: 60, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
  ],
});

const { node, cleanup } = cacheNodes(NAMESPACES);
afterAll(cleanup);

const family = (families: MetricFamily[], name: string) => {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`metric ${name} missing`);
  return f;
};
const value = (f: MetricFamily, labels: Record<string, string>) =>
  Number(f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);

describe('metrics', () => {
  it('exposes hits/misses per tier, latency, evictions, memory and Redis state in Prometheus text format', async () => {
    const registry = new Registry();
    const a = await node({ registry });
    expect(a.registry).toBe(registry);
    a.register('feed', { load: async (_k, p) => ({ symbol: p.symbol, pad: 'x'.repeat(1500) }) });

    await a.get('quotes', { symbol: 'A' }); // memory miss, Redis miss, source hit
    await a.get('quotes', { symbol: 'A' }); // memory hit
    for (const s of ['B', 'C', 'D']) await a.get('quotes', { symbol: s }); // 4 KiB holds two: evictions
    await a.set('notes', { id: 1 }, { n: 1 });
    for (let i = 0; i < SAMPLE_EVERY * 2; i++) a.peek('notes', { id: 1 });

    const families = parsePrometheusTextFormat(await registry.metrics());
    const hits = family(families, 'tickplant_cache_hits_total');
    const misses = family(families, 'tickplant_cache_misses_total');
    expect(hits.type).toBe('COUNTER');
    expect(value(hits, { namespace: 'quotes', tier: 'memory' })).toBe(1);
    expect(value(hits, { namespace: 'quotes', tier: 'source' })).toBe(4);
    expect(value(misses, { namespace: 'quotes', tier: 'redis' })).toBe(4);
    expect(value(hits, { namespace: 'notes', tier: 'memory' })).toBe(SAMPLE_EVERY * 2);

    const evictions = family(families, 'tickplant_cache_evictions_total');
    expect(value(evictions, { namespace: 'quotes' })).toBeGreaterThanOrEqual(2);
    const bytes = family(families, 'tickplant_cache_memory_bytes');
    expect(bytes.type).toBe('GAUGE');
    expect(value(bytes, { namespace: 'quotes' })).toBeLessThanOrEqual(4096);
    expect(value(family(families, 'tickplant_cache_redis_up'), {})).toBe(1);

    const latency = family(families, 'tickplant_cache_operation_duration_seconds');
    expect(latency.type).toBe('HISTOGRAM');
    // This parser folds labelled histograms into one set of buckets; per-label counts come from prom-client.
    expect(Object.keys(latency.metrics[0].buckets ?? {})).toContain('0.00001');
    expect(LATENCY_BUCKETS[0]).toBe(1e-5);
    const h = await registry.getSingleMetric('tickplant_cache_operation_duration_seconds')!.get();
    const values = h.values as { metricName?: string; labels: Record<string, string | number>; value: number }[];
    const count = (ns: string, op: string) => values.find((v) => v.metricName?.endsWith('_count') && v.labels.namespace === ns && v.labels.op === op)?.value;
    expect(count('quotes', 'get')).toBeGreaterThanOrEqual(4); // every miss is timed
    expect(count('quotes', 'load')).toBe(4);
    expect(count('notes', 'get')).toBe(2); // memory hits are sampled, one in SAMPLE_EVERY
    expect(count('notes', 'set')).toBe(1);
    for (const f of families) expect(f.name).toMatch(/^tickplant_(cache|ratelimit)_/);

    // stats() tells the same story as JSON.
    const st = a.stats();
    expect(st.redis).toEqual({ state: 'ready', errors: 0 });
    expect(st.namespaces.quotes).toMatchObject({
      strategy: 'read-through', hits: { memory: 1, redis: 0, source: 4 }, misses: { memory: 4, redis: 4, source: 0 }, limitBytes: 4096,
    });
    expect(st.namespaces.quotes.entries).toBeLessThanOrEqual(2);
    expect(st.namespaces.quotes.evictions).toBe(value(evictions, { namespace: 'quotes' }));
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });

  it('each service has its own registry unless given one', async () => {
    const [a, b] = await Promise.all([0, 1].map(() => node({ redis: null })));
    expect(a.registry).not.toBe(b.registry);
    expect(a.stats().redis.state).toBe('disabled');
    expect((await a.health()).status).toBe('ok');
    const families = parsePrometheusTextFormat(await a.registry.metrics());
    expect(value(family(families, 'tickplant_cache_redis_up'), {})).toBe(0);
  });
});
