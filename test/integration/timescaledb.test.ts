// The TimescaleDB paths against the real TimescaleDB server (TIMESCALE_URL, started by ../shared/timescaledb/setup.sh).
//
// The real runtime on a hypertable: the schema and policies TIMESCALEDB=auto creates, exact
// ingest and a restart, history from time_bucket equal point for point to date_bin's on the
// plain PostgreSQL of DATABASE_URL, compression and retention run by TimescaleDB's own jobs.
// Unreachable server: the file fails, naming TIMESCALE_URL (never a skip).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOfDayMs } from '../../src/market-day.js';
import { METRIC_COUNT, R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_METRICS, R_SEQ, rawRecordFields } from '../../src/ring/layout.js';
import { copyBatch } from '../../src/store/copy-batch.js';
import { type HistoryRow, queryHistory } from '../../src/store/history-query.js';
import { migrate } from '../../src/store/migrations.js';
import { CopyRowEncoder } from '../../src/store/row-encoder.js';
import { sequenceDefects, storedSequences, writeBooks } from '../helpers/books.js';
import { TIMESCALE_URL, type Runtime, createDeployment, sleep, startRuntime, untilCommitted } from '../helpers/runtime.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
type Deployment = Awaited<ReturnType<typeof createDeployment>>;
const deployments: Deployment[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  // setup.sh creates only the server; the `test` database is created here when missing (as .ci/run does).
  const c = new pg.Client({ connectionString: TIMESCALE_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.end();
  } catch (e) {
    if ((e as { code?: string }).code !== '3D000') {
      throw new Error(`TimescaleDB is unreachable at TIMESCALE_URL=${TIMESCALE_URL} (${(e as Error).message}): run ../shared/timescaledb/setup.sh or set TIMESCALE_URL`);
    }
    const url = new URL(TIMESCALE_URL);
    const name = decodeURIComponent(url.pathname.slice(1));
    url.pathname = '/postgres';
    const admin = new pg.Client(url.toString());
    await admin.connect();
    await admin.query(`create database "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
      if (err.code !== '42P04') throw err; // another run created it first
    });
    await admin.end();
  }
});

afterAll(async () => {
  for (const d of deployments) await d.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function deployment(serverUrl?: string): Promise<Deployment> {
  const d = await createDeployment(serverUrl);
  deployments.push(d);
  return d;
}

type Stats = {
  shards: { accepted: number }[];
  writer: { rowsCommitted: number; database: { timescale: boolean }; retention: Record<string, unknown> };
};


/** timescaledb_information about this pool's order_book_data: chunk width, compression columns, policies. */
async function hypertableFacts(db: pg.Pool) {
  const ht = await db.query<{ compression_enabled: boolean }>(
    `select compression_enabled from timescaledb_information.hypertables
      where hypertable_schema = current_schema() and hypertable_name = 'order_book_data'`);
  const dims = await db.query<{ column_name: string; interval: string }>(
    `select column_name, time_interval::text as interval from timescaledb_information.dimensions
      where hypertable_schema = current_schema() and hypertable_name = 'order_book_data'`);
  const cs = await db.query<{ attname: string; segmentby: number | null; orderby: number | null; asc: boolean | null }>(
    `select attname, segmentby_column_index as segmentby, orderby_column_index as orderby, orderby_asc as asc
       from timescaledb_information.compression_settings
      where hypertable_schema = current_schema() and hypertable_name = 'order_book_data'`);
  const jobs = await db.query<{ job_id: number; proc_name: string; config: Record<string, unknown> }>(
    `select job_id, proc_name, config from timescaledb_information.jobs
      where hypertable_schema = current_schema() and hypertable_name = 'order_book_data' order by proc_name`);
  return {
    hypertables: ht.rows,
    dimensions: dims.rows,
    segmentBy: cs.rows.filter((r) => r.segmentby !== null).sort((a, b) => a.segmentby! - b.segmentby!).map((r) => r.attname),
    orderBy: cs.rows.filter((r) => r.orderby !== null).sort((a, b) => a.orderby! - b.orderby!).map((r) => `${r.attname} ${r.asc ? 'asc' : 'desc'}`),
    jobs: jobs.rows,
  };
}

describe('TIMESCALEDB=auto on the TimescaleDB server', () => {
  const SYMBOLS = [`TS${TAG}.A`, `TS${TAG}.B`, `TS${TAG}.C`];
  const PER_SYMBOL = 1000;

  it('makes order_book_data a hypertable with the configured policies, stores every update once, and a restart continues the sequences', async () => {
    const dep = await deployment(TIMESCALE_URL);
    const dir = mkdtempSync(join(tmpdir(), 'tickplant-tsdb-'));
    dirs.push(dir);
    const cfg = {
      feed: 'replay' as const, replayFile: writeBooks(dir, SYMBOLS, PER_SYMBOL, 1), replaySpeed: 0, shards: 2,
      writerBatchRows: 500, writerBatchMs: 20, timescale: 'auto' as const, compressAfter: '2 days', retention: '20 days',
    };
    const run1 = await startRuntime(cfg, dep);
    try {
      const s = await untilCommitted<Stats>(run1, SYMBOLS.length * PER_SYMBOL);
      expect(s.shards.reduce((n, x) => n + x.accepted, 0)).toBe(SYMBOLS.length * PER_SYMBOL);
      expect(s.writer.rowsCommitted).toBe(SYMBOLS.length * PER_SYMBOL);
      expect(s.writer.database.timescale).toBe(true);
      // TimescaleDB drops expired chunks itself: the writer's own DELETE pass stays off.
      expect(s.writer.retention).toEqual({ by: 'timescaledb', retention: '20 days' });
      const health = (await run1.get<{ components: { database: { detail: string } } }>('/health')).body;
      expect(health.components.database.detail).toBe('TimescaleDB');

      const f = await hypertableFacts(run1.db);
      expect(f.hypertables).toEqual([{ compression_enabled: true }]);
      expect(f.dimensions).toEqual([{ column_name: 'time', interval: '1 day' }]);
      expect(f.segmentBy).toEqual(['symbol']);
      expect(f.orderBy).toEqual(['time desc', 'epoch desc', 'seq desc']);
      expect(f.jobs.map((j) => [j.proc_name, j.config.compress_after ?? j.config.drop_after])).toEqual([
        ['policy_compression', '2 days'], ['policy_retention', '20 days'],
      ]);
    } finally {
      await run1.stop();
    }
    const rows = await storedSequences(dep.url);
    expect(sequenceDefects(rows)).toEqual([]);
    expect(rows.map((r) => [r.symbol, r.lo, r.hi, r.n])).toEqual(SYMBOLS.map((s) => [s, 1, PER_SYMBOL, PER_SYMBOL]));

    // The same deployment again: migrations find everything recorded, each symbol continues its epoch.
    const run2 = await startRuntime(cfg, dep);
    try {
      const s = await untilCommitted<Stats>(run2, SYMBOLS.length * PER_SYMBOL);
      expect(s.writer.database.timescale).toBe(true);
    } finally {
      await run2.stop();
    }
    const after = await storedSequences(dep.url);
    expect(sequenceDefects(after)).toEqual([]);
    expect(after.map((r) => [r.symbol, r.epoch, r.lo, r.hi, r.n])).toEqual(rows.map((r) => [r.symbol, r.epoch, 1, 2 * PER_SYMBOL, 2 * PER_SYMBOL]));
    const db = new pg.Pool({ connectionString: dep.url, max: 1 });
    try {
      expect((await db.query('select count(*)::int as n from tickplant_migrations')).rows[0].n).toBe(7);
      expect((await hypertableFacts(db)).hypertables).toHaveLength(1);
    } finally {
      await db.end();
    }
  });
});

// ── history: time_bucket (TimescaleDB) against date_bin (plain PostgreSQL) on identical rows ──

interface Row {
  timeMs: number;
  seq: number;
  epoch: number;
  metrics: (number | null)[];
}

/**
 * `n` rows of one epoch in [fromMs, toMs), seq 1..n, their times out of seq order, every
 * seventh sharing the previous row's millisecond (seq must break the tie), a few NULL metrics.
 */
function makeRows(n: number, fromMs: number, toMs: number, epoch: number, seed: number): Row[] {
  let x = seed;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const rows: Row[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const timeMs = seq % 7 === 0 ? rows[seq - 2].timeMs : fromMs + Math.floor(rand() * (toMs - fromMs));
    const bid = Math.round((100 + rand() * 10) * 1e4) / 1e4;
    const metrics = Array.from({ length: METRIC_COUNT }, (_, m): number | null =>
      rand() < 0.04 ? null : m === 0 ? bid : Math.round((bid * (m + 1) / 7 + rand()) * 1e6) / 1e6);
    rows.push({ timeMs, seq, epoch, metrics });
  }
  return rows;
}

const METRIC_COLUMNS = 'best_bid, best_ask, mid_price, spread, spread_percentage, bid_volume, ask_volume, total_volume, imbalance, microprice';

async function insertRows(db: pg.Pool, symbol: string, rows: Row[]): Promise<void> {
  const col = (m: number) => rows.map((r) => r.metrics[m]);
  await db.query(
    `insert into order_book_data (time, symbol, seq, epoch, ${METRIC_COLUMNS}, bid_levels, ask_levels)
     select timestamptz 'epoch' + t * interval '1 millisecond', $1, s, e, m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, '[]', '[]'
       from unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[],
                   $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::float8[], $14::numeric[])
            as u(t, s, e, m0, m1, m2, m3, m4, m5, m6, m7, m8, m9)`,
    [symbol, rows.map((r) => r.timeMs), rows.map((r) => r.seq), rows.map((r) => r.epoch), ...Array.from({ length: METRIC_COUNT }, (_, m) => col(m))],
  );
}

/** The expected buckets, computed here: per bucket the last row by (time, seq) and the row count. */
function oracle(rows: Row[], fromMs: number, toMs: number, res: number): { bucketMs: number; seq: number; count: number; metrics: (number | null)[] }[] {
  const by = new Map<number, { last: Row; count: number }>();
  for (const r of rows) {
    if (r.timeMs < fromMs || r.timeMs >= toMs) continue;
    const b = Math.floor(r.timeMs / res) * res;
    const cur = by.get(b);
    if (!cur) by.set(b, { last: r, count: 1 });
    else {
      cur.count++;
      if (r.timeMs > cur.last.timeMs || (r.timeMs === cur.last.timeMs && r.seq > cur.last.seq)) cur.last = r;
    }
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([bucketMs, v]) => ({ bucketMs, seq: v.last.seq, count: v.count, metrics: v.last.metrics }));
}

const rowsOf = (h: HistoryRow[]) => h.map((r) => ({ bucketMs: r.bucketMs, seq: r.seq, count: r.count, metrics: [r.best_bid, r.best_ask, r.mid_price, r.spread, r.spread_percentage, r.bid_volume, r.ask_volume, r.total_volume, r.imbalance, r.microprice] }));

type Point = { time: string; seq: number; count: number } & Record<string, number | string | null>;
type History = { resolution_ms: number; points: number; sources: { memory: number; database: number }; data: Point[] };

/** The points of a historical_data answer that came from the database (they precede memory's). */
async function storedPoints(rt: Runtime, path: string): Promise<{ resolutionMs: number; points: Point[] }> {
  const r = await rt.get<History>(path);
  expect(r.status).toBe(200);
  expect(r.body.sources.database).toBeGreaterThan(0);
  return { resolutionMs: r.body.resolution_ms, points: r.body.data.slice(0, r.body.sources.database) };
}

const pointKeys = (points: Point[]) => points.map((p) => [Date.parse(p.time), p.seq, p.count]);

describe('history, compression and retention on TimescaleDB', () => {
  const SYM = `TH${TAG}-USD`;
  let ts: Runtime;
  let plain: Runtime;

  afterAll(async () => {
    await ts?.stop();
    await plain?.stop();
  });

  it('serves the same points as plain PostgreSQL for the same rows, from compressed chunks too; TimescaleDB drops expired chunks; the writer goes on', async () => {
    // "Today" must have begun more than an hour ago in the market's time zone, or the rows of the last hour are not today's.
    const zone = ['UTC', 'Etc/GMT-12'].find((z) => Date.now() - startOfDayMs(Date.now(), z) > 70 * 60_000)!;
    const cfg = {
      symbols: [SYM], simUpdatesPerSecond: 100, shards: 1, historyResolutionMs: 1000, marketTimeZone: zone,
      writerBatchMs: 50, compressAfter: '1 day', retention: '30 days', timescale: 'auto' as const,
    };
    ts = await startRuntime(cfg, await deployment(TIMESCALE_URL));
    plain = await startRuntime(cfg, await deployment());
    expect((await ts.get<Stats>('/stats')).body.writer.database.timescale).toBe(true);
    expect((await plain.get<Stats>('/stats')).body.writer.database.timescale).toBe(false);

    // Rows from before both processes started: the front reads them from the database alone.
    const start = Date.now();
    const recent = makeRows(3000, start - 55 * 60_000, start - 2 * 60_000, 7, 17);
    await insertRows(ts.db, SYM, recent);
    await insertRows(plain.db, SYM, recent);

    for (const path of [`/orderbook/${SYM}/today?resolution=1m`, `/orderbook/${SYM}/history?hours=1`]) {
      const a = await storedPoints(ts, path);
      const b = await storedPoints(plain, path);
      expect(a.points, path).toEqual(b.points);
      expect(pointKeys(a.points), path).toEqual(oracle(recent, 0, start, a.resolutionMs).map((o) => [o.bucketMs, o.seq, o.count]));
    }
    // The front's reads ran TimescaleDB's query: its idle connections still show their last statement.
    const fronts = await ts.db.query(
      "select 1 from pg_stat_activity where pid <> pg_backend_pid() and datname = current_database() and query like '%time\\_bucket($4::float8%'");
    expect(fronts.rowCount).toBeGreaterThan(0);

    // The chunks below must change only when this test runs the policies: the scheduler's runs of
    // this deployment's jobs are switched off (a run it started already finishes first: alter_job
    // waits for the job's lock). Waiting for its first runs instead depends on free background
    // workers, which the server shares with every deployment's jobs.
    const { jobs } = await hypertableFacts(ts.db);
    const jobId = (proc: string) => jobs.find((j) => j.proc_name === proc)!.job_id;
    await ts.db.query(`select alter_job(job_id, scheduled => false) from timescaledb_information.jobs where hypertable_schema = current_schema()`);
    expect((await ts.db.query('select count(*)::int as n from timescaledb_information.job_errors where job_id = any($1) and err_message not like \'%failed to start%\'', [jobs.map((j) => j.job_id)])).rows[0].n).toBe(0);

    // An hour of rows in a chunk past TIMESCALE_COMPRESS_AFTER, and a few past RETENTION.
    const oldHour = Math.floor(start / HOUR) * HOUR - 50 * HOUR;
    const old = makeRows(1500, oldHour, oldHour + HOUR, 5, 29);
    await insertRows(ts.db, SYM, old);
    await insertRows(plain.db, SYM, old);
    const expired = makeRows(50, start - 40 * DAY, start - 40 * DAY + HOUR, 3, 31);
    await insertRows(ts.db, SYM, expired);

    const chunkOf = async (ms: number) => (await ts.db.query<{ chunk_name: string; is_compressed: boolean }>(
      `select chunk_name, is_compressed from timescaledb_information.chunks
        where hypertable_schema = current_schema() and hypertable_name = 'order_book_data'
          and range_start <= to_timestamp($1 / 1000.0) and to_timestamp($1 / 1000.0) < range_end`, [ms])).rows[0];
    expect(await chunkOf(oldHour)).toMatchObject({ is_compressed: false });
    expect(await chunkOf(expired[0].timeMs)).toBeDefined();

    const history = (db: pg.Pool, timescale: boolean, res: number) =>
      queryHistory(db, { symbol: SYM, fromMs: oldHour, toMs: oldHour + HOUR, resolutionMs: res, timescale, limit: 10_000 });
    // A week: time_bucket's own origin (2000-01-03, a Monday) would misplace every bucket; the query passes the Unix epoch.
    const resolutions = [100, 1000, 60_000, HOUR, 7 * DAY];
    const beforeCompression = await Promise.all(resolutions.map((res) => history(ts.db, true, res)));

    const committed = (await ts.get<Stats>('/stats')).body.writer.rowsCommitted;
    await ts.db.query(`call run_job(${jobId('policy_compression')})`);
    const compressedAt = Date.now();
    expect(await chunkOf(oldHour)).toMatchObject({ is_compressed: true });
    expect(await chunkOf(start)).toMatchObject({ is_compressed: false }); // today's chunk is younger than 1 day

    // The compressed chunk answers time_bucket + last() as before, and as date_bin does on plain PostgreSQL.
    for (const [i, res] of resolutions.entries()) {
      const after = await history(ts.db, true, res);
      expect(after, `${res} ms`).toEqual(beforeCompression[i]);
      expect(rowsOf(after), `${res} ms`).toEqual(oracle(old, oldHour, oldHour + HOUR, res));
      expect(after, `${res} ms`).toEqual(await history(plain.db, false, res));
    }
    // Through the runtime: the first read of those hours, on both servers.
    const a = await storedPoints(ts, `/orderbook/${SYM}/history?hours=52`);
    const b = await storedPoints(plain, `/orderbook/${SYM}/history?hours=52`);
    expect(a.points).toEqual(b.points);
    const inOldHour = (p: Point) => Date.parse(p.time) >= oldHour && Date.parse(p.time) < oldHour + HOUR;
    expect(pointKeys(a.points.filter(inOldHour))).toEqual(oracle(old, oldHour, oldHour + HOUR, a.resolutionMs).map((o) => [o.bucketMs, o.seq, o.count]));

    // A replayed batch (the journal after a long outage) still collides inside a compressed
    // chunk, and a new row still goes into it.
    const client = await ts.db.connect();
    try {
      await expect(copyBatch(client, copyRows(SYM, [old[0]]), [])).rejects.toMatchObject({ code: '23505' });
      await copyBatch(client, copyRows(SYM, [{ ...old[0], seq: old.length + 1 }]), []);
    } finally {
      client.release();
    }
    expect((await ts.db.query('select count(*)::int as n from order_book_data where symbol = $1 and epoch = 5', [SYM])).rows[0].n).toBe(old.length + 1);

    // The writer goes on committing the live stream after the compression.
    const s = await untilCommitted<Stats>(ts, committed + 100);
    expect(s.writer.retention).toEqual({ by: 'timescaledb', retention: '30 days' });
    const newest = await ts.db.query<{ ms: number }>(
      "select (extract(epoch from max(time)) * 1000)::float8 as ms from order_book_data where symbol = $1 and epoch not in (3, 5, 7)", [SYM]);
    expect(newest.rows[0].ms).toBeGreaterThan(compressedAt - 1000);

    // Retention: the chunk past RETENTION is dropped whole; nothing younger is touched.
    await ts.db.query(`call run_job(${jobId('policy_retention')})`);
    expect(await chunkOf(expired[0].timeMs)).toBeUndefined();
    const byEpoch = await ts.db.query<{ epoch: string; n: number }>(
      'select epoch, count(*)::int as n from order_book_data where symbol = $1 and epoch in (3, 5, 7) group by epoch order by epoch', [SYM]);
    expect(byEpoch.rows.map((r) => [Number(r.epoch), r.n])).toEqual([[5, old.length + 1], [7, recent.length]]);
    expect(sequenceDefects(await storedSequences(ts.cfg.databaseUrl!))).toEqual([]);
    // On plain PostgreSQL the writer's own pass does this job.
    expect((await plain.get<Stats>('/stats')).body.writer.retention).toMatchObject({ by: 'writer', retention: '30 days' });
  });
});

/** COPY bytes of `rows` as the writer encodes them (a store slot per row, no book levels). */
function copyRows(symbol: string, rows: Row[]): Buffer {
  const depth = 1;
  const f = new Float64Array(rawRecordFields(depth));
  const enc = new CopyRowEncoder();
  for (const r of rows) {
    f[R_SEQ] = r.seq;
    f[R_EPOCH] = r.epoch;
    f[R_FEED_TS] = r.timeMs;
    f[R_EXCHANGE_TS] = r.timeMs;
    for (let m = 0; m < METRIC_COUNT; m++) f[R_METRICS + m] = r.metrics[m] ?? NaN;
    f[R_BID_COUNT] = 0;
    f[R_ASK_COUNT] = 0;
    enc.append(symbol, f, 0, depth);
  }
  return enc.bytes();
}

describe('TIMESCALEDB=on and off', () => {
  it("'on' against a server without TimescaleDB stops start-up with one message naming the option", async () => {
    const dep = await deployment(); // the plain PostgreSQL of DATABASE_URL
    const started = await startRuntime({ symbols: [`TON${TAG}`], shards: 1, timescale: 'on' }, dep).then((rt) => rt, (e: unknown) => e as Error);
    if (!(started instanceof Error)) await started.stop();
    expect(started).toBeInstanceOf(Error);
    expect((started as Error).message).toMatch(/^TIMESCALEDB=on, but the timescaledb extension is not available .*set TIMESCALEDB=auto$/);
  });

  it("'off' on the TimescaleDB server keeps a plain table, with the writer's retention pass", async () => {
    const rt = await startRuntime({ symbols: [`TOFF${TAG}`], simUpdatesPerSecond: 100, shards: 1, timescale: 'off' }, await deployment(TIMESCALE_URL));
    try {
      const s = await untilCommitted<Stats>(rt, 10);
      expect(s.writer.database.timescale).toBe(false);
      expect(s.writer.retention).toMatchObject({ by: 'writer' });
      expect((await hypertableFacts(rt.db)).hypertables).toEqual([]);
      const brin = await rt.db.query("select 1 from pg_indexes where schemaname = current_schema() and indexname = 'order_book_data_time_brin'");
      expect(brin.rowCount).toBe(1);
    } finally {
      await rt.stop();
    }
  });

  it("a search_path without the extension's schema is refused with a message naming both, before any DDL", async () => {
    const dep = await deployment(TIMESCALE_URL);
    // The deployment's own schema alone: the extension is in public (createDeployment put it there).
    const db = new pg.Pool({ connectionString: TIMESCALE_URL, options: `-c search_path=${dep.schema}`, max: 1 });
    try {
      await expect(migrate(db, { timescale: 'auto', compressAfter: '1 day', retention: '30 days' })).rejects.toMatchObject({
        code: 'store_timescale_search_path',
        message: expect.stringMatching(new RegExp(`schema "public", which this connection's search_path \\(${dep.schema}\\) does not name`)),
      });
      expect((await db.query("select count(*)::int as n from pg_tables where schemaname = current_schema()")).rows[0].n).toBe(0);
    } finally {
      await db.end();
    }
  });
});
