// ingest: updates/s through feed → shards → metrics → rings → encode → publish, no clients; 1 and 2 shards vs per-update postMessage.
// Run: npm run bench -- ingest [--quick]
//
// tickplant: the built server, PERSIST=false (persist measures the writer), its simulator feed
// (40 symbols split 20/20 by the router's hash, 20-level snapshots, generated on the supervisor
// thread without allocation) offered at a rising rate, one fresh server per step. Counted from /stats: `shards[].accepted` (book,
// metrics, rings, frame encoded) and `front.framesPublished` (frame taken from the frame queue and
// published to its uWS topic); the figure is published frames, i.e. updates that went all the way.
// The ramp stops once a step is saturated (the feed is refused at ingress or publishing lags).
// A replayed NDJSON file was not used: JSON.parse + validation of each line on the supervisor
// thread would bound the feed below the shards.
//
// Baseline postmessage-path.ts: the same per-update work (src/book/*, encodeRecord) in a worker,
// each update postMessage'd to it and each frame postMessage'd back (bounded window), 1 and 2 workers.
//
// CPU: the whole process (all threads: feed, shards, front), from /proc; the baseline's own
// process.cpuUsage(), which is process-wide too.

import { shardOf } from '../../src/actors/supervisor/router.js';
import { runBuiltBaseline, startTickplant } from '../lib/process.js';
import {
  type ScenarioResult, type Series, type SystemFigures, cpuMeter, machine, machineCpuMeter, printTable, ratio, round,
  scenarioArgs, versions, writeResult,
} from '../lib/report.js';

const { quick } = scenarioArgs();
const SYMBOLS = 40;
const P = quick
  ? { ratesPerSymbol: [2_500, 5_000], warmupS: 1, windowS: 2, baselineS: 2 }
  : { ratesPerSymbol: [1_250, 2_500, 3_750, 5_000, 6_250, 7_500, 10_000, 12_500], warmupS: 2, windowS: 5, baselineS: 10 };

/**
 * Symbols that split evenly over 2 shards by the router's hash, so the 2-shard figure measures
 * scaling rather than hash luck (the 20 built-in symbols split 7/13).
 */
function balancedSymbols(n: number): string[] {
  const per: string[][] = [[], []];
  for (let i = 0; per[0].length + per[1].length < n; i++) {
    const name = `BENCH${String(i).padStart(3, '0')}`;
    const s = shardOf(name, 2);
    if (per[s].length < n / 2) per[s].push(name);
  }
  return [...per[0], ...per[1]];
}
const symbols = balancedSymbols(SYMBOLS);
/** A step is saturated when the feed is refused this often, or publishing falls this far behind the feed. */
const SATURATED_DROP_SHARE = 0.05;
/** Cores used by other processes beyond which a step is measured again (once). */
const CONTENDED_CORES = 0.3;

interface Stats {
  feed: { offered: number; queueFullDrops: number };
  shards: { accepted: number }[];
  front: { framesPublished: number; feedToPublish: { p50_ms: number; p99_ms: number } };
}

interface Step {
  offeredPerSecond: number;
  acceptedPerSecond: number;
  publishedPerSecond: number;
  dropShare: number;
  cpuCores: number;
  feedToPublishP99Ms: number;
  /** Cores busy with other processes during the window: competition the figure did not choose. */
  otherCores: number;
}

const startedAt = new Date();
const t0 = performance.now();
const systems: SystemFigures[] = [];
const series: Series[] = [];
const notes: string[] = [];

async function step(shards: number, ratePerSymbol: number, points: { x: number; y: number }[], clock: { s: number }): Promise<Step> {
  const tp = await startTickplant({
    PERSIST: 'false', SHARDS: String(shards), SYMBOLS: symbols.join(','), SIM_UPDATES_PER_SECOND: String(ratePerSymbol), REDIS_URL: '',
  });
  try {
    const stats = async () => (await (await fetch(`http://127.0.0.1:${tp.port}/stats`)).json()) as Stats;
    const accepted = (s: Stats) => s.shards.reduce((a, x) => a + (x.accepted ?? 0), 0);
    await new Promise((r) => setTimeout(r, P.warmupS * 1000));
    const first = await stats();
    const cpu = cpuMeter(tp.pid);
    const busy = machineCpuMeter();
    const start = performance.now();
    let prev = first.front.framesPublished;
    for (let i = 1; i <= P.windowS; i++) {
      await new Promise((r) => setTimeout(r, start + i * 1000 - performance.now()));
      const published = (await stats()).front.framesPublished;
      points.push({ x: ++clock.s, y: published - prev });
      prev = published;
    }
    const last = await stats();
    const seconds = (performance.now() - start) / 1000;
    const ours = cpu.seconds();
    // The router counts accepted offers in `offered` and refused ones in `queueFullDrops`.
    const refused = last.feed.queueFullDrops - first.feed.queueFullDrops;
    const offered = last.feed.offered - first.feed.offered + refused;
    return {
      offeredPerSecond: offered / seconds,
      acceptedPerSecond: (accepted(last) - accepted(first)) / seconds,
      publishedPerSecond: (last.front.framesPublished - first.front.framesPublished) / seconds,
      dropShare: offered > 0 ? refused / offered : 0,
      cpuCores: ours / seconds,
      feedToPublishP99Ms: last.front.feedToPublish.p99_ms,
      otherCores: Math.max(0, busy.seconds() - ours) / seconds,
    };
  } finally {
    await tp.stop();
  }
}

async function tickplant(shards: number): Promise<void> {
  const points: { x: number; y: number }[] = [];
  const clock = { s: 0 };
  const steps: (Step & { ratePerSymbol: number })[] = [];
  for (const rate of P.ratesPerSymbol) {
    let s = { ...(await step(shards, rate, points, clock)), ratePerSymbol: rate };
    if (s.otherCores > CONTENDED_CORES) {
      // Another process took CPU during the window (tests, another bench): measure once more.
      notes.push(`${shards} shard(s), ${rate * SYMBOLS}/s offered: repeated, other processes used ${s.otherCores.toFixed(2)} cores during the first window`);
      s = { ...(await step(shards, rate, points, clock)), ratePerSymbol: rate };
      if (s.otherCores > CONTENDED_CORES) notes.push(`${shards} shard(s), ${rate * SYMBOLS}/s offered: still contended (${s.otherCores.toFixed(2)} cores used by other processes): read this step as a lower bound`);
    }
    steps.push(s);
    process.stdout.write(`  ${shards} shard(s), offered ${Math.round(s.offeredPerSecond)}/s: published ${Math.round(s.publishedPerSecond)}/s, refused ${(100 * s.dropShare).toFixed(1)}%, ${s.cpuCores.toFixed(2)} cores (other processes ${s.otherCores.toFixed(2)}), feed→publish p99 ${s.feedToPublishP99Ms} ms\n`);
    const saturated = s.dropShare > SATURATED_DROP_SHARE || s.publishedPerSecond < (1 - SATURATED_DROP_SHARE) * s.offeredPerSecond;
    if (saturated && steps.length >= 2) break; // one saturated step shows the ceiling; more only burn time
  }
  const best = steps.reduce((a, b) => (b.publishedPerSecond > a.publishedPerSecond ? b : a));
  const sustained = steps.filter((s) => s.dropShare <= SATURATED_DROP_SHARE && s.publishedPerSecond >= (1 - SATURATED_DROP_SHARE) * s.offeredPerSecond);
  const bestSustained = sustained.length > 0 ? sustained.reduce((a, b) => (b.publishedPerSecond > a.publishedPerSecond ? b : a)) : undefined;
  systems.push({
    system: `tickplant ${shards} shard${shards > 1 ? 's' : ''}`,
    figures: {
      updatesPerSecond: round(best.publishedPerSecond),
      updatesPerServerCpuSecond: round(best.publishedPerSecond / best.cpuCores),
      acceptedPerSecond: round(best.acceptedPerSecond),
      offeredPerSecond: round(best.offeredPerSecond),
      feedRefusedShare: round(best.dropShare),
      serverCores: round(best.cpuCores),
      feedToPublishP99Ms: best.feedToPublishP99Ms,
      otherProcessesCores: round(best.otherCores),
      ...(bestSustained ? {
        sustainedUpdatesPerSecond: round(bestSustained.publishedPerSecond),
        sustainedUpdatesPerServerCpuSecond: round(bestSustained.publishedPerSecond / bestSustained.cpuCores),
      } : {}),
    },
    notes: `best of a ramp of ${steps.length} step(s) (${steps.map((s) => s.ratePerSymbol * SYMBOLS).join(', ')} offered/s); "sustained": the best step with < ${100 * SATURATED_DROP_SHARE}% refused`,
  });
  series.push({ kind: 'throughput-over-time', system: `tickplant ${shards} shard${shards > 1 ? 's' : ''}`, label: 'updates published/s', points });
}

async function postMessagePath(workers: number): Promise<void> {
  const r = await runBuiltBaseline<{ updates: number; seconds: number; cpuSeconds: number; machineBusySeconds: number }>(
    'postmessage-path.ts', [String(P.baselineS), String(workers)]);
  const otherCores = Math.max(0, r.machineBusySeconds - r.cpuSeconds) / r.seconds;
  if (otherCores > CONTENDED_CORES) notes.push(`postMessage path ${workers} worker(s): other processes used ${otherCores.toFixed(2)} cores during its window`);
  systems.push({
    system: `postMessage path ${workers} worker${workers > 1 ? 's' : ''}`,
    figures: {
      updatesPerSecond: round(r.updates / r.seconds),
      updatesPerServerCpuSecond: round(r.updates / r.cpuSeconds),
      serverCores: round(r.cpuSeconds / r.seconds),
      otherProcessesCores: round(otherCores),
    },
    notes: 'one postMessage per update each way, at most 4,096 in flight',
  });
}

await tickplant(1);
await tickplant(2);
notes.push('throughput chart: the ramp, one fresh server per step, steps back to back on the time axis');
await postMessagePath(1);
await postMessagePath(2);

const fig = (name: string) => systems.find((s) => s.system === name)!.figures;
const one = fig('tickplant 1 shard');
const two = fig('tickplant 2 shards');
const pm1 = fig('postMessage path 1 worker');
const pm2 = fig('postMessage path 2 workers');
const ratios = [
  ratio('updatesPerServerCpuSecond', one.updatesPerServerCpuSecond, 'postMessage path 1 worker', pm1.updatesPerServerCpuSecond, false, 10),
  ratio('updatesPerServerCpuSecond', two.updatesPerServerCpuSecond, 'postMessage path 2 workers', pm2.updatesPerServerCpuSecond, false, 10),
  ratio('updatesPerSecond', one.updatesPerSecond, 'postMessage path 1 worker', pm1.updatesPerSecond),
  ratio('updatesPerSecond', two.updatesPerSecond, 'postMessage path 2 workers', pm2.updatesPerSecond),
  ratio('updatesPerSecond', two.updatesPerSecond, 'tickplant 1 shard (scaling)', one.updatesPerSecond),
];
const best = Math.max(one.updatesPerSecond, two.updatesPerSecond);
const bound = 'the shard thread: encoding each 20-level frame (json-writer) is the largest share of its time; see bench/README.md profiling notes';
const result: ScenarioResult = {
  scenario: 'ingest',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: round((performance.now() - t0) / 1000),
  machine: machine(),
  versions: versions(),
  parameters: { ...P, symbols: SYMBOLS, depth: 20, persist: false, clients: 0 },
  systems,
  ratios,
  series,
  targets: [
    { figure: 'updates/s', target: '>= 500,000', measured: best, met: best >= 500_000, ...(best >= 500_000 ? {} : { bound }) },
    { figure: 'updates per CPU-second vs postMessage path (1 shard / 1 worker)', target: '>= 10x', measured: ratios[0].value, met: ratios[0].met!, ...(ratios[0].met ? {} : { bound }) },
    { figure: 'scaling 1 → 2 shards', target: '> 1x', measured: ratios[4].value, met: ratios[4].value > 1, ...(ratios[4].value > 1 ? {} : { bound: 'two cores: the second shard competes with the feed, the front and the first shard' }) },
  ],
  notes,
};
writeResult(result);
printTable(result);
