// Scenario snapshot: time to send today's history (86,400 points) to a new subscriber, and other clients' p99 meanwhile.
// Run: npm run bench -- snapshot [--quick]
//
// 1. A fresh schema, migrated by the runtime's migrate(); 86,400 rows of one symbol, one per
//    history bucket, seq 1… in one epoch, encoded by the writer's CopyRowEncoder and stored by
//    its copyBatch with ingest_progress (bench/lib/seed-history.ts). "Today" starts at 00:00 in
//    MARKET_TIMEZONE, and a day cannot hold 86,400 one-second points before 23:59:59 local, so
//    the scenario picks a time zone without DST where it is late in the day (but not so late
//    that midnight falls within the run) and a HISTORY_RESOLUTION_MS just under 1 s that divides
//    an hour (960, else 900 ms): the stored day then holds exactly 86,400 buckets.
// 2. tickplant (PERSIST on, default shards, fresh DATA_DIR so it continues the stored sequence)
//    serves that symbol plus 10 load symbols; the C generator holds 1,000 clients on the load
//    symbols (100 per symbol, resolution none). Their feed→client latency is measured for a
//    window without snapshots, then only while new subscribers to the seeded symbol are served:
//    each one is a node:net raw client, timed from sending subscribe to holding the complete
//    historical_data frame, plus a short tail for updates queued behind it. The first is cold
//    (every hour from PostgreSQL), the rest warm (the front's hour cache).
// Not pinned: PostgreSQL, Redis, the writer, the snapshot pool and the generator share 2 cores.

import { rmSync } from 'node:fs';
import type hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { startOfDayMs } from '../../src/market-day.js';
import { benchSymbols, sleep, startLoadgen } from '../lib/loadgen.js';
import { benchSchema, type ServerProcess, spawnServer, startTickplant, TICKPLANT_BENCH_ENV } from '../lib/process.js';
import { RawWsClient } from '../lib/raw-ws-client.js';
import { type ScenarioResult, cpuMeter, latencyFigures, latencyHistogram, machine, percentileSeries, printTable, ratio, round, scenarioArgs, versions, writeResult } from '../lib/report.js';
import { seedHistory } from '../lib/seed-history.js';

const { quick } = scenarioArgs();
const POINTS = 86_400;
const DEPTH = 10;
const LOAD_SYMBOLS = benchSymbols(10);
const CONNS = 1_000;
const RATE = 100; // updates/s per symbol: 100,000 deliveries/s to the other clients
const SUBSCRIBERS = quick ? 4 : 20; // the first cold, the rest warm
const WITHOUT_MS = quick ? 4_000 : 20_000;
const TAIL_MS = 250; // after the frame arrived: updates queued behind it still count as "during"
const PAUSE_MS = quick ? 250 : 1_000; // between subscribers, unmeasured
const HISTORY_TIMEOUT_MS = 30_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Time that must remain before local midnight: the whole run happens within one market day. */
const RUN_MARGIN_MS = (quick ? 3 : 10) * 60_000;
/** Seeding and start-up happen between choosing the zone and the server's first read. */
const SEED_SLACK_MS = 2 * 60_000;
/** Resolutions (ms) that divide an hour, so no bucket spans two of the hour-cache's chunks. */
const RESOLUTIONS = [960, 900];
/** Zones without daylight saving time: Etc/GMT±N (POSIX signs: Etc/GMT-14 is UTC+14) and a few off the hour. */
const ZONES = [
  ...Array.from({ length: 27 }, (_, i) => i - 12).map((h) => (h === 0 ? 'Etc/GMT' : `Etc/GMT${h > 0 ? '-' : '+'}${Math.abs(h)}`)),
  'Asia/Kabul', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Yangon', 'Australia/Eucla', 'Pacific/Marquesas',
];

// What bounds each figure, from a --cpu-prof of the server (SNAPSHOT_CPU_PROF_DIR) and EXPLAIN ANALYZE of one hour's query.
const BOUND_COLD = 'PostgreSQL: 24 hour-chunk bucketing queries (date_bin + sort + window, ~18 ms each in PostgreSQL plus ~15 ms of node-pg row parsing, on an idle machine) through one snapshot thread with 2 connections';
const BOUND_WARM = 'bytes: a ~22 MB frame (~260 B per point) copied twice in the front (join of the hour parts, Buffer.concat with the envelope), then one synchronous uWS send, loopback and the client\'s reassembly';
const BOUND_OTHERS = 'the front\'s one thread: building and sending the ~22 MB frame in one message (one ws.send) delays every publish queued behind it';

const startedAt = new Date();
const t0 = performance.now();

// ── 1. the market day and the stored rows ─────────────────────────────────────────────────

const now = Date.now();
const choice = RESOLUTIONS.flatMap((res) =>
  ZONES.map((zone) => ({ zone, res, dayStart: startOfDayMs(now, zone) }))
    .map((c) => ({ ...c, elapsed: now - c.dayStart }))
    .filter((c) => c.elapsed >= (POINTS + 1) * res + SEED_SLACK_MS && c.elapsed + RUN_MARGIN_MS < 86_400_000)
    .sort((a, b) => a.elapsed - b.elapsed),
)[0];
if (!choice) throw new Error('snapshot: no time zone fits 86,400 points and the run before midnight (should not happen: offsets span 26 hours)');
const { zone, res, dayStart } = choice;
const SYMBOL = `SNAP${process.pid}`; // new per run: no hour of it is cached in Redis yet, so the first read is cold
const EPOCH = dayStart;
const firstBucket = Math.ceil(dayStart / res) * res;
const schema = await benchSchema('snapshot');
const DATA_DIR = `/tmp/tickplant-snapshot-${process.pid}`;
process.stdout.write(`snapshot: ${zone} (${(choice.elapsed / 3_600_000).toFixed(2)} h into the day), ${POINTS} rows at ${res} ms of ${SYMBOL} …\n`);
const seeded = await seedHistory({ databaseUrl: schema.url, symbol: SYMBOL, depth: DEPTH, epoch: EPOCH, firstMs: firstBucket + res / 2, stepMs: res, rows: POINTS });
process.stdout.write(`  stored in ${seeded.seconds.toFixed(1)} s (${(seeded.bytes / 2 ** 20).toFixed(0)} MiB of COPY text)\n`);

// ── 2. the server, the other clients, the new subscribers ─────────────────────────────────

const TICKPLANT_ENV = {
  SYMBOLS: [SYMBOL, ...LOAD_SYMBOLS].join(','), SIM_UPDATES_PER_SECOND: String(RATE), SIM_SEED: '1', BOOK_DEPTH: String(DEPTH),
  PERSIST: 'true', DATABASE_URL: schema.url, DATA_DIR, MARKET_TIMEZONE: zone, HISTORY_RESOLUTION_MS: String(res),
};
// SNAPSHOT_CPU_PROF_DIR=<dir>: the server runs under --cpu-prof (not allowed in NODE_OPTIONS),
// one .cpuprofile per thread, written at its graceful stop.
const profileDir = process.env.SNAPSHOT_CPU_PROF_DIR;
const startServer = (): Promise<ServerProcess> => profileDir
  ? spawnServer({
    name: 'tickplant (profiled)', command: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, 'dist/src/main.js'],
    env: { WEBSOCKET_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', REDIS_URL, ...TICKPLANT_BENCH_ENV, ...TICKPLANT_ENV }, ready: /listening on http:\/\/[^:]+:(\d+)/,
  })
  : startTickplant(TICKPLANT_ENV);

interface History { ms: number; bytes: number; points: number; counted: number; memory: number; database: number; seq: number; epoch: number }

/** One new subscriber: connect, `beforeSend`, then time subscribe → complete historical_data frame. */
async function subscribe(port: number, beforeSend: () => Promise<void>): Promise<History> {
  let sentAt = 0;
  let settle: { resolve(h: History): void; reject(e: Error): void } | undefined;
  const done = new Promise<History>((resolve, reject) => (settle = { resolve, reject }));
  const client = await RawWsClient.connect({
    host: '127.0.0.1', port, path: '/ws',
    onMessage(buf, start, end) {
      if (!settle) return; // snapshot and live updates after the history
      const at = performance.now();
      const head = buf.toString('latin1', start, Math.min(end, start + 600));
      const s = settle;
      settle = undefined;
      if (!head.startsWith('{"type":"historical_data"')) return s.reject(new Error(`expected historical_data, got ${head.slice(0, 300)}`));
      const num = (re: RegExp) => Number(re.exec(head)?.[1] ?? NaN);
      // Points actually in the array, not only the header's claim (after the clock was read).
      const data = buf.indexOf('"data":[', start) + 8;
      let counted = 0;
      for (let p = buf.indexOf('{"time":', data); p >= 0 && p < end; p = buf.indexOf('{"time":', p + 8)) counted++;
      s.resolve({
        ms: at - sentAt, bytes: end - start, points: num(/"points":(\d+)/), counted,
        memory: num(/"memory":(\d+)/), database: num(/"database":(\d+)/), seq: num(/"seq":(\d+)/), epoch: num(/"epoch":(\d+)/),
      });
    },
    onClose: (reason) => settle?.reject(new Error(`subscriber closed before historical_data: ${reason}`)),
  });
  try {
    await beforeSend();
    sentAt = performance.now();
    client.sendText(JSON.stringify({ action: 'subscribe', symbol: SYMBOL }));
    const timer = setTimeout(() => settle?.reject(new Error(`no historical_data after ${HISTORY_TIMEOUT_MS} ms`)), HISTORY_TIMEOUT_MS);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    client.close();
  }
}

let result: ScenarioResult;
let server: ServerProcess | undefined;
try {
  const running = await startServer();
  server = running;
  const base = `http://127.0.0.1:${running.port}`;
  const symbols = (await (await fetch(`${base}/symbols`)).json()) as unknown;
  const entry = (Array.isArray(symbols) ? symbols : (symbols as { symbols?: unknown[] }).symbols ?? []).find((s) => (s as { symbol?: string; name?: string }).symbol === SYMBOL || (s as { name?: string }).name === SYMBOL);
  const gen = await startLoadgen({ port: running.port, conns: CONNS, symbols: LOAD_SYMBOLS, resolution: 'none', intervalUs: 1e6 / RATE });
  const genCpu = gen.cpu();
  const genT0 = performance.now();
  try {
    await sleep(2_000);
    // Without snapshots: one continuous window.
    await gen.reset();
    const cpuWithout = cpuMeter(running.pid);
    const tw = performance.now();
    await sleep(WITHOUT_MS);
    const without = await gen.report();
    const withoutSeconds = (performance.now() - tw) / 1000;
    const withoutCpu = cpuWithout.seconds();
    process.stdout.write(`  without snapshots: p99 ${without.latency.getValueAtPercentile(99) / 1000} ms over ${withoutSeconds.toFixed(1)} s\n`);

    // During snapshots: only from each subscribe to its frame plus TAIL_MS, merged.
    const during = latencyHistogram();
    const duringCo = latencyHistogram();
    const histories: (History & { otherP99Ms: number })[] = [];
    let duringSeconds = 0;
    let duringCpu = 0;
    const counters = { deliveries: 0, gaps: 0, resyncs: 0 };
    for (let i = 0; i < SUBSCRIBERS; i++) {
      let cpu = cpuMeter(running.pid);
      let ts = 0;
      const h = await subscribe(running.port, async () => {
        await gen.reset(); // the window starts here: after the handshake, before subscribe
        ts = performance.now();
        cpu = cpuMeter(running.pid);
      }).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${running.output().slice(-3000)}`);
      });
      await sleep(TAIL_MS);
      const r = await gen.report();
      duringSeconds += (performance.now() - ts) / 1000;
      duringCpu += cpu.seconds();
      during.add(r.latency as hdr.Histogram);
      duringCo.add(r.latencyCo as hdr.Histogram);
      counters.deliveries += r.deliveries;
      counters.gaps += r.gaps + r.dups;
      counters.resyncs += r.resyncs;
      histories.push({ ...h, otherP99Ms: r.latency.getValueAtPercentile(99) / 1000 });
      process.stdout.write(`  subscriber ${i + 1} (${i === 0 ? 'cold' : 'warm'}): ${h.ms.toFixed(1)} ms, ${h.points} points (${h.database} stored + ${h.memory} live), ${(h.bytes / 2 ** 20).toFixed(1)} MiB; others' p99 ${r.latency.getValueAtPercentile(99) / 1000} ms\n`);
      await sleep(PAUSE_MS); // not part of any window
    }
    const stats = (await (await fetch(`${base}/stats`)).json()) as { front?: { historyTiers?: unknown } };

    // ── figures ──────────────────────────────────────────────────────────────────────────
    const cold = histories[0];
    const warm = histories.slice(1).map((h) => h.ms).sort((a, b) => a - b);
    const pct = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.ceil((q / 100) * xs.length) - 1)] ?? NaN;
    const p99Without = without.latency.getValueAtPercentile(99) / 1000;
    const p99During = during.getValueAtPercentile(99) / 1000;
    const slowdown = p99During / p99Without;
    const worstMs = Math.max(cold.ms, ...warm);
    result = {
      scenario: 'snapshot',
      quick,
      startedAt: startedAt.toISOString(),
      durationS: Math.round((performance.now() - t0) / 100) / 10,
      machine: machine(),
      versions: versions(),
      parameters: {
        historyPoints: POINTS, storedRows: POINTS, marketTimeZone: zone, hoursIntoMarketDay: round(choice.elapsed / 3_600_000), historyResolutionMs: res,
        seededSymbol: SYMBOL, seededEpoch: EPOCH, seedSeconds: round(seeded.seconds), copyBytes: seeded.bytes, symbolAfterRestart: entry ?? 'not listed',
        otherClients: CONNS, loadSymbols: LOAD_SYMBOLS.length, ratePerSymbol: RATE, bookDepth: DEPTH, subscribers: SUBSCRIBERS, tailMs: TAIL_MS,
        withoutWindowS: round(withoutSeconds), duringWindowsS: round(duringSeconds),
        tickplant: { PERSIST: true, SHARDS: 'default', SNAPSHOT_THREADS: 'default (1)' },
        perSubscriber: histories.map((h, i) => ({ n: i + 1, tier: i === 0 ? 'cold' : 'warm', ms: round(h.ms), bytes: h.bytes, points: h.points, counted: h.counted, database: h.database, memory: h.memory, seq: h.seq, epoch: h.epoch, otherClientsP99Ms: h.otherP99Ms })),
        historyTiersAfter: stats.front?.historyTiers,
      },
      systems: [
        { system: 'other clients, no snapshots', figures: { ...latencyFigures(without.latency), coLatencyP99Ms: without.latencyCo.getValueAtPercentile(99) / 1000, deliveriesPerSecond: Math.round(without.deliveries / withoutSeconds), serverCpuShare: round(withoutCpu / withoutSeconds), gaps: without.gaps + without.dups, resyncs: without.resyncs } },
        { system: 'other clients, during snapshots', figures: { ...latencyFigures(during), coLatencyP99Ms: duringCo.getValueAtPercentile(99) / 1000, deliveriesPerSecond: Math.round(counters.deliveries / duringSeconds), serverCpuShare: round(duringCpu / duringSeconds), gaps: counters.gaps, resyncs: counters.resyncs } },
        { system: 'new subscriber, cold (PostgreSQL)', figures: { timeToHistoryMs: round(cold.ms), historyPoints: cold.points, historyBytes: cold.bytes } },
        { system: `new subscriber, warm (hour cache) ×${warm.length}`, figures: { timeToHistoryP50Ms: round(pct(warm, 50)), timeToHistoryMaxMs: round(warm[warm.length - 1]), historyPoints: histories[histories.length - 1].points, historyBytes: histories[histories.length - 1].bytes } },
      ],
      ratios: [ratio('otherClientsLatencyP99Ms', p99During, 'no snapshots', p99Without, true, 0.5)],
      series: [
        percentileSeries('tickplant', 'other clients: feed→client latency (ms), no snapshots', without.latency),
        percentileSeries('tickplant', 'other clients: feed→client latency (ms), during snapshots of 86,400 points', during),
      ],
      targets: ([
        { figure: 'time to history, cold', target: '<= 200 ms', measured: round(cold.ms), met: cold.ms <= 200, bound: BOUND_COLD },
        { figure: 'time to history, warm p50', target: '<= 200 ms', measured: round(pct(warm, 50)), met: pct(warm, 50) <= 200, bound: BOUND_WARM },
        { figure: 'time to history, worst', target: '<= 200 ms', measured: round(worstMs), met: worstMs <= 200, bound: BOUND_COLD },
        { figure: 'other clients p99 during ÷ without', target: '<= 2x', measured: round(slowdown), met: slowdown <= 2, bound: BOUND_OTHERS },
      ] as ScenarioResult['targets']).map((t) => (t.met ? { ...t, bound: undefined } : t)),
      generator: { cpuSeconds: round(genCpu.seconds()), cpuShare: round(genCpu.seconds() / ((performance.now() - genT0) / 1000)) },
      notes: [
        `"Today" is 00:00 ${zone} onwards (${(choice.elapsed / 3_600_000).toFixed(2)} h at the start); ${POINTS} one-per-bucket rows at HISTORY_RESOLUTION_MS=${res} fill it, since 86,400 one-second points only fit at 23:59:59. The frame also carries the live points since the restart (sources.memory).`,
        'Time to history: from writing subscribe to holding the whole historical_data frame in a node:net raw client on the same machine (build in PostgreSQL or the cache, JSON, the send, loopback, reassembly).',
        `Other clients' "during" window is only the time a subscriber waited plus ${TAIL_MS} ms after, merged over ${SUBSCRIBERS} subscribers; the ratio vs "no snapshots" is without ÷ during (target >= 0.5 means during <= 2x).`,
        'Latency is feed timestamp → client arrival, so a stall counts for every update behind it; coLatency adds HdrHistogram\'s expected-interval correction (an upper bound).',
        `Cold: the seeded symbol is new per run (${SYMBOL}), so its hours are in neither the front's memory nor Redis; the warm ones hit the memory hour cache (the last, partial hour is cached for 10 s, then re-read).`,
        ...(quick ? [`quick: ${SUBSCRIBERS} subscribers and a ${WITHOUT_MS / 1000} s window: a smoke test, not figures (the stored day is the full ${POINTS} rows).`] : []),
      ],
    };
  } finally {
    await gen.stop();
  }
} finally {
  await server?.stop();
  rmSync(DATA_DIR, { recursive: true, force: true });
  await schema.drop();
  // The hour cache's Redis keys of this run's symbol (a day's TTL otherwise).
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `orderbook:${SYMBOL}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
printTable(result);
process.stdout.write(`results: ${writeResult(result).pathname}\n`);
