// Scenario api-load: does a busy cache REST API slow the WebSocket stream? WebSocket latency without and with 8 HTTP clients.
// Run: npm run bench -- api-load [--quick]
//      (or, in another checkout with its dist/ built: node --import tsx bench/scenarios/api-load.ts [--quick])
//
// tickplant as a default run starts it: the built server, its default feed (20 simulator symbols
// × 100 updates/s), default shards, persistence on into a fresh PostgreSQL schema, REDIS_URL
// empty (the memory-only cache), and RATE_LIMIT_ENABLED=false (the default limit of 1,000
// requests per hour per address would answer nearly all of the load below with 429s). One stock
// price is stored (`POST /api/v1/cache/stock-prices/AAPL`), so every GET of it is a memory-tier hit.
// The C WebSocket generator keeps 5 connections on 5 symbols (resolution none, 500 deliveries/s)
// for the whole run; latency = arrival − the frame's feed timestamp. Then, REPEATS times:
//   A  no API load: reset the generator, measure MEASURE_MS;
//   B  API load: the C HTTP generator (bench/loadgen/httpload.c) runs 8 closed-loop clients on
//      `GET /api/v1/cache/stock-prices/AAPL`, each request on a new connection (the server closes
//      every HTTP connection after its answer); after RAMP_MS the WebSocket generator is reset
//      and measures the same MEASURE_MS.
// Each figure is the median over the repeats (this 2-core machine is shared and noisy); the
// ratio is median B p99 ÷ median A p99, target ≤ 1.2. Nothing is pinned: the server's actors,
// PostgreSQL and both generators share the two cores, as they would in a deployment this size.
// API_LOAD_CPU_PROF_DIR=<dir>: the server runs under --cpu-prof, one .cpuprofile per thread.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import type hdr from 'hdr-histogram-js';
import { runHttpload, type HttploadResult } from '../lib/httpload.js';
import { sleep, startLoadgen } from '../lib/loadgen.js';
import { benchSchema, ROOT, type ServerProcess, spawnServer, startTickplant } from '../lib/process.js';
import {
  type Ratio, type ScenarioResult, type SystemFigures, cpuMeter, latencyHistogram, machine, machineCpuMeter, percentileSeries, printTable, round, scenarioArgs, versions, writeResult,
} from '../lib/report.js';

const { quick } = scenarioArgs();
const REPEATS = quick ? 1 : 3;
const WARMUP_MS = quick ? 2_000 : 5_000;
const MEASURE_MS = quick ? 5_000 : 20_000;
/** HTTP load before the WebSocket measurement starts: connections cycling, the API path compiled. */
const RAMP_MS = 2_000;
/** Between phases: the previous phase's connections finish closing. */
const SETTLE_MS = 2_000;
const WS_CONNS = 5;
const HTTP_CONNS = 8;
const API_PATH = '/api/v1/cache/stock-prices/AAPL';
const STOCK_PRICE = { close_price: 150.25, volume: 1_000_000 };
const TARGET_RATIO = 1.2;

const startedAt = new Date();
const t0 = performance.now();
const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
};
const commit = git('rev-parse', 'HEAD');
const changedFiles = git('status', '--porcelain', '--', 'src', 'workers').split('\n').filter(Boolean).length;
const subject = git('log', '-1', '--format=%s');
const tree = `commit ${commit.slice(0, 12) || 'unknown'} ("${subject.length > 70 ? `${subject.slice(0, 70)}…` : subject}")${changedFiles > 0 ? `, with ${changedFiles} uncommitted change(s) in src/ and workers/` : ''}`;

/** CPU ticks of each thread of a process, from /proc/<pid>/task/<tid>/stat (utime + stime). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch {
      // the thread exited meanwhile
    }
  }
  return out;
}
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

// ── the server ────────────────────────────────────────────────────────────────────────────

const schema = await benchSchema('api_load');
const DATA_DIR = `/tmp/tickplant-api-load-${process.pid}`;
const TICKPLANT_ENV = { PERSIST: 'true', DATABASE_URL: schema.url, DATA_DIR, REDIS_URL: '', RATE_LIMIT_ENABLED: 'false' };
const profileDir = process.env.API_LOAD_CPU_PROF_DIR;
const cleanUp = async () => {
  await schema.drop();
  rmSync(DATA_DIR, { recursive: true, force: true });
};
let server: ServerProcess;
try {
  server = profileDir
    ? await spawnServer({
      name: 'tickplant (profiled)', command: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, 'dist/src/main.js'],
      env: { WEBSOCKET_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...TICKPLANT_ENV }, ready: /listening on http:\/\/[^:]+:(\d+)/,
    })
    : await startTickplant(TICKPLANT_ENV);
} catch (e) {
  await cleanUp();
  throw e;
}
const base = `http://127.0.0.1:${server.port}`;

interface Phase {
  wsP50Ms: number;
  wsP99Ms: number;
  wsP999Ms: number;
  deliveriesPerSecond: number;
  gaps: number;
  resyncs: number;
  serverCpuShare: number;
  busiestThreadCpuShare: number;
  otherBusyCores: number;
  latency: hdr.Histogram;
  http?: HttploadResult;
}

const phases: { alone: Phase[]; underApiLoad: Phase[] } = { alone: [], underApiLoad: [] };
let generatorCpuSeconds = 0;
let wallSeconds = 0;
let symbols: string[] = [];
let storedStatus = 0;
let firstGet = '';
let phaseError: Error | undefined;
try {
  const listed = (await (await fetch(`${base}/symbols`)).json()) as { symbols: { symbol: string }[] };
  symbols = listed.symbols.map((s) => s.symbol).slice(0, WS_CONNS);
  const post = await fetch(`${base}${API_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(STOCK_PRICE) });
  storedStatus = post.status;
  if (post.status !== 200 && post.status !== 201) throw new Error(`api-load: POST ${API_PATH} answered ${post.status}: ${await post.text()}`);
  const get = await fetch(`${base}${API_PATH}`);
  const body = (await get.json()) as { tier?: string; cached?: boolean };
  firstGet = `${get.status}, tier ${body.tier ?? 'not stated'}`;
  if (get.status !== 200) throw new Error(`api-load: GET ${API_PATH} answered ${get.status}`);

  const gen = await startLoadgen({ port: server.port, conns: WS_CONNS, symbols, resolution: 'none' });
  try {
    if (gen.open !== WS_CONNS) throw new Error(`api-load: ${gen.open} of ${WS_CONNS} WebSocket connections opened`);
    await sleep(WARMUP_MS);

    /** One measurement window of MEASURE_MS on the WebSocket generator, with `http` running or not. */
    const measure = async (http?: Promise<HttploadResult | Error>): Promise<Phase> => {
      await gen.reset();
      const serverCpu = cpuMeter(server.pid);
      const genCpu = gen.cpu();
      const busy = machineCpuMeter();
      const threads = threadTicks(server.pid);
      const start = performance.now();
      await sleep(MEASURE_MS);
      const seconds = (performance.now() - start) / 1000;
      const serverCpuSeconds = serverCpu.seconds();
      const busySeconds = busy.seconds();
      const threadsEnd = threadTicks(server.pid);
      const wsGenSeconds = genCpu.seconds();
      const r = await gen.report();
      const h = await http;
      if (h instanceof Error) throw h;
      // httpload ran RAMP_MS longer than the window: count its CPU pro rata.
      const httpGenSeconds = h ? h.cpuSeconds * Math.min(1, seconds / h.seconds) : 0;
      generatorCpuSeconds += wsGenSeconds + httpGenSeconds;
      wallSeconds += seconds;
      let busiest = 0;
      for (const [tid, ticks] of threadsEnd) busiest = Math.max(busiest, ticks - (threads.get(tid) ?? 0));
      const ms = (p: number) => Math.round(r.latency.getValueAtPercentile(p)) / 1000;
      return {
        wsP50Ms: ms(50), wsP99Ms: ms(99), wsP999Ms: ms(99.9),
        deliveriesPerSecond: Math.round(r.deliveries / seconds),
        gaps: r.gaps + r.dups,
        resyncs: r.resyncs,
        serverCpuShare: round(serverCpuSeconds / seconds),
        busiestThreadCpuShare: round(busiest / CLK_TCK / seconds),
        otherBusyCores: round(Math.max(0, busySeconds - serverCpuSeconds - wsGenSeconds - httpGenSeconds) / seconds),
        latency: r.latency,
        http: h,
      };
    };

    for (let i = 0; i < REPEATS; i++) {
      const a = await measure();
      phases.alone.push(a);
      process.stdout.write(`api-load ${i + 1}/${REPEATS} A (no API load): ws p50 ${a.wsP50Ms} p99 ${a.wsP99Ms} p99.9 ${a.wsP999Ms} ms, ${a.deliveriesPerSecond}/s, server CPU ${a.serverCpuShare}\n`);
      await sleep(SETTLE_MS);
      // Settled into a value at once: a failure is rethrown by measure(), never left unhandled meanwhile.
      const http = runHttpload({ port: server.port, path: API_PATH, conns: HTTP_CONNS, seconds: (RAMP_MS + MEASURE_MS) / 1000 + 0.5 })
        .then((r) => r, (e: Error) => e);
      await sleep(RAMP_MS);
      const b = await measure(http);
      phases.underApiLoad.push(b);
      process.stdout.write(`api-load ${i + 1}/${REPEATS} B (${HTTP_CONNS} HTTP clients): ws p50 ${b.wsP50Ms} p99 ${b.wsP99Ms} p99.9 ${b.wsP999Ms} ms, ${b.deliveriesPerSecond}/s, server CPU ${b.serverCpuShare}; http ${Math.round(b.http!.requestsPerSecond)}/s, p99 ${b.http!.latencyUs.p99} µs, status ${JSON.stringify(b.http!.status)}, errors ${b.http!.errors}\n`);
      if (i + 1 < REPEATS) await sleep(SETTLE_MS);
    }
  } finally {
    await gen.stop();
  }
} catch (e) {
  phaseError = e as Error;
} finally {
  await server.stop();
  await cleanUp();
}
if (phaseError) throw phaseError;

// ── the result ────────────────────────────────────────────────────────────────────────────

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const med = (list: Phase[], pick: (p: Phase) => number) => round(median(list.map(pick)));
const phaseFigures = (list: Phase[], suffix: string): Record<string, number> => ({
  [`wsLatencyP50Ms${suffix}`]: med(list, (p) => p.wsP50Ms),
  [`wsLatencyP99Ms${suffix}`]: med(list, (p) => p.wsP99Ms),
  [`wsLatencyP999Ms${suffix}`]: med(list, (p) => p.wsP999Ms),
  [`deliveriesPerSecond${suffix}`]: med(list, (p) => p.deliveriesPerSecond),
  [`gaps${suffix}`]: list.reduce((n, p) => n + p.gaps, 0),
  [`resyncs${suffix}`]: list.reduce((n, p) => n + p.resyncs, 0),
  [`serverCpuShare${suffix}`]: med(list, (p) => p.serverCpuShare),
  [`busiestThreadCpuShare${suffix}`]: med(list, (p) => p.busiestThreadCpuShare),
  [`otherBusyCores${suffix}`]: med(list, (p) => p.otherBusyCores),
});
const B = phases.underApiLoad;
const https = B.map((p) => p.http!);
const statusTotals: Record<string, number> = {};
for (const h of https) for (const [code, n] of Object.entries(h.status)) statusTotals[code] = (statusTotals[code] ?? 0) + n;
const answered = Object.values(statusTotals).reduce((n, x) => n + x, 0);
const ok = statusTotals['200'] ?? 0;
const figures: Record<string, number> = {
  ...phaseFigures(phases.alone, 'Alone'),
  ...phaseFigures(B, 'UnderApiLoad'),
  httpRequestsPerSecond: round(median(https.map((h) => h.requestsPerSecond))),
  httpLatencyP50Ms: round(median(https.map((h) => h.latencyUs.p50)) / 1000),
  httpLatencyP99Ms: round(median(https.map((h) => h.latencyUs.p99)) / 1000),
  ...Object.fromEntries(Object.entries(statusTotals).map(([code, n]) => [`httpStatus${code}`, n])),
  httpErrors: https.reduce((n, h) => n + h.errors, 0),
};
const p99A = figures.wsLatencyP99MsAlone;
const p99B = figures.wsLatencyP99MsUnderApiLoad;
const value = Math.round((p99B / p99A) * 100) / 100;
// B ÷ A, lower is better: not report.ts's ratio() (tickplant ÷ baseline, higher is better).
const ratios: (Ratio & { lowerIsBetter: true })[] = [
  { figure: 'wsLatencyP99Ms under API load', against: 'without API load', value, target: TARGET_RATIO, met: value <= TARGET_RATIO, lowerIsBetter: true },
];
const systems: SystemFigures[] = [{ system: 'tickplant', figures }];
const mergedHistogram = (list: Phase[]) => {
  const h = latencyHistogram();
  for (const p of list) h.add(p.latency);
  return h;
};
const pairs = phases.alone.map((a, i) => `${a.wsP99Ms}/${B[i].wsP99Ms}`).join(', ');
const result: ScenarioResult = {
  scenario: 'api-load',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: Math.round((performance.now() - t0) / 100) / 10,
  machine: machine(),
  versions: versions(),
  parameters: {
    commit, repeats: REPEATS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, rampMs: RAMP_MS, wsConnections: WS_CONNS, wsSymbols: symbols,
    httpClients: HTTP_CONNS, httpPath: API_PATH,
    tickplant: { feed: 'default (20 simulator symbols x 100/s)', SHARDS: 'default', PERSIST: true, REDIS_URL: '', RATE_LIMIT_ENABLED: false },
  },
  systems,
  ratios,
  series: [
    // Short labels: the chart's legend cuts long ones, and the before run's rows carry a long prefix.
    percentileSeries('tickplant', 'no API load', mergedHistogram(phases.alone)),
    percentileSeries('tickplant', 'API load', mergedHistogram(B)),
  ],
  targets: [{ figure: 'WebSocket p99 under API load ÷ without', target: `<= ${TARGET_RATIO}x`, measured: value, met: value <= TARGET_RATIO }],
  generator: { cpuSeconds: Math.round(generatorCpuSeconds * 100) / 100, cpuShare: Math.round((generatorCpuSeconds / wallSeconds) * 100) / 100 },
  notes: [
    `Measured tree: ${tree}.`,
    `Median of ${REPEATS} A/B pair(s), ${MEASURE_MS / 1000} s each, A then B; gaps and resyncs are totals. WebSocket p99 per pair, A/B ms: ${pairs}.`,
    `Phase B: ${HTTP_CONNS} closed-loop HTTP clients (bench/loadgen/httpload.c) on GET ${API_PATH}, a memory-tier hit (first GET: ${firstGet}; POST answered ${storedStatus}); one TCP connection per request, as the server closes each after its answer, so HTTP latency includes the handshake. ${ok} of ${answered} answers were 200${answered > ok ? ' — the load was not all cache hits' : ''}.`,
    'Closed loop: the HTTP request rate is what the server sustains, so two builds compared here are compared at the HTTP load each sustains (httpRequestsPerSecond), not at one fixed rate.',
    'RATE_LIMIT_ENABLED=false: the default limit (1,000 requests per hour per client address) would turn nearly all of this load into 429s, which measure the limiter, not the cache API.',
    'serverCpuShare: the tickplant process (all threads), in cores; busiestThreadCpuShare: its busiest thread in the window; otherBusyCores: the rest of the machine\'s busy CPU (of 2 cores) beside tickplant and both generators: PostgreSQL (tickplant\'s writes and anyone else\'s) and whatever else ran; high values mean the figures are noisy.',
    ...(quick ? ['quick: one pair of 5 s phases: a smoke test, not figures.'] : []),
  ],
};
printTable(result);
process.stdout.write(`results: ${writeResult(result).pathname}\n`);
