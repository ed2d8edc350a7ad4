// Does the runtime keep up (no growing queues, no gaps) with N symbols × R updates/s and C clients? Run: node --import tsx bench/keepup.ts [--symbols 20] [--rate 500] [--clients 200] [--seconds 30] [--shards N] [--per-client K]
//
// One process: the main thread runs the real Supervisor (feed + actors as usual) and samples
// GET /stats each second; the load clients run in one worker thread of this same file
// (bench/lib/raw-ws-client.ts: raw node:net WebSockets), so their parsing does not stall
// the simulator's timer on the main thread. Each client subscribes (resolution "none") to K
// symbols round-robin, K = all symbols by default, and checks that seq goes up by exactly 1
// per (client, symbol) within an epoch, reading only `"epoch":` and `"seq":` from the bytes.
//
// Verdict "keeps up" iff: the feed offered ≥ 97% of symbols × rate (the simulator silently
// skips time it could not run), feed queueFullDrops = 0 and shard frameQueueFull = 0, every
// input and frame queue stayed ≤ 64 KiB through the last third of the run, clients saw 0 gaps,
// and no client was conflated (backlog past WS_CONFLATE_BYTES). Exit 0 whatever the verdict;
// 1 if the benchmark could not run.

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { RawWsClient } from './lib/raw-ws-client.js';

const HOST = '127.0.0.1';
const SAMPLE_MS = 1000;
const STATS_TIMEOUT_MS = 5000;
const QUEUE_BOUND_BYTES = 64 * 1024;
const MIN_OFFERED_SHARE = 0.97;
const CONNECT_BATCH = 50;
const MAX_GAPS_SHOWN = 8;
const STOP_TIMEOUT_MS = 10_000;
const RESULTS = new URL('./results/keepup.json', import.meta.url);

interface LoadParams { port: number; symbols: string[]; clients: number; perClient: number }

/** Cumulative client-side counters, sent to the main thread on request. */
interface ClientCounters {
  connected: number; closed: number; messages: number; bytes: number;
  updates: number; snapshots: number; resyncs: number; gaps: number; missed: number; errors: number; other: number;
  unparsed: number; // orderbook/resync frames not in the expected layout: the checker cannot vouch for them
  closeReasons: Record<string, number>;
  firstGaps: string[]; // the first few, to tell a checker bug from a runtime one
}

type ToWorker = { type: 'sample' } | { type: 'close' };
type FromWorker = { type: 'ready'; counters: ClientCounters } | { type: 'sample'; counters: ClientCounters } | { type: 'closed' } | { type: 'failed'; message: string };

// ── load clients (worker thread) ──────────────────────────────────────────────

const fnv = (buf: Uint8Array, from: number, to: number): number => {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return h >>> 0;
};

async function runClients(p: LoadParams): Promise<void> {
  const S = p.symbols.length;
  const symbolByHash = new Map<number, number>();
  for (let s = 0; s < S; s++) {
    const b = Buffer.from(p.symbols[s], 'latin1');
    symbolByHash.set(fnv(b, 0, b.length), s);
  }
  if (symbolByHash.size !== S) throw new Error('two symbols share an FNV hash: rename one');
  // Last (epoch, seq) delivered per (client, symbol); epoch 0: nothing yet.
  const lastSeq = new Float64Array(p.clients * S);
  const lastEpoch = new Float64Array(p.clients * S);
  const c: ClientCounters = {
    connected: 0, closed: 0, messages: 0, bytes: 0,
    updates: 0, snapshots: 0, resyncs: 0, gaps: 0, missed: 0, errors: 0, other: 0, unparsed: 0, closeReasons: {}, firstGaps: [],
  };
  const lastType = new Uint8Array(p.clients * S); // first letter of the type, then 'u'/'s' for orderbook_*
  const CH_O = 0x6f; const CH_R = 0x72; const CH_E = 0x65; const CH_U = 0x75; const CH_QUOTE = 0x22; const CH_COLON = 0x3a;
  // Fixed parts of `{"type":"T","symbol":"S","epoch":E,"seq":N` (src/protocol/encode.ts).
  const TYPE_AT = 9; // after `{"type":"`
  const SYMBOL_AFTER_TYPE = 12; // `","symbol":"`
  const EPOCH_AFTER_SYMBOL = 10; // `","epoch":`
  const SEQ_AFTER_EPOCH = 7; // `,"seq":`
  let digitsEnd = 0;
  const digits = (buf: Buffer, at: number, end: number): number => {
    let n = 0;
    for (let ch = buf[at]; at < end && ch >= 0x30 && ch <= 0x39; ch = buf[++at]) n = n * 10 + (ch - 0x30);
    digitsEnd = at;
    return n;
  };

  // Reads type, symbol, epoch and seq at their fixed offsets: no search, no string, no JSON.parse.
  const onFrame = (client: number, buf: Buffer, start: number, end: number): void => {
    c.messages++;
    c.bytes += end - start;
    const t = buf[start + TYPE_AT]; // first letter of the type
    if (t === CH_E) { c.errors++; return; }
    if (t !== CH_O && t !== CH_R) { c.other++; return; } // status, historical_data, …
    const isUpdate = t === CH_O && buf[start + TYPE_AT + 10] === CH_U; // orderbook_u…
    const typeLen = t === CH_R ? 6 : isUpdate ? 16 : 18; // resync, orderbook_update, orderbook_snapshot
    const symAt = start + TYPE_AT + typeLen + SYMBOL_AFTER_TYPE;
    let symEnd = symAt;
    while (symEnd < end && buf[symEnd] !== CH_QUOTE) symEnd++;
    const s = symbolByHash.get(fnv(buf, symAt, symEnd));
    const epochAt = symEnd + EPOCH_AFTER_SYMBOL;
    if (s === undefined || buf[symAt - 2] !== CH_COLON || buf[epochAt - 1] !== CH_COLON) { c.unparsed++; return; }
    const epoch = digits(buf, epochAt, end);
    const seqAt = digitsEnd + SEQ_AFTER_EPOCH;
    if (buf[seqAt - 1] !== CH_COLON) { c.unparsed++; return; }
    const seq = digits(buf, seqAt, end);
    const k = client * S + s;
    if (t === CH_R) c.resyncs++; // a resync carries the full state at seq: no continuity to check
    else if (!isUpdate) c.snapshots++; // orderbook_snapshot: the start of a stream
    else {
      c.updates++;
      // Continuity within an epoch; before any snapshot the first update must be seq 1.
      const expected = lastEpoch[k] === epoch ? lastSeq[k] + 1 : lastEpoch[k] === 0 ? 1 : -1;
      if (seq !== expected) {
        c.gaps++;
        if (c.firstGaps.length < MAX_GAPS_SHOWN) {
          c.firstGaps.push(`client ${client} ${p.symbols[s]}: after ${String.fromCharCode(lastType[k] || 0x2d)} epoch ${lastEpoch[k]} seq ${lastSeq[k]}, update epoch ${epoch} seq ${seq}`);
        }
        if (expected > 0 && seq > expected) c.missed += seq - expected;
      }
    }
    lastSeq[k] = seq;
    lastEpoch[k] = epoch;
    lastType[k] = t === CH_R ? CH_R : buf[start + TYPE_AT + 10];
  };

  const clients: RawWsClient[] = [];
  for (let first = 0; first < p.clients; first += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, p.clients - first) }, (_, j) => {
      const i = first + j;
      return RawWsClient.connect({
        host: HOST, port: p.port, path: `/ws/bench${i}`,
        onMessage: (buf, start, end) => onFrame(i, buf, start, end),
        onClose: (reason) => {
          c.closed++;
          c.closeReasons[reason] = (c.closeReasons[reason] ?? 0) + 1;
        },
      });
    });
    clients.push(...(await Promise.all(batch)));
  }
  c.connected = clients.length;
  // Client i takes symbols i, i+1, … (mod S): with K < S every symbol gets about clients·K/S subscribers.
  for (let i = 0; i < clients.length; i++) {
    for (let j = 0; j < p.perClient; j++) {
      clients[i].sendText(JSON.stringify({ action: 'subscribe', symbol: p.symbols[(i + j) % S], resolution: 'none' }));
    }
  }
  const port = parentPort!;
  port.postMessage({ type: 'ready', counters: c } satisfies FromWorker);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'sample') port.postMessage({ type: 'sample', counters: c } satisfies FromWorker);
    else {
      for (const cl of clients) cl.close();
      port.postMessage({ type: 'closed' } satisfies FromWorker);
      port.close(); // nothing else keeps this thread alive: it exits
    }
  });
}

// ── supervisor, sampling, verdict (main thread) ──────────────────────────────

interface Stats {
  feed: { offered: number; queueFullDrops: number };
  restarts: number;
  shards: { index: number; status: string; inputQueue?: { depthBytes: number }; frameQueue?: { depthBytes: number }; frameQueueFull?: number }[];
  front: {
    connections: number; subscriptions: number; messagesSent: number; conflations: number; backpressureLimitHits: number;
    publishedPerS: number; resyncs: Record<string, number>; errorsSent: Record<string, number>; frameQueues: { depthBytes: number }[];
    feedToPublish: { count: number; p50_ms: number; p99_ms: number; p999_ms: number; max_ms: number };
  };
}

interface Row {
  t: number; offeredPerS: number; publishedPerS: number; inputQueueBytes: number[]; frameQueueBytes: number[];
  sentPerS: number; receivedPerS: number; receivedMBPerS: number; inFlight: number;
  gaps: number; conflations: number; resyncs: number; p99Ms: number; cpuPct: number; clientElu: number; load1: number;
}

function options() {
  const { values } = parseArgs({
    options: {
      symbols: { type: 'string', default: '20' }, rate: { type: 'string', default: '500' },
      clients: { type: 'string', default: '200' }, seconds: { type: 'string', default: '30' },
      shards: { type: 'string' }, 'per-client': { type: 'string' },
    },
  });
  const num = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new RangeError(`--${name}: expected a number ${min}..${max}, got ${v}`);
    return n;
  };
  return {
    symbols: num('symbols', values.symbols, 1, 1_000)!, rate: num('rate', values.rate, 0.1, 1e6)!,
    clients: num('clients', values.clients, 1, 10_000)!, seconds: Math.round(num('seconds', values.seconds, 3, 3_600)!),
    shards: num('shards', values.shards, 1, 64), perClient: num('per-client', values['per-client'], 1, 1_000),
  };
}

async function main(): Promise<number> {
  const opt = options();
  // Imported here, not at the top: the worker thread needs none of the runtime.
  const [{ Supervisor }, { loadConfig }, { DEFAULT_SYMBOLS }, { configureLog }, { spawnWorker }] = await Promise.all([
    import('../src/actors/supervisor/supervisor.js'), import('../src/config.js'), import('../src/feeds/simulator.js'),
    import('../src/log.js'), import('../src/actors/worker-url.js'),
  ]);
  if (opt.symbols > DEFAULT_SYMBOLS.length) throw new RangeError(`--symbols: at most ${DEFAULT_SYMBOLS.length} (DEFAULT_SYMBOLS)`);
  const symbols = DEFAULT_SYMBOLS.slice(0, opt.symbols);
  const perClient = Math.min(opt.perClient ?? symbols.length, symbols.length);
  const cfg = loadConfig(process.env, {
    port: 0, host: HOST, symbols, simUpdatesPerSecond: opt.rate, logLevel: 'warn', ...(opt.shards ? { shards: opt.shards } : {}),
    // Every client is this process on 127.0.0.1 (--clients up to 10,000): the per-address limit
    // guards against one client taking the server, not against its own load generator. The
    // message rate stays at its default: a client sends its ≤ 20 subscribes at once, within the burst.
    wsMaxConnectionsPerIp: 20_000,
  });
  configureLog(cfg.logLevel, cfg.logJson);
  const target = symbols.length * opt.rate;
  const subscribers = opt.clients * perClient;
  console.log(
    `keepup: ${symbols.length} symbols × ${opt.rate}/s = ${target} updates/s, ${opt.clients} clients × ${perClient} symbols ` +
      `(${perClient === symbols.length ? 'every client subscribes to ALL symbols' : 'round-robin'}, resolution "none") = ` +
      `${subscribers} subscriptions → ~${Math.round(subscribers * opt.rate)} deliveries/s expected; ` +
      `${cfg.shards} shard(s), depth ${cfg.depth}, ${opt.seconds} s on ${availableParallelism()} cores`,
  );

  const sup = new Supervisor(cfg);
  let fatal: Error | undefined;
  sup.on('fatal', (e: Error) => (fatal = e));
  await sup.start();
  const base = `http://${HOST}:${sup.port}`;
  const getStats = async (): Promise<Stats> => {
    const r = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(STATS_TIMEOUT_MS) });
    if (!r.ok) throw new Error(`GET /stats: ${r.status} ${await r.text()}`);
    return (await r.json()) as Stats;
  };

  const worker = spawnWorker(new URL(import.meta.url), {
    workerData: { port: sup.port, symbols: [...symbols], clients: opt.clients, perClient } satisfies LoadParams,
  });
  const fromWorker = (type: FromWorker['type'], timeoutMs: number) => waitFor(worker, type, timeoutMs);
  const sample = async (): Promise<ClientCounters> => {
    const reply = fromWorker('sample', STATS_TIMEOUT_MS);
    worker.postMessage({ type: 'sample' } satisfies ToWorker);
    return ((await reply) as Extract<FromWorker, { type: 'sample' }>).counters;
  };

  const rows: Row[] = [];
  let last: Stats | undefined;
  let lastClient: ClientCounters | undefined;
  let exitCode = 0;
  try {
    const ready = (await fromWorker('ready', 60_000)) as Extract<FromWorker, { type: 'ready' }>;
    console.log(`keepup: ${ready.counters.connected} clients connected and subscribed; sampling GET /stats every second\n`);
    console.log(header());
    let prev = await getStats();
    let prevClient = await sample();
    let prevCpu = process.cpuUsage();
    let prevElu = worker.performance.eventLoopUtilization();
    let prevAt = performance.now();
    const startAt = prevAt;
    for (let t = 1; t <= opt.seconds; t++) {
      await sleep(startAt + t * SAMPLE_MS - performance.now());
      const [s, cc] = await Promise.all([getStats(), sample()]);
      const now = performance.now();
      const dt = (now - prevAt) / 1000;
      const cpu = process.cpuUsage(prevCpu);
      const row: Row = {
        t,
        offeredPerS: Math.round((s.feed.offered - prev.feed.offered) / dt),
        publishedPerS: s.front.publishedPerS,
        inputQueueBytes: s.shards.map((x) => x.inputQueue?.depthBytes ?? -1),
        frameQueueBytes: s.front.frameQueues.map((q) => q.depthBytes),
        sentPerS: Math.round((s.front.messagesSent - prev.front.messagesSent) / dt),
        receivedPerS: Math.round((cc.messages - prevClient.messages) / dt),
        receivedMBPerS: (cc.bytes - prevClient.bytes) / dt / 1e6,
        inFlight: s.front.messagesSent - cc.messages,
        gaps: cc.gaps,
        conflations: s.front.conflations,
        resyncs: sum(s.front.resyncs),
        p99Ms: s.front.feedToPublish.p99_ms,
        cpuPct: ((cpu.user + cpu.system) / 1000 / (now - prevAt)) * 100,
        clientElu: worker.performance.eventLoopUtilization(prevElu).utilization,
        load1: loadavg()[0],
      };
      rows.push(row);
      console.log(format(row));
      [prev, prevClient, prevCpu, prevElu, prevAt] = [s, cc, process.cpuUsage(), worker.performance.eventLoopUtilization(), now];
      if (fatal) throw fatal;
    }
    last = prev;
    lastClient = prevClient;
  } catch (e) {
    console.error(`keepup: run failed: ${(e as Error)?.stack ?? e}`);
    exitCode = 1;
  }

  if (last && lastClient) report(opt, cfg.shards, perClient, target, rows, last, lastClient);

  // Clients first, so the graceful stop does not spend its drain time pushing to them.
  const closed = fromWorker('closed', STOP_TIMEOUT_MS).catch((e: Error) => e);
  worker.postMessage({ type: 'close' } satisfies ToWorker);
  if ((await closed) instanceof Error) await worker.terminate();
  await sup.stop();
  return exitCode;
}

function report(
  opt: ReturnType<typeof options>, shards: number, perClient: number, target: number, rows: Row[], s: Stats, cc: ClientCounters,
): void {
  const lastThird = rows.slice(Math.floor((rows.length * 2) / 3));
  const maxIn = Math.max(0, ...lastThird.flatMap((r) => r.inputQueueBytes));
  const maxFrame = Math.max(0, ...lastThird.flatMap((r) => r.frameQueueBytes));
  const offeredShare = rows.reduce((n, r) => n + r.offeredPerS, 0) / rows.length / target;
  const frameQueueFull = s.shards.reduce((n, x) => n + (x.frameQueueFull ?? 0), 0);
  const lat = s.front.feedToPublish;
  const checks: [string, boolean][] = [
    [`feed offered ${(offeredShare * 100).toFixed(1)}% of ${target}/s (≥ ${MIN_OFFERED_SHARE * 100}%)`, offeredShare >= MIN_OFFERED_SHARE],
    [`feed queueFullDrops ${s.feed.queueFullDrops} (= 0)`, s.feed.queueFullDrops === 0],
    [`shard frameQueueFull ${frameQueueFull} (= 0)`, frameQueueFull === 0],
    [`max input queue, last third ${kib(maxIn)} KiB (≤ ${kib(QUEUE_BOUND_BYTES)})`, maxIn <= QUEUE_BOUND_BYTES],
    [`max frame queue, last third ${kib(maxFrame)} KiB (≤ ${kib(QUEUE_BOUND_BYTES)})`, maxFrame <= QUEUE_BOUND_BYTES],
    [`client seq gaps ${cc.gaps} (= 0), unparsed frames ${cc.unparsed} (= 0)`, cc.gaps === 0 && cc.unparsed === 0],
    [`conflations ${s.front.conflations} (= 0)`, s.front.conflations === 0],
  ];
  const keepsUp = checks.every(([, ok]) => ok);
  const avg = (f: (r: Row) => number) => Math.round(rows.reduce((n, r) => n + f(r), 0) / rows.length);
  const cpuAvg = rows.reduce((n, r) => n + r.cpuPct, 0) / rows.length;
  const eluAvg = rows.reduce((n, r) => n + r.clientElu, 0) / rows.length;
  console.log('\nchecks:');
  for (const [text, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${text}`);
  console.log(
    `\nupdates accepted by shards ${sumAccepted(s)}, offered ${s.feed.offered}; deliveries sent ${s.front.messagesSent}, ` +
      `received by clients ${cc.messages} (${cc.updates} updates, ${cc.snapshots} snapshots, ${cc.resyncs} resyncs, ${cc.errors} errors, ${cc.unparsed} unparsed); ` +
      `gaps ${cc.gaps} (${cc.missed} seqs missed); conflations ${s.front.conflations}; resyncs ${JSON.stringify(s.front.resyncs)}; ` +
      `backpressureLimitHits ${s.front.backpressureLimitHits}; restarts ${s.restarts}`,
  );
  if (cc.firstGaps.length > 0) console.log(`first gaps (previous frame: r resync, s snapshot, u update):\n  ${cc.firstGaps.join('\n  ')}`);
  console.log(
    `feed→publish (whole run, ${lat.count} frames): p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms, p99.9 ${lat.p999_ms} ms, max ${lat.max_ms} ms; ` +
      `avg published ${avg((r) => r.publishedPerS)}/s, received ${avg((r) => r.receivedPerS)}/s (${(rows.reduce((n, r) => n + r.receivedMBPerS, 0) / rows.length).toFixed(1)} MB/s); ` +
      `process CPU ${cpuAvg.toFixed(0)}% of one core (${availableParallelism()} cores), client thread ELU ${eluAvg.toFixed(2)}, load1 ${loadavg()[0].toFixed(2)}`,
  );
  console.log(`\nverdict: ${keepsUp ? 'KEEPS UP' : 'DOES NOT KEEP UP'}`);

  const summary = {
    bench: 'keepup',
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, availableParallelism: availableParallelism(), memGiB: +(totalmem() / 2 ** 30).toFixed(1), os: `${platform()} ${release()}`, node: process.version },
    params: { symbols: opt.symbols, rate: opt.rate, clients: opt.clients, perClient, seconds: opt.seconds, shards, subscriptionPattern: perClient === opt.symbols ? 'all symbols per client' : 'round-robin', resolution: 'none' },
    verdict: keepsUp ? 'keeps up' : 'does not keep up',
    checks: Object.fromEntries(checks.map(([text, ok]) => [text, ok])),
    totals: {
      offered: s.feed.offered, accepted: sumAccepted(s), queueFullDrops: s.feed.queueFullDrops, frameQueueFull,
      deliveriesSent: s.front.messagesSent, deliveriesReceived: cc.messages, updates: cc.updates, snapshots: cc.snapshots,
      clientResyncs: cc.resyncs, errors: cc.errors, unparsed: cc.unparsed, gaps: cc.gaps, missedSeqs: cc.missed, conflations: s.front.conflations,
      firstGaps: cc.firstGaps, resyncs: s.front.resyncs, backpressureLimitHits: s.front.backpressureLimitHits, restarts: s.restarts, clientCloses: cc.closeReasons,
    },
    feedToPublishMs: { count: lat.count, p50: lat.p50_ms, p99: lat.p99_ms, p999: lat.p999_ms, max: lat.max_ms },
    averages: { publishedPerS: avg((r) => r.publishedPerS), receivedPerS: avg((r) => r.receivedPerS), cpuPctOfOneCore: Math.round(cpuAvg), clientThreadElu: +eluAvg.toFixed(2) },
    maxQueueBytesLastThird: { input: maxIn, frame: maxFrame },
    perSecond: rows,
  };
  mkdirSync(new URL('.', RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(summary, null, 2) + '\n');
  console.log(`summary written to bench/results/keepup.json`);
}

// ── helpers ─────────────────────────────────────────────────────────────────

/** Resolves with the worker's next message of `type`; rejects on timeout, worker error or exit. */
function waitFor(worker: Worker, type: FromWorker['type'], timeoutMs: number): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    const done = (f: () => void) => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      f();
    };
    const onMessage = (m: FromWorker) => {
      if (m.type === 'failed') done(() => reject(new Error(`client worker failed: ${m.message}`)));
      else if (m.type === type) done(() => resolve(m));
    };
    const onError = (e: Error) => done(() => reject(e));
    const onExit = (code: number) => done(() => reject(new Error(`client worker exited (${code}) while waiting for "${type}"`)));
    const timer = setTimeout(() => done(() => reject(new Error(`client worker: no "${type}" within ${timeoutMs} ms`))), timeoutMs);
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const sum = (m: Record<string, number>) => Object.values(m).reduce((n, v) => n + v, 0);
const sumAccepted = (s: Stats) => s.shards.reduce((n, x) => n + ((x as { accepted?: number }).accepted ?? 0), 0);
const kib = (bytes: number) => (bytes < 0 ? '-' : (bytes / 1024).toFixed(bytes < 10_240 && bytes > 0 ? 1 : 0));

const COLUMNS = ['t s', 'offered/s', 'publ/s', 'inQ KiB', 'frQ KiB', 'sent/s', 'recv/s', 'recv MB/s', 'in-flight', 'gaps', 'confl', 'resync', 'p99 ms', 'cpu %', 'cli ELU', 'load1'];
const WIDTHS = [4, 10, 8, 9, 9, 10, 10, 10, 10, 5, 6, 7, 7, 6, 8, 6];
const header = () => COLUMNS.map((c, i) => c.padStart(WIDTHS[i])).join(' ');
const format = (r: Row) =>
  [
    r.t, r.offeredPerS, r.publishedPerS, r.inputQueueBytes.map(kib).join('/'), r.frameQueueBytes.map(kib).join('/'),
    r.sentPerS, r.receivedPerS, r.receivedMBPerS.toFixed(1), r.inFlight, r.gaps, r.conflations, r.resyncs,
    r.p99Ms, r.cpuPct.toFixed(0), r.clientElu.toFixed(2), r.load1.toFixed(2),
  ].map((v, i) => String(v).padStart(WIDTHS[i])).join(' ');

// ── entry: this file is both the main program and the client worker ─────────

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`keepup: could not run: ${(e as Error)?.stack ?? e}`);
      process.exit(1);
    },
  );
} else {
  runClients(workerData as LoadParams).catch((e: unknown) => {
    parentPort!.postMessage({ type: 'failed', message: String((e as Error)?.stack ?? e) } satisfies FromWorker);
  });
}
