// Scenario soak: 10 minutes at 20,000 updates/s, 1,000 clients, full persistence; then nothing lost, duplicated or gapped, and memory flat.
// Run: npm run bench -- soak [--quick]
//
// tickplant with PostgreSQL (a fresh schema) and Redis, default shards, 10-level books:
// 100 symbols × 200 updates/s; client i subscribes to symbol i % 100 (10 per symbol, so
// 200,000 deliveries/s). After the run and a graceful stop (the writer commits what it holds):
// - PostgreSQL: per (symbol, epoch) rows vs distinct seqs (duplicates) and max − min + 1 vs
//   distinct (holes), a first seq other than 1 (lost at the start), and a stored last seq below
//   the last seq /symbols reported before the stop (lost at the end);
// - clients: gaps and duplicates counted by the generator, resyncs reported;
// - resident memory of the tickplant process, sampled every second: growth from the end of the
//   warm-up (the first fifth) to the largest of the last tenth.
// Quick: 30 s (6 s warm-up). Not pinned: persistence needs the writer and PostgreSQL on both cores.

import { readdirSync, rmSync, statSync } from 'node:fs';
import pg from 'pg';
import { benchSchema, DATABASE_URL, startTickplant } from '../lib/process.js';
import { type ScenarioResult, latencyFigures, machine, percentileSeries, printTable, scenarioArgs, versions, writeResult } from '../lib/report.js';
import { benchSymbols, sleep } from '../lib/loadgen.js';
import { TICKPLANT, measureRunning, rssKb, startSystem, type LoadSpec } from '../lib/systems.js';

const { quick } = scenarioArgs();
/** The restart that replays the writer's journal gets this long to drain it. */
const JOURNAL_REPLAY_MAX_S = 600;
const SYMBOLS = benchSymbols(100);
const RATE = 200;
const CONNS = 1_000;
const DEPTH = 10;
const DURATION_MS = quick ? 30_000 : 600_000;
const WARMUP_MS = DURATION_MS / 5;

const journalSize = () => {
  try {
    return readdirSync(`${DATA_DIR}/journal`).reduce((n, f) => n + statSync(`${DATA_DIR}/journal/${f}`).size, 0);
  } catch {
    return 0;
  }
};

const startedAt = new Date();
const t0 = performance.now();
const schema = await benchSchema('soak');
const DATA_DIR = `/tmp/tickplant-soak-${process.pid}`;
const rss: { x: number; y: number }[] = [];
const lastSeqs = new Map<string, { epoch: number; seq: number }>();
const load: LoadSpec = {
  conns: CONNS, symbols: SYMBOLS, rate: RATE, depth: DEPTH, warmupMs: WARMUP_MS, measureMs: DURATION_MS - WARMUP_MS,
  tickplantEnv: { PERSIST: 'true', DATABASE_URL: schema.url, SHARDS: '', DATA_DIR },
  during: async (server) => {
    const end = performance.now() + DURATION_MS - WARMUP_MS - 500;
    for (let s = 0; performance.now() < end; s++) {
      rss.push({ x: Math.round((WARMUP_MS / 1000 + s) * 10) / 10, y: Math.round(rssKb(server.pid) / 1024) });
      await sleep(1000);
    }
  },
};
// SHARDS '' would be invalid: drop it so tickplant picks its default (cores − 1).
delete load.tickplantEnv!.SHARDS;
const server = await startSystem(TICKPLANT, load);
let m;
let stopCode: number | null = null;
try {
  m = await measureRunning(TICKPLANT, load, server);
  const res = await fetch(`http://127.0.0.1:${server.port}/symbols`);
  const body = (await res.json()) as { symbols: { symbol: string; epoch: number; seq: number }[] };
  for (const s of body.symbols) lastSeqs.set(s.symbol, { epoch: s.epoch, seq: s.seq });
} finally {
  stopCode = await server.stop();
}

// Rows the writer had not committed at the stop wait in its journal (DATA_DIR/journal), replayed
// at the next start: start tickplant once more on the same schema and data directory, let the
// writer drain the journal, stop it, and only then read PostgreSQL. (With a journal pending the
// restarted symbols begin new epochs, so the old epochs are checked whole.)
const journalBytes = journalSize();
let journalReplayS = 0;
if (journalBytes > 0) {
  const t = performance.now();
  const again = await startTickplant({
    SYMBOLS: SYMBOLS.join(','), SIM_UPDATES_PER_SECOND: '0.1', BOOK_DEPTH: String(DEPTH), PERSIST: 'true',
    DATABASE_URL: schema.url, DATA_DIR, LOG_LEVEL: 'info',
  });
  try {
    for (let i = 0; i < JOURNAL_REPLAY_MAX_S; i++) {
      const st = (await (await fetch(`http://127.0.0.1:${again.port}/stats`)).json()) as { writer?: { journal: { bytes: number; active: boolean }; pendingRows: number } };
      if (st.writer && st.writer.journal.bytes === 0 && st.writer.pendingRows === 0) break;
      await sleep(1000);
    }
  } finally {
    await again.stop();
  }
  journalReplayS = Math.round((performance.now() - t) / 100) / 10;
}

// PostgreSQL: every (symbol, epoch) must hold seq 1..max exactly once.
const db = new pg.Client(schema.url);
await db.connect();
const { rows } = await db.query<{ symbol: string; epoch: string; n: string; d: string; lo: string; hi: string }>(
  'select symbol, epoch::text, count(*)::text n, count(distinct seq)::text d, min(seq)::text lo, max(seq)::text hi from order_book_data group by symbol, epoch',
);
await db.end();
let stored = 0, duplicates = 0, holes = 0, lostAtStart = 0, lostAtEnd = 0;
for (const r of rows) {
  const n = Number(r.n), d = Number(r.d), lo = Number(r.lo), hi = Number(r.hi);
  stored += n;
  duplicates += n - d;
  holes += hi - lo + 1 - d;
  lostAtStart += lo - 1;
  const last = lastSeqs.get(r.symbol);
  if (last && String(last.epoch) === r.epoch && last.seq > hi) lostAtEnd += last.seq - hi;
}
const symbolsStored = new Set(rows.map((r) => r.symbol)).size;
await schema.drop();
void DATABASE_URL;
const journalBytesAfterReplay = journalSize();
rmSync(DATA_DIR, { recursive: true, force: true });

const after = rss.find((p) => p.x >= WARMUP_MS / 1000) ?? rss[0];
const tail = rss.slice(Math.floor(rss.length * 0.9));
const peakTail = Math.max(...tail.map((p) => p.y));
const growth = after ? (peakTail - after.y) / after.y : 0;
const lost = holes + lostAtStart + lostAtEnd;
const seconds = m!.seconds;
const updates = RATE * SYMBOLS.length * seconds;

const result: ScenarioResult = {
  scenario: 'soak',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: Math.round((performance.now() - t0) / 100) / 10,
  machine: machine(),
  versions: versions(),
  parameters: { symbols: SYMBOLS.length, ratePerSymbol: RATE, updatesPerSecond: RATE * SYMBOLS.length, connections: CONNS, subscribersPerSymbol: CONNS / SYMBOLS.length, bookDepth: DEPTH, durationMs: DURATION_MS, warmupMs: WARMUP_MS, persist: 'PostgreSQL + Redis' },
  systems: [{
    system: 'tickplant',
    figures: {
      deliveriesPerSecond: Math.round(m!.stats.deliveries / seconds),
      deliveriesPerServerCpuSecond: Math.round(m!.stats.deliveries / m!.serverCpuSeconds),
      updatesPerServerCpuSecond: Math.round(updates / m!.serverCpuSeconds),
      serverCpuShare: Math.round((m!.serverCpuSeconds / seconds) * 100) / 100,
      rowsStored: stored,
      symbolsStored,
      rowsDuplicated: duplicates,
      rowsLost: lost,
      rowsHoles: holes,
      rowsLostAtStart: lostAtStart,
      rowsMissingAtEnd: lostAtEnd,
      journalBytesAfterStop: journalBytes,
      journalReplaySeconds: journalReplayS,
      journalBytesAfterReplay,
      clientGaps: m!.stats.gaps + m!.stats.dups,
      clientResyncs: m!.stats.resyncs,
      rssMbAfterWarmup: after?.y ?? 0,
      rssMbPeakLastTenth: peakTail,
      rssGrowthPercent: Math.round(growth * 1000) / 10,
      ...latencyFigures(m!.latency),
    },
  }],
  ratios: [],
  series: [
    { kind: 'throughput-over-time', system: 'tickplant', label: 'tickplant: deliveries/s during the soak (after warm-up)', points: m!.perSecond.map((p) => ({ x: p.x + WARMUP_MS / 1000, y: p.y })) },
    percentileSeries('tickplant', 'tickplant: feed→client latency (ms) with full persistence', m!.latency),
  ],
  targets: [
    { figure: 'rows lost or duplicated in PostgreSQL', target: '0', measured: lost + duplicates, met: lost + duplicates === 0 },
    { figure: 'client gaps', target: '0', measured: m!.stats.gaps + m!.stats.dups, met: m!.stats.gaps + m!.stats.dups === 0 },
    { figure: 'resident memory growth after warm-up', target: '< 10%', measured: `${Math.round(growth * 1000) / 10}%`, met: growth < 0.1 },
  ],
  generator: { cpuSeconds: Math.round(m!.generatorCpuSeconds * 100) / 100, cpuShare: Math.round((m!.generatorCpuSeconds / seconds) * 100) / 100 },
  notes: [
    `Resident memory (MB, tickplant process, every second): ${rss.map((p) => p.y).join(' ')}`,
    `tickplant exited with code ${stopCode} after SIGTERM; ${journalBytes > 0 ? `the writer had ${journalBytes} bytes of rows in its journal, replayed by a second start in ${journalReplayS} s; ` : ''}PostgreSQL was read after that.`,
    'Lost at the end = the last seq /symbols reported before the stop minus the last stored seq; updates accepted after that /symbols call are not checked against anything but continuity.',
    'Not pinned: the writer, PostgreSQL and Redis need both cores; the generator runs beside them and its CPU is reported.',
    ...(quick ? ['quick: 30 s, a smoke test of the checks, not the 10-minute figure.'] : []),
  ],
};
printTable(result);
process.stdout.write(`results: ${writeResult(result).pathname}\n`);
if (lost + duplicates > 0) process.stdout.write(`soak: ${lost} lost and ${duplicates} duplicated rows\n`);
