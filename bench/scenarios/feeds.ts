// feeds: Binance diff-depth events applied per CPU-second of the feed's process, from a local exchange sending as fast as it is read; tickplant's connector vs a plain ws + JSON.parse + Map consumer.
// Run: npm run bench -- feeds [--quick]
//
// Load: bench/lib/binance-generator.ts, a Binance look-alike (combined streams and
// GET /api/v3/depth) that sends a precomputed sequence of diff events over 8 symbols' books
// of 300 levels a side, round-robin, as fast as the socket drains. It runs pinned to core 1.
//
// Systems, each in its own process pinned to core 0, each against a fresh generator:
//   tickplant               bench/lib/binance-connector-consumer.ts: createBinanceConnector and a
//                           sink writing every book (top 20 a side) into an SPSC input queue
//                           (drained on the same thread; see that file)
//   ws + JSON.parse + Map   bench/baselines/ws-map-book.ts: parse and apply, nothing else
// Both run from dist/ (npm run bench builds it), as tickplant's feed actors do.
//
// Per run: wait until every symbol is in sync (tickplant) or seeded (baseline), warm up, then
// measure a window: the consumer's counts and its CPU (all threads, /proc) at both ends, so
// both cover the same interval. The generator counts the events between the last update id
// the consumer had applied at each end (its `covered`), which must equal what the consumer
// counted: tickplant hands over one book per event applied, so a resync (which applies a
// snapshot instead of events) or a lost event shows as a difference, besides its own counter.
// After the window the generator stops and tickplant's last book of each symbol is compared
// with the generator's true top-N at its update id: counting every event is not enough if the
// books were wrong (a snapshot inconsistent with the stream would not be noticed otherwise).
// Repeats alternate the systems; each figure is the median repeat's (by diffs per CPU-second).

import { existsSync } from 'node:fs';
import { type IpcProcess, rssMb, spawnIpc } from '../lib/ipc.js';
import { sleep } from '../lib/loadgen.js';
import { ROOT } from '../lib/process.js';
import {
  type ScenarioResult, type Series, type SystemFigures, machine, machineCpuMeter, printTable, processCpuSeconds, ratio, round,
  scenarioArgs, versions, writeResult,
} from '../lib/report.js';

const { quick } = scenarioArgs();
const P = quick
  ? { repeats: 1, warmupMs: 1_000, measureMs: 3_000 }
  : { repeats: 3, warmupMs: 5_000, measureMs: 15_000 };
const SYMBOLS = 8;
const LEVELS = 300;
const EVENTS_PER_SYMBOL = 25_000;
const DEPTH = 20;
const CONSUMER_CPUS = '0';
const GENERATOR_CPUS = '1';
const SYNC_TIMEOUT_MS = 30_000;
/** Cores busy with other processes beyond which a window is called contended in the notes. */
const CONTENDED_CORES = 0.2;

interface SystemSpec {
  system: string;
  /** Built program, relative to the checkout. */
  js: string;
  args(wsUrl: string, restUrl: string, symbols: string[]): string[];
  /** Its count of events applied, from its `stats`. */
  applied(s: ConsumerStats): number;
  synced(s: ConsumerStats): boolean;
}

interface ConsumerStats {
  lastSeq: Record<string, number>;
  // tickplant
  books?: number;
  live?: number;
  resyncsAfterStart?: number;
  outOfOrder?: number;
  // baseline
  diffs?: number;
}

interface GeneratorStats {
  messages: number;
  frameBytes: number;
  payloadBytes: number;
  connections: number;
}

const TICKPLANT: SystemSpec = {
  system: 'tickplant',
  js: 'dist/bench/lib/binance-connector-consumer.js',
  args: (ws, rest, symbols) => [ws, rest, String(DEPTH), symbols.join(',')],
  applied: (s) => s.books!,
  synced: (s) => s.live === SYMBOLS,
};
const BASELINE: SystemSpec = {
  system: 'ws + JSON.parse + Map',
  js: 'dist/bench/baselines/ws-map-book.js',
  args: (ws, rest, symbols) => [ws, rest, symbols.join(',')],
  applied: (s) => s.diffs!,
  synced: (s) => s.diffs! > 0,
};

interface Run {
  system: string;
  repeat: number;
  seconds: number;
  applied: number;
  /** Events the generator says lie between the consumer's update ids at both ends. */
  covered: number;
  cpuSeconds: number;
  generatorCpuSeconds: number;
  otherCores: number;
  messages: number;
  frameBytes: number;
  payloadBytes: number;
  rssMb: number;
  rssPeakMb: number;
  /** Symbols whose last book handed over (after the window) is not the generator's top-N at its update id. */
  booksWrong?: number;
  resyncs?: number;
  outOfOrder?: number;
  perSecond: { x: number; y: number }[];
}

for (const s of [TICKPLANT, BASELINE]) {
  if (!existsSync(`${ROOT}${s.js}`)) throw new Error(`${s.js} is missing: run \`npm run build\` (npm run bench does)`);
}

async function measure(spec: SystemSpec, repeat: number): Promise<Run> {
  const gen = await spawnIpc('binance-generator', ['--import', 'tsx', 'bench/lib/binance-generator.ts',
    '--symbols', String(SYMBOLS), '--levels', String(LEVELS), '--diffs', String(EVENTS_PER_SYMBOL)], GENERATOR_CPUS);
  let consumer: IpcProcess | undefined;
  try {
    const url = `http://127.0.0.1:${gen.ready.port as number}`;
    const symbols = gen.ready.symbols as string[];
    consumer = await spawnIpc(spec.system, [spec.js, ...spec.args(url.replace('http', 'ws'), url, symbols)], CONSUMER_CPUS);
    const c = consumer;
    const stats = () => c.ask<ConsumerStats>('stats');
    const until = performance.now() + SYNC_TIMEOUT_MS;
    while (!spec.synced(await stats())) {
      if (performance.now() > until) throw new Error(`${spec.system}: not in sync after ${SYNC_TIMEOUT_MS} ms:\n${c.output().slice(-2000)}`);
      await sleep(100);
    }
    await sleep(P.warmupMs);

    const busy = machineCpuMeter();
    const g0 = await gen.ask<GeneratorStats>('stats');
    const gcpu0 = processCpuSeconds(gen.pid);
    const s0 = await stats();
    const cpu0 = processCpuSeconds(c.pid);
    const t0 = performance.now();
    const perSecond: Run['perSecond'] = [];
    let prev = spec.applied(s0);
    for (let i = 1; performance.now() - t0 < P.measureMs - 500; i++) {
      await sleep(t0 + i * 1000 - performance.now());
      const s = await stats();
      perSecond.push({ x: i, y: spec.applied(s) - prev });
      prev = spec.applied(s);
    }
    await sleep(t0 + P.measureMs - performance.now());
    const s1 = await stats();
    const cpu1 = processCpuSeconds(c.pid);
    const t1 = performance.now();
    const gcpu1 = processCpuSeconds(gen.pid);
    const g1 = await gen.ask<GeneratorStats>('stats');
    const machineBusy = busy.seconds();
    const mem = rssMb(c.pid);
    let covered = 0;
    for (const sym of symbols) covered += await gen.ask<number>('covered', { symbol: sym, after: s0.lastSeq[sym], upTo: s1.lastSeq[sym] });
    const booksWrong = spec === TICKPLANT ? await checkBooks(gen, c, symbols) : undefined;
    const seconds = (t1 - t0) / 1000;
    const cpuSeconds = cpu1 - cpu0;
    const generatorCpuSeconds = gcpu1 - gcpu0;
    const delta = (k: keyof ConsumerStats) => (s1[k] === undefined ? undefined : (s1[k] as number) - (s0[k] as number));
    return {
      system: spec.system, repeat, seconds, applied: spec.applied(s1) - spec.applied(s0), covered, cpuSeconds, generatorCpuSeconds,
      otherCores: Math.max(0, machineBusy - cpuSeconds - generatorCpuSeconds) / seconds,
      messages: g1.messages - g0.messages, frameBytes: g1.frameBytes - g0.frameBytes, payloadBytes: g1.payloadBytes - g0.payloadBytes,
      rssMb: mem.rss, rssPeakMb: mem.peak,
      booksWrong, resyncs: delta('resyncsAfterStart'), outOfOrder: delta('outOfOrder'),
      perSecond,
    };
  } finally {
    await consumer?.stop();
    await gen.stop();
  }
}

type Levels = [number, number][];

/**
 * After the window: the consumer keeps the last book it hands over per symbol, the generator
 * stops, and once the consumer has read everything its books are compared with the generator's
 * true top-N at their update ids. Returns the number of symbols that differ.
 */
async function checkBooks(gen: IpcProcess, c: IpcProcess, symbols: string[]): Promise<number> {
  await c.ask('record');
  await sleep(200);
  await gen.ask('pause');
  let last = '';
  for (let seen = JSON.stringify((await c.ask<ConsumerStats>('stats')).lastSeq); seen !== last;) {
    last = seen;
    await sleep(300);
    seen = JSON.stringify((await c.ask<ConsumerStats>('stats')).lastSeq);
  }
  const got = await c.ask<Record<string, { seq: number; bids: Levels; asks: Levels }>>('recorded');
  const same = (a: Levels, b: [string, string][]) => a.length === b.length && a.every(([p, q], i) => p === +b[i][0] && q === +b[i][1]);
  let wrong = 0;
  for (const sym of symbols) {
    const mine = got[sym];
    if (!mine) {
      wrong++;
      continue;
    }
    const truth = await gen.ask<{ bids: [string, string][]; asks: [string, string][] }>('top', { symbol: sym, u: mine.seq, n: DEPTH });
    if (!same(mine.bids, truth.bids) || !same(mine.asks, truth.asks)) wrong++;
  }
  return wrong;
}

const startedAt = new Date();
const tStart = performance.now();
const runs: Run[] = [];
for (let r = 1; r <= P.repeats; r++) {
  for (const spec of [TICKPLANT, BASELINE]) {
    process.stdout.write(`feeds: ${spec.system}, repeat ${r}/${P.repeats} …\n`);
    const m = await measure(spec, r);
    runs.push(m);
    process.stdout.write(`  ${Math.round(m.applied / m.seconds)} diffs/s, ${Math.round(m.applied / m.cpuSeconds)} per consumer CPU-s `
      + `(consumer ${(m.cpuSeconds / m.seconds).toFixed(2)} cores, generator ${(m.generatorCpuSeconds / m.seconds).toFixed(2)}, other ${m.otherCores.toFixed(2)}), `
      + `applied ${m.applied} of ${m.covered} covered, resyncs ${m.resyncs ?? '—'}, RSS ${m.rssMb.toFixed(0)} MB\n`);
  }
}

const perCpu = (m: Run) => m.applied / m.cpuSeconds;
const median = (system: string): Run => {
  const list = runs.filter((m) => m.system === system).sort((a, b) => perCpu(a) - perCpu(b));
  return list[(list.length - 1) >> 1];
};
const systems: SystemFigures[] = [];
const series: Series[] = [];
for (const spec of [TICKPLANT, BASELINE]) {
  const m = median(spec.system);
  const figures: Record<string, number> = {
    diffsPerSecond: round(m.applied / m.seconds),
    diffsPerConsumerCpuSecond: round(perCpu(m)),
    consumerCores: round(m.cpuSeconds / m.seconds),
    bytesPerMessage: round(m.frameBytes / m.messages),
    rssMb: round(m.rssMb),
    rssPeakMb: round(m.rssPeakMb),
    diffsNotApplied: m.covered - m.applied,
    generatorCores: round(m.generatorCpuSeconds / m.seconds),
    otherProcessesCores: round(m.otherCores),
  };
  if (m.resyncs !== undefined) figures.resyncs = m.resyncs;
  if (m.booksWrong !== undefined) figures.booksWrong = m.booksWrong;
  systems.push({
    system: spec.system,
    figures,
    notes: spec === TICKPLANT
      ? 'createBinanceConnector (checks, documented snapshot + diff sync, whole book, top 20 a side per event) + a sink writing each book into a 4 MiB SPSC input queue; drained on the same thread, counted in its CPU'
      : 'ws client + JSON.parse + a Map<price, quantity> per side per symbol, seeded by one snapshot; no sync checks, no top-N, nothing handed on: the floor',
  });
  series.push({ kind: 'throughput-over-time', system: spec.system, label: 'diffs applied/s', points: m.perSecond });
}

const ours = median(TICKPLANT.system);
const theirs = median(BASELINE.system);
const ratios = [
  ratio('diffsPerConsumerCpuSecond', perCpu(ours), BASELINE.system, perCpu(theirs)),
  ratio('diffsPerSecond', ours.applied / ours.seconds, BASELINE.system, theirs.applied / theirs.seconds),
];
const tickplantRuns = runs.filter((m) => m.system === TICKPLANT.system);
const faults = tickplantRuns.reduce((n, m) => n + (m.resyncs ?? 0) + (m.outOfOrder ?? 0) + (m.booksWrong ?? 0) + Math.abs(m.covered - m.applied), 0);
const generatorCpu = runs.reduce((n, m) => n + m.generatorCpuSeconds, 0);
const consumerCpu = runs.reduce((n, m) => n + m.cpuSeconds, 0);
const contended = runs.filter((m) => m.otherCores > CONTENDED_CORES);
const fmt = (v: number) => Math.round(v).toLocaleString('en-US');

const result: ScenarioResult = {
  scenario: 'feeds',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: round((performance.now() - tStart) / 1000),
  machine: machine(),
  versions: versions(),
  parameters: {
    ...P, symbols: SYMBOLS, levelsPerSide: LEVELS, eventsPerSymbol: EVENTS_PER_SYMBOL, depth: DEPTH,
    consumerCore: Number(CONSUMER_CPUS), generatorCore: Number(GENERATOR_CPUS),
    payloadBytesPerMessage: round(ours.payloadBytes / ours.messages),
  },
  systems,
  ratios,
  series,
  targets: [
    {
      figure: 'tickplant: resyncs, out-of-order books, events not applied and wrong final books, every repeat', target: '0', measured: faults, met: faults === 0,
      ...(faults === 0 ? {} : { bound: 'see the per-repeat note: the connector lost sync with a generator it should follow exactly' }),
    },
  ],
  generator: { cpuSeconds: round(generatorCpu), cpuShare: round(generatorCpu / (generatorCpu + consumerCpu)) },
  notes: [
    `Load: ${SYMBOLS} symbols round-robin, books of ${LEVELS} price levels a side (about 90% filled), each event changing 0-4 levels a side near the top (mostly the best 10; 15% removals), prices and quantities as Binance's 8-decimal strings, U..u consecutive per symbol; a precomputed sequence of ${fmt(EVENTS_PER_SYMBOL)} events per symbol repeats with ids continuing. No trades are sent.`,
    'The generator writes hand-made frames in 64 KiB batches while the socket\'s bufferedAmount is under 64 KiB, then waits for drain: it sends at the consumer\'s pace. bytesPerMessage is WebSocket frame bytes (header + JSON) per event; payloadBytesPerMessage in the parameters is the JSON alone.',
    `Pinning: each consumer on core ${CONSUMER_CPUS}, the generator on core ${GENERATOR_CPUS} (taskset); consumerCores near 1 means the consumer was the bottleneck, as intended.`,
    'diffsNotApplied: events the generator sent between the consumer\'s update ids at the window\'s ends minus the events the consumer counted (tickplant: books handed over, one per event applied); 0 means every event was applied one by one.',
    `booksWrong: after the window the generator stops and tickplant's last book of each symbol is compared with the generator's true top ${DEPTH} at its update id (symbols that differ).`,
    `rssMb: the consumer's resident memory at the end of the window (rssPeakMb: its peak, VmHWM), node ${process.version}, run from dist/.`,
    `Per repeat (diffs per consumer CPU-second): ${[TICKPLANT, BASELINE].map((s) => `${s.system} ${runs.filter((m) => m.system === s.system).map((m) => fmt(perCpu(m))).join(' / ')}`).join('; ')}.`,
    ...(contended.length > 0 ? [`Other processes used more than ${CONTENDED_CORES} cores during ${contended.length} of ${runs.length} windows (${contended.map((m) => `${m.system} #${m.repeat}: ${m.otherCores.toFixed(2)}`).join(', ')}): on 2 cores they share the consumer's or the generator's.`] : []),
    ...(quick ? ['quick: one short repeat per system, a smoke test, not figures.'] : []),
  ],
};
printTable(result);
process.stdout.write(`results: ${writeResult(result).pathname}\n`);
if (faults !== 0) process.exitCode = 1;
