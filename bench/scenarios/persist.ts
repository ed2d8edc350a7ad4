// persist: rows/s committed to PostgreSQL with 10-level JSONB books, tickplant's writer vs INSERT and psql \copy.
// Run: npm run bench -- persist [--quick]
//
// One row file (bench/lib/rows.ts: simulator books encoded by the runtime's CopyRowEncoder) feeds
// every baseline, each into its own fresh schema with tickplant's own DDL (migrate()):
//   psql-copy         `psql -c "\copy order_book_data … from <file>"`: the floor, PostgreSQL alone
//   copyBatch alone   the writer's COPY path alone: copyBatch() of WRITER_BATCH_ROWS-row slices of that file
//                     (full runs also 500 and 10,000 rows per batch: the choice of WRITER_BATCH_ROWS)
//   pg-insert-multi   1,000-row INSERT statements
//   pg-insert-each    one awaited INSERT per row
// then tickplant itself: the built server with PERSIST on and BOOK_DEPTH=10, its simulator
// offering more than the writer can take (the writer back-pressures the shards; rows are never
// dropped), rows counted by /stats `writer.rowsCommitted` (a batch counts once COMMIT resolved)
// and checked against count(*) at the end.
//
// CPU: PostgreSQL does most of the work here, so the per-CPU-second figure divides by the
// ingesting process's CPU plus PostgreSQL's (all `postgres` processes, including backends
// that exited; other clients of the shared server would inflate it).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { copyBatch } from '../../src/store/copy-batch.js';
import { migrate } from '../../src/store/migrations.js';
import { benchSchema, runBaseline, startTickplant } from '../lib/process.js';
import {
  type ScenarioResult, type Series, type SystemFigures, commandCpuMeter, cpuMeter, machine, machineCpuMeter, printTable, ratio, round,
  scenarioArgs, versions, writeResult,
} from '../lib/report.js';
import { COPY_COLUMNS, writeCopyFile } from '../lib/rows.js';

const { quick } = scenarioArgs();
const DEPTH = 10;
const P = quick
  ? { fileRows: 60_000, eachRows: 2_000, multiRows: 20_000, batchRows: 2_000, batchSizes: [2_000], warmupS: 2, windowS: 5, simPerSymbol: 4_000 }
  : { fileRows: 400_000, eachRows: 20_000, multiRows: 200_000, batchRows: 2_000, batchSizes: [500, 2_000, 10_000], warmupS: 5, windowS: 30, simPerSymbol: 4_000 };
const SYMBOLS = 20;
const MEMORY_ROWS = 20_000;

const startedAt = new Date();
const t0 = performance.now();
const dir = mkdtempSync(join(tmpdir(), 'tp-persist-'));
const file = join(dir, 'rows.copy');
const fileBytes = writeCopyFile(file, P.fileRows, DEPTH);
const systems: SystemFigures[] = [];
const series: Series[] = [];
const notes: string[] = [
  `${P.fileRows.toLocaleString('en-US')} rows of ${DEPTH}-level books, ${Math.round(fileBytes / P.fileRows)} bytes per row in COPY text`,
  'rowsPerServerCpuSecond divides by the ingesting process\'s CPU (clientCpuSeconds: tickplant\'s whole server, psql, or the INSERT program) plus PostgreSQL\'s (postgresCpuSeconds)',
];

/** A fresh schema with tickplant's tables; returns its URL and a pool on it. */
async function freshSchema(name: string) {
  const s = await benchSchema(`persist_${name}`);
  const pool = new pg.Pool({ connectionString: s.url, max: 2 });
  await migrate(pool, { timescale: 'off', compressAfter: '1 day', retention: '30 days' });
  return { ...s, pool, async count(): Promise<number> { return Number((await pool.query('select count(*) from order_book_data')).rows[0].count); } };
}

function figures(rows: number, seconds: number, clientCpuS: number, pgCpuS: number): Record<string, number> {
  return {
    rowsPerSecond: round(rows / seconds),
    rowsPerServerCpuSecond: round(rows / (clientCpuS + pgCpuS)),
    rows,
    seconds: round(seconds),
    clientCpuSeconds: round(clientCpuS),
    postgresCpuSeconds: round(pgCpuS),
  };
}

/** CPU of this process's reaped children (cutime + cstime), to charge psql its own CPU. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

async function psqlCopy(): Promise<void> {
  const s = await freshSchema('psql');
  try {
    const pgCpu = commandCpuMeter('postgres');
    const c0 = childrenCpuSeconds();
    const start = performance.now();
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'test',
      '-c', `\\copy order_book_data (${COPY_COLUMNS.join(', ')}) from '${file}'`], {
      env: { ...process.env, PGOPTIONS: `-c search_path=${s.schema}` }, stdio: ['ignore', 'inherit', 'inherit'],
    });
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`psql \\copy exited with ${code}`);
    const seconds = (performance.now() - start) / 1000;
    const rows = await s.count();
    systems.push({ system: 'psql \\copy', figures: figures(rows, seconds, childrenCpuSeconds() - c0, pgCpu.seconds()), notes: 'one COPY of the whole file: the floor' });
  } finally {
    await s.pool.end();
    await s.drop();
  }
}

/** The writer's COPY path without the rest of the runtime: copyBatch() of consecutive slices of the file. */
async function copyBatchAlone(batchRows: number): Promise<void> {
  const s = await freshSchema(`copybatch_${batchRows}`);
  const payload = readFileSync(file);
  try {
    const pgCpu = commandCpuMeter('postgres');
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let from = 0;
    let rows = 0;
    let seq = 0;
    while (from < payload.length) {
      // Cut at the batchRows-th newline: batches of whole rows, as the writer closes them.
      let end = from;
      for (let n = 0; n < batchRows && end < payload.length; n++) end = payload.indexOf(10, end) + 1 || payload.length;
      const client = await s.pool.connect();
      seq += batchRows;
      await copyBatch(client, payload.subarray(from, end), [{ symbol: 'BENCH', epoch: 1, lastSeq: seq, lastTimeMs: Date.now() }]);
      client.release();
      rows += Math.min(batchRows, P.fileRows - rows);
      from = end;
    }
    const seconds = (performance.now() - start) / 1000;
    const c = process.cpuUsage(cpu0);
    const counted = await s.count();
    if (counted !== rows) throw new Error(`copy-batch: ${counted} rows stored, ${rows} sent`);
    systems.push({
      system: `copyBatch alone (${batchRows} rows)`, figures: figures(rows, seconds, (c.user + c.system) / 1e6, pgCpu.seconds()),
      notes: "tickplant's COPY path (copy-batch.ts) driven directly, one batch in flight, with its ingest_progress upsert",
    });
  } finally {
    await s.pool.end();
    await s.drop();
  }
}

async function insertBaseline(name: string, program: string, rows: number): Promise<void> {
  const s = await freshSchema(name);
  try {
    const pgCpu = commandCpuMeter('postgres');
    const r = await runBaseline<{ rows: number; seconds: number; cpuSeconds: number }>(program, [file, String(rows)], { DATABASE_URL: s.url });
    const counted = await s.count();
    if (counted !== r.rows) throw new Error(`${program}: ${counted} rows stored, ${r.rows} sent`);
    systems.push({ system: name, figures: figures(r.rows, r.seconds, r.cpuSeconds, pgCpu.seconds()) });
  } finally {
    await s.pool.end();
    await s.drop();
  }
}

async function tickplantStreaming(): Promise<void> {
  const s = await freshSchema('tickplant');
  const dataDir = join(dir, 'data');
  const tp = await startTickplant({
    PERSIST: 'true', BOOK_DEPTH: String(DEPTH), DATABASE_URL: s.url, REDIS_URL: '', DATA_DIR: dataDir,
    SIM_UPDATES_PER_SECOND: String(P.simPerSymbol), WRITER_BATCH_ROWS: String(P.batchRows),
    // Small buffers, so the window measures the steady state: beyond them the writer stops taking
    // rows, the shard stalls and the feed is refused at ingress (its designed backpressure),
    // instead of half a million rows piling up in memory and being committed after the window.
    WRITER_MEMORY_ROWS: String(MEMORY_ROWS), JOURNAL_MAX_BYTES: String(1 << 20),
  });
  try {
    const stats = async () => (await (await fetch(`http://127.0.0.1:${tp.port}/stats`)).json()) as {
      feed: { offered: number; queueFullDrops: number };
      writer: { rowsCommitted: number; rowsTaken: number; pendingRows: number; copy: { p99_ms: number } };
    };
    await new Promise((r) => setTimeout(r, P.warmupS * 1000));
    const first = await stats();
    const cpu = cpuMeter(tp.pid);
    const pgCpu = commandCpuMeter('postgres');
    const busy = machineCpuMeter();
    const start = performance.now();
    const points: { x: number; y: number }[] = [];
    let prev = first.writer.rowsCommitted;
    let prevT = start;
    for (let i = 1; i <= P.windowS; i++) {
      await new Promise((r) => setTimeout(r, start + i * 1000 - performance.now()));
      const now = performance.now();
      const committed = (await stats()).writer.rowsCommitted;
      points.push({ x: i, y: Math.round((committed - prev) / ((now - prevT) / 1000)) });
      prev = committed;
      prevT = now;
    }
    const last = await stats();
    const seconds = (performance.now() - start) / 1000;
    const rows = last.writer.rowsCommitted - first.writer.rowsCommitted;
    const serverCpu = cpu.seconds();
    const postgresCpu = pgCpu.seconds();
    const f = figures(rows, seconds, serverCpu, postgresCpu);
    // Cores busy with neither tickplant nor PostgreSQL: other work competing with the window.
    f.otherProcessesCores = round(Math.max(0, busy.seconds() - serverCpu - postgresCpu) / seconds);
    if (f.otherProcessesCores > 0.3) notes.push(`tickplant's window was contended: other processes used ${f.otherProcessesCores} cores; read its figures as a lower bound`);
    // The router counts accepted offers in `offered` and refused ones in `queueFullDrops`.
    f.updatesOfferedPerSecond = round((last.feed.offered - first.feed.offered + last.feed.queueFullDrops - first.feed.queueFullDrops) / seconds);
    f.feedDropsPerSecond = round((last.feed.queueFullDrops - first.feed.queueFullDrops) / seconds);
    f.copyP99Ms = last.writer.copy.p99_ms;
    f.pendingRowsAtEnd = last.writer.pendingRows;
    systems.unshift({
      system: 'tickplant', figures: f,
      notes: `the real server streaming (simulator ${SYMBOLS} symbols x ${P.simPerSymbol}/s offered, 1 shard, front publishing), writer COPY batches of ${P.batchRows}; client CPU is the whole server`,
    });
    series.push({ kind: 'throughput-over-time', system: 'tickplant', label: 'rows committed/s', points });
    await tp.stop();
    const stored = await s.count();
    const final = last.writer.rowsCommitted;
    notes.push(`tickplant: ${stored.toLocaleString('en-US')} rows in PostgreSQL after stop, /stats said ${final.toLocaleString('en-US')} committed before stop (the rest were committed while stopping)`);
    if (stored < final) throw new Error(`tickplant: /stats claims ${final} rows committed but only ${stored} are stored`);
  } finally {
    await tp.stop();
    await s.pool.end();
    await s.drop();
  }
}

try {
  await psqlCopy();
  // Full runs sweep the batch size (what bench/copy-batch-size.ts did, to choose WRITER_BATCH_ROWS).
  for (const size of P.batchSizes) await copyBatchAlone(size);
  await insertBaseline('pg-insert-multi', 'pg-insert-multi.ts', P.multiRows);
  await insertBaseline('pg-insert-each', 'pg-insert-each.ts', P.eachRows);
  await tickplantStreaming();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fig = (name: string) => systems.find((s) => s.system.startsWith(name))!.figures;
const tp = fig('tickplant');
const ratios = [
  ratio('rowsPerSecond', tp.rowsPerSecond, 'psql \\copy', fig('psql').rowsPerSecond, false, 0.8),
  ratio('rowsPerSecond', tp.rowsPerSecond, 'pg-insert-each', fig('pg-insert-each').rowsPerSecond, false, 50),
  ratio('rowsPerSecond', tp.rowsPerSecond, 'pg-insert-multi', fig('pg-insert-multi').rowsPerSecond),
  ratio('rowsPerServerCpuSecond', tp.rowsPerServerCpuSecond, 'psql \\copy', fig('psql').rowsPerServerCpuSecond),
  ratio('rowsPerServerCpuSecond', tp.rowsPerServerCpuSecond, 'pg-insert-each', fig('pg-insert-each').rowsPerServerCpuSecond),
  ratio('rowsPerServerCpuSecond', tp.rowsPerServerCpuSecond, 'pg-insert-multi', fig('pg-insert-multi').rowsPerServerCpuSecond),
  ratio('rowsPerSecond', fig(`copyBatch alone (${P.batchRows} rows)`).rowsPerSecond, 'psql \\copy (writer COPY path alone)', fig('psql').rowsPerSecond),
];
const floor = ratio('rowsPerSecond', fig('psql').rowsPerSecond, 'pg-insert-each', fig('pg-insert-each').rowsPerSecond).value;
const alone = ratios[6].value;
const sharedBound = `the two cores: while streaming, tickplant's own threads used ${round(tp.clientCpuSeconds / tp.seconds)} cores ` +
  `(feed, shard, front, writer) next to PostgreSQL's COPY; the writer's COPY path alone reaches ${alone}x psql \\copy`;
const insertBound = `PostgreSQL itself: psql \\copy of the same rows reaches ${fig('psql').rowsPerSecond.toLocaleString('en-US')} rows/s, ` +
  `only ${floor}x one INSERT per row (jsonb and numeric parsing, three indexes)`;
notes.push(`psql \\copy is ${floor}x pg-insert-each: no COPY client can beat that ratio by much on this machine`);
const result: ScenarioResult = {
  scenario: 'persist',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: round((performance.now() - t0) / 1000),
  machine: machine(),
  versions: versions(),
  parameters: { ...P, depth: DEPTH, symbols: SYMBOLS, table: 'order_book_data (migrations.ts, plain PostgreSQL: unique (symbol, epoch, seq, time), (symbol, time desc), BRIN(time))' },
  systems,
  ratios,
  series,
  targets: [
    { figure: 'rows/s vs psql \\copy', target: '>= 0.8x', measured: ratios[0].value, met: ratios[0].met!, ...(ratios[0].met ? {} : { bound: sharedBound }) },
    { figure: 'rows/s vs one INSERT per row', target: '>= 50x', measured: ratios[1].value, met: ratios[1].met!, ...(ratios[1].met ? {} : { bound: insertBound }) },
  ],
  notes,
};
writeResult(result);
printTable(result);
