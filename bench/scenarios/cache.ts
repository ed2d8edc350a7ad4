// cache: memory-tier hit latency and operations per second on one thread, against what a cache user would otherwise do.
// Run: npm run bench -- cache [--quick]
//
// All on this one thread, the same 10,000 keys of ~300-byte stock-price values, hit in a
// shuffled order (no branch-predictor-friendly sequence):
//   tickplant peek        CacheService.peek(): the synchronous memory-tier fast path
//   tickplant get         await CacheService.get(): the general path (memory hit, one await)
//   map (floor)           a plain Map of objects: the least any in-process cache can do
//   map + JSON.parse      a Map of JSON strings parsed on every hit (a common hand-written in-memory cache)
//   redis GET             one awaited ioredis GET + JSON.parse per hit (a Redis-first cache)
// Latency is timed per operation (process.hrtime.bigint, ~40 ns of it is the clock itself) in
// nanoseconds; throughput is timed over whole batches without per-op clocks.

import { Redis } from 'ioredis';
import hdr from 'hdr-histogram-js';
import { Registry } from 'prom-client';
import { CacheService, parseNamespaces } from '../../src/cache/index.js';
import { logger } from '../../src/log.js';
import {
  type ScenarioResult, type Series, type SystemFigures, PERCENTILES, machine, printTable, ratio, scenarioArgs, versions, writeResult,
} from '../lib/report.js';

const { quick } = scenarioArgs();
const KEYS = 10_000;
const P = quick ? { latencyOps: 200_000, throughputS: 1, redisOps: 5_000 } : { latencyOps: 2_000_000, throughputS: 5, redisOps: 50_000 };
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tp_bench_cache_${process.pid}:`;

const startedAt = new Date();
const t0 = performance.now();
const symbols = Array.from({ length: KEYS }, (_, i) => `S${i}`);
const value = (s: string) => ({ symbol: s, close_price: 150.25, open_price: 149.1, high_price: 151, low_price: 148.7, volume: 1_000_000, change_percent: 0.77, timestamp: new Date().toISOString(), exchange: 'NASDAQ', currency: 'USD', note: 'x'.repeat(100) });
// A fixed shuffled visiting order, the same for every system.
const order = new Uint32Array(1 << 16);
let seed = 42;
for (let i = 0; i < order.length; i++) order[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % KEYS;

const nsHistogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e9, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });

type Op = (i: number) => unknown;
type AsyncOp = (i: number) => Promise<unknown>;

/** ns per op, recorded one by one, then ops/s over a window without per-op clocks. */
function measureSync(op: Op): { h: hdr.Histogram; opsPerSecond: number } {
  for (let i = 0; i < 200_000; i++) op(order[i & 0xffff]); // warm-up (JIT)
  const h = nsHistogram();
  for (let i = 0; i < P.latencyOps; i++) {
    const s = process.hrtime.bigint();
    op(order[i & 0xffff]);
    h.recordValue(Number(process.hrtime.bigint() - s));
  }
  let n = 0;
  const until = performance.now() + P.throughputS * 1000;
  const start = performance.now();
  while (performance.now() < until) {
    for (let i = 0; i < 100_000; i++) op(order[(n + i) & 0xffff]);
    n += 100_000;
  }
  return { h, opsPerSecond: n / ((performance.now() - start) / 1000) };
}

async function measureAsync(op: AsyncOp, ops: number, throughputS: number): Promise<{ h: hdr.Histogram; opsPerSecond: number }> {
  for (let i = 0; i < Math.min(ops, 50_000); i++) await op(order[i & 0xffff]);
  const h = nsHistogram();
  for (let i = 0; i < ops; i++) {
    const s = process.hrtime.bigint();
    await op(order[i & 0xffff]);
    h.recordValue(Number(process.hrtime.bigint() - s));
  }
  let n = 0;
  const until = performance.now() + throughputS * 1000;
  const start = performance.now();
  while (performance.now() < until) {
    for (let i = 0; i < 10_000; i++) await op(order[(n + i) & 0xffff]);
    n += 10_000;
  }
  return { h, opsPerSecond: n / ((performance.now() - start) / 1000) };
}

const systems: SystemFigures[] = [];
const series: Series[] = [];
function record(system: string, m: { h: hdr.Histogram; opsPerSecond: number }): void {
  const us = (p: number) => Math.round(m.h.getValueAtPercentile(p)) / 1000;
  systems.push({
    system,
    figures: { opsPerSecond: Math.round(m.opsPerSecond), hitP50Us: us(50), hitP99Us: us(99), hitP999Us: us(99.9), hitMaxUs: Math.round(m.h.maxValue) / 1000 },
  });
  series.push({ kind: 'latency-percentiles', system, label: `${system} hit latency (ms)`, points: PERCENTILES.map((p) => ({ x: p, y: m.h.getValueAtPercentile(p) / 1e6 })) });
}

const namespaces = parseNamespaces({
  namespaces: [{ name: 'stock_prices', keyPattern: 'stock_price:{symbol}', ttlSeconds: 3600, strategy: 'cache-only', memoryLimitBytes: 64 << 20, compressionThresholdBytes: 4096 }],
}, {}, 'bench');
// Memory only: this scenario measures the memory tier; Redis is measured as its own row.
const cache = await CacheService.create({ namespaces, registry: new Registry(), log: logger('bench') });
for (const s of symbols) await cache.set('stock_prices', { symbol: s }, value(s));
const params = symbols.map((symbol) => ({ symbol }));

record('tickplant peek', measureSync((i) => cache.peek('stock_prices', params[i])));
record('tickplant get', await measureAsync((i) => cache.get('stock_prices', params[i]), P.latencyOps, P.throughputS));
const map = new Map(symbols.map((s) => [s, value(s)]));
record('map (floor)', measureSync((i) => map.get(symbols[i])));
const strings = new Map(symbols.map((s) => [s, JSON.stringify(value(s))]));
record('map + JSON.parse', measureSync((i) => JSON.parse(strings.get(symbols[i])!)));

const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();
const pipe = redis.pipeline();
for (const s of symbols) pipe.set(`${prefix}${s}`, JSON.stringify(value(s)), 'EX', 600);
await pipe.exec();
record('redis GET', await measureAsync(async (i) => JSON.parse((await redis.get(`${prefix}${symbols[i]}`))!), P.redisOps, Math.min(P.throughputS, 3)));
const keys = symbols.map((s) => `${prefix}${s}`);
for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
await redis.quit();
await cache.close();

const by = (name: string) => systems.find((s) => s.system === name)!.figures;
const peek = by('tickplant peek');
const ratios = [
  ratio('opsPerSecond', peek.opsPerSecond, 'map + JSON.parse', by('map + JSON.parse').opsPerSecond),
  ratio('opsPerSecond', peek.opsPerSecond, 'redis GET', by('redis GET').opsPerSecond),
  ratio('opsPerSecond', peek.opsPerSecond, 'map (floor)', by('map (floor)').opsPerSecond),
  ratio('hitP99Us', peek.hitP99Us, 'redis GET', by('redis GET').hitP99Us, true),
];
const result: ScenarioResult = {
  scenario: 'cache',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: Math.round((performance.now() - t0) / 1000),
  machine: machine(),
  versions: versions(),
  parameters: { keys: KEYS, valueBytes: JSON.stringify(value('S0')).length, ...P },
  systems,
  ratios,
  series,
  targets: [
    { figure: 'memory-tier hit p99 (peek)', target: '<= 2 us', measured: peek.hitP99Us, met: peek.hitP99Us <= 2 },
    { figure: 'memory-tier hits per second, one thread (peek)', target: '>= 5,000,000', measured: peek.opsPerSecond, met: peek.opsPerSecond >= 5_000_000 },
    { figure: 'memory-tier hit p99 (await get)', target: '<= 2 us', measured: by('tickplant get').hitP99Us, met: by('tickplant get').hitP99Us <= 2 },
  ],
  notes: [
    'per-op latency includes two process.hrtime.bigint() calls (~40-80 ns); throughput is timed without them',
    'no server process here: every figure is on this one thread, so per-second and per-CPU-second coincide',
  ],
};
printTable(result);
process.stdout.write(`wrote ${writeResult(result).pathname}\n`);
