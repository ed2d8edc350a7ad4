// Scenario api-load: does a busy cache REST API slow the WebSocket stream? WebSocket latency alone, beside cached GETs, beside large POSTs.
// Run: npm run bench -- api-load [--quick]
//      (or, in another checkout with its dist/ built: node --import tsx bench/scenarios/api-load.ts [--quick])
//
// tickplant as a default run starts it: the built server, its default feed (20 simulator symbols
// × 100 updates/s), default shards, persistence on into a fresh PostgreSQL schema, REDIS_URL
// empty (the memory-only cache), and RATE_LIMIT_ENABLED=false (the default limit of 1,000
// requests per hour per address would answer nearly all of the load below with 429s). One stock
// price is stored (`POST /api/v1/cache/stock-prices/AAPL`), so every GET of it is a memory-tier hit.
// The C WebSocket generator keeps 5 connections on 5 symbols (resolution none, 500 deliveries/s)
// for the whole run; latency = arrival − the frame's feed timestamp. Then, REPEATS times, the
// three phases in turn, each measured over the same MEASURE_MS:
//   A  no API load: what does the stream cost alone? Reset the WebSocket generator, measure.
//   B  small cached reads: does a flood of cheap requests slow it? The C HTTP generator
//      (bench/loadgen/httpload.c) runs 8 closed-loop clients on
//      `GET /api/v1/cache/stock-prices/AAPL`, each request on a new connection (the server
//      closes every HTTP connection after its answer); the front's share is TCP accept/close and
//      HTTP parsing. After RAMP_MS the WebSocket generator is reset and measures.
//   C  large writes: does heavy request work (JSON parsing and validation of a ~200 KB body,
//      storing it, serializing the ~200 KB value the route answers with) slow it? The same
//      generator runs POST_CONNS closed-loop clients POSTing one ~200 KB JSON object (an array
//      of 2,000 small objects) to `POST /api/v1/cache/analytics/<key>?ttl=60`, the key taken in
//      turn from POST_KEYS so entries are replaced; after RAMP_MS, measured as B. Access control
//      is at its default (AUTH=writes): every POST carries the admin API key tickplant wrote to
//      DATA_DIR/admin-key at its first start (X-API-Key); B's GETs are anonymous, reads are open.
// Each figure is the median over the repeats (this 2-core machine is shared and noisy); the
// ratios are median B p99 ÷ median A p99 and median C p99 ÷ median A p99, target ≤ 1.2 each.
// Nothing is pinned: the server's actors, PostgreSQL and both generators share the two cores,
// as they would in a deployment this size.
// API_LOAD_CPU_PROF_DIR=<dir>: the server runs under --cpu-prof, one .cpuprofile per thread.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type hdr from 'hdr-histogram-js';
import { runHttpload, type HttploadOptions, type HttploadResult } from '../lib/httpload.js';
import { sleep, startLoadgen } from '../lib/loadgen.js';
import { benchSchema, readAdminKey, ROOT, type ServerProcess, spawnServer, startTickplant, TICKPLANT_BENCH_ENV } from '../lib/process.js';
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
/**
 * Phase C's closed-loop clients, as many as B's: the machine does not saturate with them (1.2 to
 * 1.4 of its 2 cores busy, machineBusyCores); the thread that parses the bodies is the bound, at
 * one core, so 2 or 4 clients gave nearly the same request rate and more only queue longer there.
 */
const POST_CONNS = 8;
const POST_KEYS = ['bench-0', 'bench-1', 'bench-2', 'bench-3'];
const POST_TTL_S = 60;
const POST_PATHS = POST_KEYS.map((k) => `/api/v1/cache/analytics/${k}?ttl=${POST_TTL_S}`);
/** Objects in the POSTed value's array: ~100 bytes of JSON each. */
const POST_POINTS = 2_000;
const TARGET_RATIO = 1.2;

/**
 * The phases in the order each repeat runs them; `suffix` ends each of the phase's figure names,
 * and render.ts shows the phases side by side under their `name` (parameters.phases).
 */
const PHASES = [
  { name: 'A', suffix: 'Alone', label: 'A: no API load' },
  { name: 'B', suffix: 'UnderGets', label: `B: ${HTTP_CONNS} clients GET a cached price` },
  { name: 'C', suffix: 'UnderPosts', label: `C: ${POST_CONNS} clients POST ~200 KB` },
] as const;

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

/** Phase C's body: a trading day of one-minute bars of one symbol, as an analytics job might cache them. */
function analyticsValue(): Record<string, unknown> {
  const cents = (v: number) => Math.round(v * 100) / 100;
  const open = Date.UTC(2026, 0, 5, 14, 30);
  let last = 150;
  const bars = Array.from({ length: POST_POINTS }, (_, i) => {
    const first = last;
    last = Math.max(1, last + Math.sin(i * 0.7) * 0.4 + (((i * 7919) % 13) - 6) * 0.03);
    return {
      t: new Date(open + i * 60_000).toISOString(), open: cents(first), high: cents(Math.max(first, last) + 0.05), low: cents(Math.min(first, last) - 0.05),
      close: cents(last), volume: 1_000 + ((i * 7919) % 50_000),
    };
  });
  return { symbol: 'US.AAPL', interval: '1m', computed_at: new Date(open).toISOString(), bars };
}

// ── the server ────────────────────────────────────────────────────────────────────────────

const schema = await benchSchema('api_load');
const DATA_DIR = `/tmp/tickplant-api-load-${process.pid}`;
const BODY_FILE = `/tmp/tickplant-api-load-${process.pid}-body.json`;
const postBody = JSON.stringify(analyticsValue());
writeFileSync(BODY_FILE, postBody);
const TICKPLANT_ENV = { PERSIST: 'true', DATABASE_URL: schema.url, DATA_DIR, REDIS_URL: '', RATE_LIMIT_ENABLED: 'false' };
const profileDir = process.env.API_LOAD_CPU_PROF_DIR;
const cleanUp = async () => {
  await schema.drop();
  rmSync(DATA_DIR, { recursive: true, force: true });
  rmSync(BODY_FILE, { force: true });
};
let server: ServerProcess;
try {
  server = profileDir
    ? await spawnServer({
      name: 'tickplant (profiled)', command: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, 'dist/src/main.js'],
      env: { WEBSOCKET_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...TICKPLANT_BENCH_ENV, ...TICKPLANT_ENV }, ready: /listening on http:\/\/[^:]+:(\d+)/,
    })
    : await startTickplant(TICKPLANT_ENV);
} catch (e) {
  await cleanUp();
  throw e;
}
const base = `http://127.0.0.1:${server.port}`;
// AUTH=writes (the default): the POSTs carry the first-start admin key, as a writer of the
// cache would carry its key; the GETs stay anonymous, as reads are open, so phase B measures
// what it did before access control.
let adminKey: string;
try {
  adminKey = readAdminKey(DATA_DIR);
} catch (e) {
  await server.stop();
  await cleanUp();
  throw e;
}
const KEY_HEADER = 'x-api-key';

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
  machineBusyCores: number;
  latency: hdr.Histogram;
  http?: HttploadResult;
}

/** Each phase's measurements, one per repeat, in PHASES' order. */
const phases: Phase[][] = PHASES.map(() => []);
let generatorCpuSeconds = 0;
let wallSeconds = 0;
let symbols: string[] = [];
let storedStatus = 0;
let firstGet = '';
let firstPost = '';
let phaseError: Error | undefined;
try {
  const listed = (await (await fetch(`${base}/symbols`)).json()) as { symbols: { symbol: string }[] };
  symbols = listed.symbols.map((s) => s.symbol).slice(0, WS_CONNS);
  const post = await fetch(`${base}${API_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', [KEY_HEADER]: adminKey }, body: JSON.stringify(STOCK_PRICE) });
  storedStatus = post.status;
  if (post.status !== 200 && post.status !== 201) throw new Error(`api-load: POST ${API_PATH} answered ${post.status}: ${await post.text()}`);
  const get = await fetch(`${base}${API_PATH}`);
  const body = (await get.json()) as { tier?: string; cached?: boolean };
  firstGet = `${get.status}, tier ${body.tier ?? 'not stated'}`;
  if (get.status !== 200) throw new Error(`api-load: GET ${API_PATH} answered ${get.status}`);
  // Phase C's request once, checked: the route must store it (201), not refuse it (413, 400).
  const big = await fetch(`${base}${POST_PATHS[0]}`, { method: 'POST', headers: { 'content-type': 'application/json', [KEY_HEADER]: adminKey }, body: postBody });
  const bigReply = await big.text();
  firstPost = `${big.status}, ${bigReply.length.toLocaleString('en-US')} bytes of reply`;
  if (big.status !== 201) throw new Error(`api-load: POST ${POST_PATHS[0]} answered ${big.status}: ${bigReply.slice(0, 500)}`);

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
        machineBusyCores: round(busySeconds / seconds),
        latency: r.latency,
        http: h,
      };
    };
    /** The HTTP generator started, RAMP_MS let pass, then one window measured while it runs on. */
    const underLoad = async (load: Omit<HttploadOptions, 'port' | 'seconds'>): Promise<Phase> => {
      // Settled into a value at once: a failure is rethrown by measure(), never left unhandled meanwhile.
      const http = runHttpload({ ...load, port: server.port, seconds: (RAMP_MS + MEASURE_MS) / 1000 + 0.5 }).then((r) => r, (e: Error) => e);
      await sleep(RAMP_MS);
      return measure(http);
    };
    const runs: (() => Promise<Phase>)[] = [
      () => measure(),
      () => underLoad({ path: API_PATH, conns: HTTP_CONNS }),
      // The key is on httpload's command line, which `ps` shows while phase C runs: it is a
      // key of this run's own schema, dropped at the end, and the server listens on loopback only.
      () => underLoad({ path: POST_PATHS, conns: POST_CONNS, method: 'POST', bodyFile: BODY_FILE, contentType: 'application/json', headers: [`${KEY_HEADER}: ${adminKey}`] }),
    ];

    for (let i = 0; i < REPEATS; i++) {
      for (const [k, run] of runs.entries()) {
        const p = await run();
        phases[k].push(p);
        const h = p.http;
        process.stdout.write(`api-load ${i + 1}/${REPEATS} ${PHASES[k].label}: ws p50 ${p.wsP50Ms} p99 ${p.wsP99Ms} p99.9 ${p.wsP999Ms} ms, ${p.deliveriesPerSecond}/s, server CPU ${p.serverCpuShare}, busiest thread ${p.busiestThreadCpuShare}, others ${p.otherBusyCores}, machine ${p.machineBusyCores}`
          + `${h ? `; http ${Math.round(h.requestsPerSecond)}/s, p50 ${h.latencyUs.p50} p99 ${h.latencyUs.p99} µs, status ${JSON.stringify(h.status)}, errors ${h.errors}` : ''}\n`);
        if (i + 1 < REPEATS || k + 1 < runs.length) await sleep(SETTLE_MS);
      }
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
const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
const phaseFigures = (list: Phase[], suffix: string): Record<string, number> => {
  const https = list.flatMap((p) => (p.http ? [p.http] : []));
  const statusTotals: Record<string, number> = {};
  for (const h of https) for (const [code, n] of Object.entries(h.status)) statusTotals[code] = (statusTotals[code] ?? 0) + n;
  return {
    [`wsLatencyP50Ms${suffix}`]: med(list, (p) => p.wsP50Ms),
    [`wsLatencyP99Ms${suffix}`]: med(list, (p) => p.wsP99Ms),
    [`wsLatencyP999Ms${suffix}`]: med(list, (p) => p.wsP999Ms),
    [`deliveriesPerSecond${suffix}`]: med(list, (p) => p.deliveriesPerSecond),
    [`gaps${suffix}`]: sum(list.map((p) => p.gaps)),
    [`resyncs${suffix}`]: sum(list.map((p) => p.resyncs)),
    [`serverCpuShare${suffix}`]: med(list, (p) => p.serverCpuShare),
    [`busiestThreadCpuShare${suffix}`]: med(list, (p) => p.busiestThreadCpuShare),
    [`otherBusyCores${suffix}`]: med(list, (p) => p.otherBusyCores),
    [`machineBusyCores${suffix}`]: med(list, (p) => p.machineBusyCores),
    ...(https.length === 0 ? {} : {
      [`httpRequestsPerSecond${suffix}`]: round(median(https.map((h) => h.requestsPerSecond))),
      [`httpLatencyP50Ms${suffix}`]: round(median(https.map((h) => h.latencyUs.p50)) / 1000),
      [`httpLatencyP99Ms${suffix}`]: round(median(https.map((h) => h.latencyUs.p99)) / 1000),
      [`http2xx${suffix}`]: sum(https.map((h) => h.status2xx)),
      [`httpNot2xx${suffix}`]: sum(https.map((h) => h.statusOther)),
      ...Object.fromEntries(Object.entries(statusTotals).map(([code, n]) => [`httpStatus${code}${suffix}`, n])),
      [`httpErrors${suffix}`]: sum(https.map((h) => h.errors)),
    }),
  };
};
const figures: Record<string, number> = Object.assign({}, ...PHASES.map((ph, k) => phaseFigures(phases[k], ph.suffix)));
const p99 = PHASES.map((ph) => figures[`wsLatencyP99Ms${ph.suffix}`]);
const ratioOf = (k: number) => Math.round((p99[k] / p99[0]) * 100) / 100;
// B ÷ A and C ÷ A, lower is better: not report.ts's ratio() (tickplant ÷ baseline, higher is better).
const ratios: (Ratio & { lowerIsBetter: true })[] = [1, 2].map((k) => ({
  figure: `wsLatencyP99Ms ${PHASES[k].label}`, against: PHASES[0].label, value: ratioOf(k), target: TARGET_RATIO, met: ratioOf(k) <= TARGET_RATIO, lowerIsBetter: true,
}));
const systems: SystemFigures[] = [{ system: 'tickplant', figures }];
const mergedHistogram = (list: Phase[]) => {
  const h = latencyHistogram();
  for (const p of list) h.add(p.latency);
  return h;
};
const perRepeat = phases[0].map((_, i) => phases.map((list) => list[i].wsP99Ms).join('/')).join(', ');
const [, B, C] = phases;
const upMBps = round(median(C.map((p) => p.http!.bytesSent / p.http!.seconds)) / 1e6);
const downMBps = round(median(C.map((p) => p.http!.bytes / p.http!.seconds)) / 1e6);
const answeredB = sum(B.map((p) => p.http!.requests));
const okB = sum(B.map((p) => p.http!.status['200'] ?? 0));
const answeredC = sum(C.map((p) => p.http!.requests));
const okC = sum(C.map((p) => p.http!.status['201'] ?? 0));
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
    postClients: POST_CONNS, postPaths: POST_PATHS, postBodyBytes: Buffer.byteLength(postBody), postBodyObjects: POST_POINTS,
    phases: PHASES,
    tickplant: { feed: 'default (20 simulator symbols x 100/s)', SHARDS: 'default', PERSIST: true, REDIS_URL: '', RATE_LIMIT_ENABLED: false, AUTH: 'writes (default)' },
  },
  systems,
  ratios,
  series: [
    // Short labels: the chart's legend cuts long ones, and the before run's rows carry a long prefix.
    percentileSeries('tickplant', 'A: no API load', mergedHistogram(phases[0])),
    percentileSeries('tickplant', 'B: cached GETs', mergedHistogram(B)),
    percentileSeries('tickplant', 'C: 200 KB POSTs', mergedHistogram(C)),
  ],
  targets: [1, 2].map((k) => ({
    figure: `WebSocket p99, ${PHASES[k].label} ÷ ${PHASES[0].label}`, target: `<= ${TARGET_RATIO}x`, measured: ratioOf(k), met: ratioOf(k) <= TARGET_RATIO,
  })),
  generator: { cpuSeconds: Math.round(generatorCpuSeconds * 100) / 100, cpuShare: Math.round((generatorCpuSeconds / wallSeconds) * 100) / 100 },
  notes: [
    `Measured tree: ${tree}.`,
    `Median of ${REPEATS} repeat(s) of A, B, C in turn, ${MEASURE_MS / 1000} s each; gaps, resyncs, statuses and errors are totals. WebSocket p99 per repeat, A/B/C ms: ${perRepeat}.`,
    `Phase B: ${HTTP_CONNS} closed-loop HTTP clients (bench/loadgen/httpload.c) on GET ${API_PATH}, a memory-tier hit (first GET: ${firstGet}; POST answered ${storedStatus}); one TCP connection per request, as the server closes each after its answer, so HTTP latency includes the handshake. ${okB} of ${answeredB} answers were 200${answeredB > okB ? ' — the load was not all cache hits' : ''}.`,
    `Phase C: ${POST_CONNS} closed-loop clients POST one ${Buffer.byteLength(postBody).toLocaleString('en-US')}-byte JSON object (${POST_POINTS.toLocaleString('en-US')} one-minute bars) to ${POST_KEYS.length} analytics keys in turn (POST /api/v1/cache/analytics/<key>?ttl=${POST_TTL_S}); the route parses and validates the body, stores it in the memory tier and answers 201 with the value (first POST: ${firstPost}). AUTH=writes (the default): each POST carries the admin API key in ${KEY_HEADER}, which the front verifies; B's GETs are anonymous, as reads are open. ${okC} of ${answeredC} answers were 201; median ${upMBps} MB/s sent, ${downMBps} MB/s received.`,
    'Closed loop: the HTTP request rate is what the server sustains, so two builds compared here are compared at the HTTP load each sustains (httpRequestsPerSecond), not at one fixed rate.',
    'RATE_LIMIT_ENABLED=false: the default limit (1,000 requests per hour per client address) would turn nearly all of this load into 429s, which measure the limiter, not the cache API.',
    'serverCpuShare: the tickplant process (all threads), in cores; busiestThreadCpuShare: its busiest thread in the window; otherBusyCores: the rest of the machine\'s busy CPU (of 2 cores) beside tickplant and both generators: PostgreSQL (tickplant\'s writes and anyone else\'s) and whatever else ran; high values mean the figures are noisy; machineBusyCores: all of it (2 = saturated).',
    ...(quick ? ['quick: one repeat of 5 s phases: a smoke test, not figures.'] : []),
  ],
};
printTable(result);
process.stdout.write(`results: ${writeResult(result).pathname}\n`);
