// Scenario fanout: deliveries per second and per server CPU-second at 1,000 and 10,000 connections, 100 subscribers per symbol.
// Run: npm run bench -- fanout [--quick]
//
// Each system (tickplant, then the four baselines) runs alone, pinned to core 0; the C load
// generator runs on core 1, so it never takes the server's CPU and the server's CPU-seconds are
// its own. Connections / 100 symbols, each connection on one symbol; the offered load is the
// same for both connection counts (500,000 deliveries/s: 500 updates/s per symbol at 1,000
// connections, 50/s at 10,000). A server that cannot keep up delivers less: the generator
// counts only frames that arrived (never one uWS skipped: that shows up as a gap, or as a
// `resync` from tickplant), so per-second figures fall and per-CPU-second figures stay honest.
// tickplant runs with PERSIST=false and one shard: the baselines store nothing either.

import { type ScenarioResult, type Series, machine, percentileSeries, printTable, ratio, scenarioArgs, versions, writeResult } from '../lib/report.js';
import { benchSymbols } from '../lib/loadgen.js';
import { BASELINES, TICKPLANT, type Measurement, measure } from '../lib/systems.js';

const { quick } = scenarioArgs();
const DELIVERIES_OFFERED = 500_000;
const SUBSCRIBERS_PER_SYMBOL = 100;
const DEPTH = 5;
const CONNS = [1_000, 10_000];
const WARMUP_MS = quick ? 1_000 : 3_000;
const MEASURE_MS = quick ? 3_000 : 20_000;
/** Quick runs the 10,000-connection level for tickplant and bare uWS only (a smoke test, not figures). */
const systemsAt = (conns: number) => (quick && conns > 1_000 ? [TICKPLANT, BASELINES[0]] : [TICKPLANT, ...BASELINES]);
const TARGET_VS: Record<string, number> = { 'bare uWS': 0.9, 'ws stringify per client': 10, 'ws serialize once': 5, 'socket.io': 20 };

const startedAt = new Date();
const t0 = performance.now();
const runs: { conns: number; m: Measurement }[] = [];
for (const conns of CONNS) {
  const symbols = benchSymbols(conns / SUBSCRIBERS_PER_SYMBOL);
  const rate = DELIVERIES_OFFERED / conns;
  for (const spec of systemsAt(conns)) {
    process.stdout.write(`fanout: ${spec.system}, ${conns} connections, ${symbols.length} symbols × ${rate}/s …\n`);
    const m = await measure(spec, {
      conns, symbols, rate, depth: DEPTH, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, serverCpus: '0', generatorCpus: '1',
    });
    process.stdout.write(`  ${Math.round(m.stats.deliveries / m.seconds)} deliveries/s, server ${m.serverCpuSeconds.toFixed(2)} CPU-s, generator ${m.generatorCpuSeconds.toFixed(2)} CPU-s, gaps ${m.stats.gaps}, resyncs ${m.stats.resyncs}, open ${m.open}\n`);
    runs.push({ conns, m });
  }
}

const perSecond = (m: Measurement) => m.stats.deliveries / m.seconds;
const perCpu = (m: Measurement) => m.stats.deliveries / Math.max(m.serverCpuSeconds, 0.01);
const systems = [TICKPLANT, ...BASELINES].map((spec) => {
  const figures: Record<string, number> = {};
  for (const { conns, m } of runs.filter((r) => r.m.system === spec.system)) {
    figures[`deliveriesPerSecondAt${conns}`] = Math.round(perSecond(m));
    figures[`deliveriesPerServerCpuSecondAt${conns}`] = Math.round(perCpu(m));
    figures[`serverCpuShareAt${conns}`] = Math.round((m.serverCpuSeconds / m.seconds) * 100) / 100;
    figures[`generatorCpuShareAt${conns}`] = Math.round((m.generatorCpuSeconds / m.seconds) * 100) / 100;
    figures[`gapsAt${conns}`] = m.stats.gaps + m.stats.dups;
    figures[`resyncsAt${conns}`] = m.stats.resyncs;
    figures[`openConnectionsAt${conns}`] = m.open;
    figures[`latencyP99MsAt${conns}`] = Math.round(m.latency.getValueAtPercentile(99)) / 1000;
  }
  return { system: spec.system, figures };
});

const ratios = [];
const targets: ScenarioResult['targets'] = [];
for (const conns of CONNS) {
  const ours = runs.find((r) => r.conns === conns && r.m.system === TICKPLANT.system)?.m;
  if (!ours) continue;
  for (const b of BASELINES) {
    const theirs = runs.find((r) => r.conns === conns && r.m.system === b.system)?.m;
    if (!theirs) continue;
    ratios.push(ratio(`deliveriesPerServerCpuSecondAt${conns}`, perCpu(ours), b.system, perCpu(theirs), false, TARGET_VS[b.system]));
    ratios.push(ratio(`deliveriesPerSecondAt${conns}`, perSecond(ours), b.system, perSecond(theirs)));
  }
  if (conns === 1_000) {
    targets.push({ figure: 'deliveriesPerServerCpuSecondAt1000', target: '>= 1,000,000', measured: Math.round(perCpu(ours)), met: perCpu(ours) >= 1_000_000 });
  }
}
for (const q of ratios.filter((q) => q.target !== undefined)) {
  targets.push({ figure: `${q.figure} vs ${q.against}`, target: `>= ${q.target}x`, measured: q.value, met: q.met === true });
}

const series: Series[] = runs.flatMap(({ conns, m }) => [
  { kind: 'throughput-over-time' as const, system: m.system, label: `${m.system}, ${conns} connections: deliveries/s`, points: m.perSecond },
  { ...percentileSeries(m.system, `${m.system}, ${conns} connections: feed→client latency (ms)`, m.latency) },
]);
const genCpu = runs.reduce((n, r) => n + r.m.generatorCpuSeconds, 0);
const wall = runs.reduce((n, r) => n + r.m.seconds, 0);

const result: ScenarioResult = {
  scenario: 'fanout',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: Math.round((performance.now() - t0) / 100) / 10,
  machine: machine(),
  versions: versions(),
  parameters: {
    connections: CONNS, subscribersPerSymbol: SUBSCRIBERS_PER_SYMBOL, offeredDeliveriesPerSecond: DELIVERIES_OFFERED,
    bookDepth: DEPTH, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, serverCore: 0, generatorCore: 1,
    tickplant: { SHARDS: 1, PERSIST: false }, frameBytes: Math.round(runs[0].m.stats.bytes / Math.max(1, runs[0].m.stats.frames)),
  },
  systems,
  ratios,
  series,
  targets,
  generator: { cpuSeconds: Math.round(genCpu * 100) / 100, cpuShare: Math.round((genCpu / wall) * 100) / 100 },
  notes: [
    'Pinning: every server on core 0 (taskset -c 0; tickplant\'s threads share it), the C generator on core 1: the generator never competes with the server, and per-CPU-second figures compare the same single core for every system.',
    'A delivery is an orderbook_update frame the generator received; frames uWS skipped over maxBackpressure are not deliveries (they show as gaps, or tickplant resyncs them).',
    'Baselines run the same simulator (src/feeds/simulator.ts, same seed, symbols, rate, depth) in their own process; bare uWS pre-encodes 1,024 bodies per symbol at start and only stamps seq and timestamp live.',
    ...(quick ? ['quick: 3 s per system, the 10,000-connection level only for tickplant and bare uWS: a smoke test, not figures.'] : []),
  ],
};
printTable(result);
process.stdout.write(`results: ${writeResult(result).pathname}\n`);
