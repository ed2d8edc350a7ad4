// The store against the real PostgreSQL of the machine: migrations, COPY batches, progress, history, retention.
// Needs PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); each run
// works in its own schemas (tp_test_<random>…), dropped at the end. Unreachable: the file fails.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  METRIC_COUNT, METRIC_NAMES, R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_LEVELS, R_METRICS, R_SEQ,
  rawRecordFields,
} from '../../src/ring/layout.js';
import { type BatchProgress, copyBatch, loadLastRow, loadProgress } from '../../src/store/copy-batch.js';
import { queryHistory } from '../../src/store/history-query.js';
import { applyRetention, migrate } from '../../src/store/migrations.js';
import { CopyRowEncoder } from '../../src/store/row-encoder.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const OPTS = { timescale: 'auto', compressAfter: '1 day', retention: '30 days' } as const;
const PREFIX = `tp_test_${randomBytes(4).toString('hex')}`;
const DEPTH = 4;

let admin: pg.Pool;
let pool: pg.Pool;
const pools: pg.Pool[] = [];
const schemas: string[] = [];

/** A pool whose sessions see only a fresh schema. */
async function schemaPool(suffix: string): Promise<pg.Pool> {
  const schema = `${PREFIX}${suffix}`;
  await admin.query(`create schema ${schema}`);
  schemas.push(schema);
  const p = new pg.Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}`, max: 4 });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2, connectionTimeoutMillis: 5000 });
  try {
    await admin.query('select 1');
  } catch (err) {
    // Never a skip: without the database this file has tested nothing (in CI or not).
    throw new Error(`PostgreSQL is unreachable at ${DATABASE_URL} (${(err as Error).message}); start it or set DATABASE_URL${process.env.CI ? ' (CI requires it)' : ''}`);
  }
  pool = await schemaPool('');
});

afterAll(async () => {
  for (const p of pools) await p.end();
  if (admin) {
    for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
    await admin.end();
  }
});

interface Rec {
  seq: number;
  epoch?: number;
  timeMs: number; // the exchange timestamp
  metrics?: number[];
  bids?: [number, number][];
  asks?: [number, number][];
}

/** Raw records (layout.ts R_*) laid out one slot after another, as in a store's raw ring. */
function records(recs: Rec[]): Float64Array {
  const fields = rawRecordFields(DEPTH);
  const f = new Float64Array(recs.length * fields);
  recs.forEach((r, k) => {
    const b = k * fields;
    f[b + R_SEQ] = r.seq;
    f[b + R_EPOCH] = r.epoch ?? 1000;
    f[b + R_FEED_TS] = r.timeMs + 5;
    f[b + R_EXCHANGE_TS] = r.timeMs;
    const m = r.metrics ?? [100, 101, 100.5, 1, 0.995, 10, 20, 30, -0.33, 100.66];
    for (let i = 0; i < METRIC_COUNT; i++) f[b + R_METRICS + i] = m[i];
    const bids = r.bids ?? [[100, 10]];
    const asks = r.asks ?? [[101, 20]];
    f[b + R_BID_COUNT] = bids.length;
    f[b + R_ASK_COUNT] = asks.length;
    bids.forEach(([p, s], i) => { f[b + R_LEVELS + 2 * i] = p; f[b + R_LEVELS + 2 * i + 1] = s; });
    asks.forEach(([p, s], i) => { f[b + R_LEVELS + 2 * DEPTH + 2 * i] = p; f[b + R_LEVELS + 2 * DEPTH + 2 * i + 1] = s; });
  });
  return f;
}

/** Encodes and commits rows of one symbol in one batch; progress is the last row's. */
async function store(p: pg.Pool, symbol: string, recs: Rec[], progress?: BatchProgress[]): Promise<void> {
  const enc = new CopyRowEncoder(256);
  const f = records(recs);
  for (let k = 0; k < recs.length; k++) enc.append(symbol, f, k * rawRecordFields(DEPTH), DEPTH);
  const last = recs[recs.length - 1];
  const client = await p.connect();
  try {
    await copyBatch(client, enc.bytes(), progress ?? [{ symbol, epoch: last.epoch ?? 1000, lastSeq: last.seq, lastTimeMs: last.timeMs }]);
    client.release();
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
}

const count = async (p: pg.Pool, symbol: string): Promise<number> =>
  Number((await p.query('select count(*) from order_book_data where symbol = $1', [symbol])).rows[0].count);

/** The committed progress of `symbol`, read from ingest_progress: epoch → last_seq. */
async function progressRows(p: pg.Pool, symbol: string): Promise<Map<number, number>> {
  const r = await p.query<{ epoch: string; last_seq: string }>('select epoch, last_seq from ingest_progress where symbol = $1', [symbol]);
  return new Map(r.rows.map((row) => [Number(row.epoch), Number(row.last_seq)]));
}

describe('migrate', () => {
  it('applies every migration once, then nothing; plain PostgreSQL here', async () => {
    const first = await migrate(pool, OPTS);
    expect(first).toEqual({ timescale: false, applied: [1, 2, 3, 4, 5, 6, 7] });
    expect(await migrate(pool, OPTS)).toEqual({ timescale: false, applied: [] });
    const ids = await pool.query('select id, name from tickplant_migrations order by id');
    expect(ids.rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const indexes = (await pool.query("select indexname from pg_indexes where tablename = 'order_book_data' and schemaname = current_schema()")).rows.map((r) => r.indexname);
    expect(indexes).toEqual(expect.arrayContaining([
      'order_book_data_symbol_epoch_seq_time_key', 'order_book_data_symbol_time_idx', 'order_book_data_time_brin',
    ]));
    // Plain PostgreSQL: a trade is unique by (symbol, trade_id) alone.
    const tradeIndexes = (await pool.query("select indexname from pg_indexes where tablename = 'trades' and schemaname = current_schema() order by indexname")).rows.map((r) => r.indexname);
    expect(tradeIndexes).toEqual(['trades_symbol_time_idx', 'trades_symbol_trade_id_key', 'trades_time_brin']);
  });

  it('two processes migrating at once do not fail, and only one applies', async () => {
    const a = await schemaPool('_c');
    // Same schema, separate pools: separate sessions, as two processes would have.
    const b = new pg.Pool({ connectionString: DATABASE_URL, options: `-c search_path=${PREFIX}_c`, max: 2 });
    pools.push(b);
    const [ra, rb] = await Promise.all([migrate(a, OPTS), migrate(b, OPTS)]);
    expect([ra.applied, rb.applied].sort((x, y) => y.length - x.length)).toEqual([[1, 2, 3, 4, 5, 6, 7], []]);
    expect((await a.query('select count(*)::int as n from tickplant_migrations')).rows[0].n).toBe(7);
  });

  it("refuses timescale 'on' without the extension, and bad intervals naming the option", async () => {
    await expect(migrate(pool, { ...OPTS, timescale: 'on' })).rejects.toMatchObject({ code: 'store_timescale_unavailable' });
    await expect(migrate(pool, { ...OPTS, retention: 'thirty days' })).rejects.toThrow(/retention must be a PostgreSQL interval/);
    await expect(migrate(pool, { ...OPTS, compressAfter: '-1 day' })).rejects.toThrow(/compressAfter must be a positive interval/);
  });
});

describe('copyBatch', () => {
  it('round-trips CopyRowEncoder rows: values, NaN as NULL, JSONB levels, time', async () => {
    const t = Date.UTC(2024, 4, 6, 7, 8, 9, 123);
    const recs: Rec[] = [
      { seq: 1, timeMs: t, metrics: [65000.12345678, 65001.5, 65000.812345, 1.37654322, 0.0021, 1.5, 2.25, 3.75, 0.2, 65000.9], bids: [[65000.12345678, 1.5], [64999, 0.001]], asks: [[65001.5, 2.25]] },
      { seq: 2, timeMs: t + 1, metrics: [NaN, 65001.5, NaN, NaN, NaN, 0, 2.25, 2.25, NaN, NaN], bids: [], asks: [[65001.5, 2.25], [65002, 1], [65003, 7], [65004, 9]] },
    ];
    await store(pool, 'RT-USD', recs);
    const r = await pool.query(`select time, symbol, ${METRIC_NAMES.join(', ')}, bid_levels, ask_levels, seq, epoch, created_at
                                  from order_book_data where symbol = 'RT-USD' order by seq`);
    expect(r.rows).toHaveLength(2);
    const [a, b] = r.rows;
    expect((a.time as Date).toISOString()).toBe('2024-05-06T07:08:09.123Z');
    expect((b.time as Date).getTime()).toBe(t + 1);
    METRIC_NAMES.forEach((m, i) => expect(a[m] === null ? null : Number(a[m])).toBe(recs[0].metrics![i]));
    expect(a.best_bid).toBe('65000.1234567800'); // numeric(24,10): exact, as written
    expect([b.best_bid, b.mid_price, b.spread, b.spread_percentage, b.imbalance, b.microprice]).toEqual([null, null, null, null, null, null]);
    expect(Number(b.bid_volume)).toBe(0);
    expect(a.bid_levels).toEqual(recs[0].bids);
    expect(a.ask_levels).toEqual(recs[0].asks);
    expect(b.bid_levels).toEqual([]);
    expect(b.ask_levels).toEqual(recs[1].asks);
    expect([a.seq, a.epoch]).toEqual(['1', '1000']);
    expect(a.created_at).toBeInstanceOf(Date);
  });

  it('rolls a batch that violates the unique index back entirely, progress unchanged, client reusable', async () => {
    const t = Date.UTC(2024, 4, 6, 8);
    await store(pool, 'DUP-USD', [{ seq: 1, timeMs: t }, { seq: 2, timeMs: t + 1 }]);
    expect(await progressRows(pool, 'DUP-USD')).toEqual(new Map([[1000, 2]]));

    const enc = new CopyRowEncoder();
    const f = records([{ seq: 3, timeMs: t + 2 }, { seq: 3, timeMs: t + 2 }]); // the same update twice
    enc.append('DUP-USD', f, 0, DEPTH);
    enc.append('DUP-USD', f, rawRecordFields(DEPTH), DEPTH);
    const client = await pool.connect();
    try {
      await expect(copyBatch(client, enc.bytes(), [{ symbol: 'DUP-USD', epoch: 1000, lastSeq: 3, lastTimeMs: t + 2 }]))
        .rejects.toMatchObject({ code: '23505' }); // unique_violation
      // ROLLBACK ran: the session is out of the failed transaction and takes the next batch.
      expect((await client.query('select 1 as ok')).rows[0].ok).toBe(1);
      enc.reset();
      enc.append('DUP-USD', f, 0, DEPTH);
      await copyBatch(client, enc.bytes(), [{ symbol: 'DUP-USD', epoch: 1000, lastSeq: 3, lastTimeMs: t + 2 }]);
    } finally {
      client.release();
    }
    expect(await count(pool, 'DUP-USD')).toBe(3);
    expect(await progressRows(pool, 'DUP-USD')).toEqual(new Map([[1000, 3]]));
  });

  it('a replayed batch collides with the committed rows and changes nothing', async () => {
    const t = Date.UTC(2024, 4, 6, 9);
    await store(pool, 'REPLAY', [{ seq: 1, timeMs: t }, { seq: 2, timeMs: t + 1 }]);
    await expect(store(pool, 'REPLAY', [{ seq: 2, timeMs: t + 1 }, { seq: 3, timeMs: t + 2 }])).rejects.toMatchObject({ code: '23505' });
    expect(await count(pool, 'REPLAY')).toBe(2);
    expect((await loadProgress(pool)).get('REPLAY')).toEqual({ epoch: 1000, lastSeq: 2, lastTimeMs: t + 1 });
  });

  it('writes payloads far larger than one 256 KiB slice (backpressure path)', async () => {
    const n = 5000;
    const t = Date.UTC(2024, 4, 7);
    const recs = Array.from({ length: n }, (_, k): Rec => ({
      seq: k + 1, timeMs: t + k,
      bids: [[100, 1], [99, 2], [98, 3], [97, 4]], asks: [[101, 1], [102, 2], [103, 3], [104, 4]],
    }));
    await store(pool, 'BIG', recs);
    expect(await count(pool, 'BIG')).toBe(n);
  });

  it('upserts progress: one row per (symbol, epoch), never backwards, duplicates in a batch allowed', async () => {
    const client = await pool.connect();
    try {
      await copyBatch(client, Buffer.alloc(0), [
        { symbol: 'P1', epoch: 10, lastSeq: 5, lastTimeMs: 1_000 },
        { symbol: 'P1', epoch: 10, lastSeq: 7, lastTimeMs: 3_000 }, // same key twice in one batch
        { symbol: 'P1', epoch: 10, lastSeq: 6, lastTimeMs: 2_000 },
        { symbol: 'P2', epoch: 10, lastSeq: 1, lastTimeMs: 500.5 },
      ]);
      await copyBatch(client, Buffer.alloc(0), [{ symbol: 'P1', epoch: 10, lastSeq: 4, lastTimeMs: 900 }]); // late and older
      await copyBatch(client, Buffer.alloc(0), [{ symbol: 'P1', epoch: 20, lastSeq: 2, lastTimeMs: 9_000 }]); // a new epoch
    } finally {
      client.release();
    }
    const progress = await loadProgress(pool);
    expect(progress.get('P1')).toEqual({ epoch: 20, lastSeq: 2, lastTimeMs: 9_000 }); // the latest epoch
    expect(progress.get('P2')).toEqual({ epoch: 10, lastSeq: 1, lastTimeMs: 500.5 });
    expect(await progressRows(pool, 'P1')).toEqual(new Map([[10, 7], [20, 2]]));
    expect(await progressRows(pool, 'P2')).toEqual(new Map([[10, 1]]));
    const t = await pool.query("select (extract(epoch from last_time) * 1000)::float8 as ms from ingest_progress where symbol = 'P1' and epoch = 10");
    expect(t.rows[0].ms).toBe(3_000);
  });

  it('loadLastRow returns the stored book of one update, or undefined', async () => {
    const t = Date.UTC(2024, 4, 8, 1, 2, 3, 4);
    await store(pool, 'LAST', [
      { seq: 1, epoch: 77, timeMs: t, bids: [[10, 1]], asks: [[11, 1]] },
      { seq: 2, epoch: 77, timeMs: t + 10, bids: [[10.5, 2], [10, 3]], asks: [[11, 4], [11.5, 5], [12, 6]] },
    ]);
    expect(await loadLastRow(pool, 'LAST', 77, 2)).toEqual({ bids: [[10.5, 2], [10, 3]], asks: [[11, 4], [11.5, 5], [12, 6]], timeMs: t + 10 });
    expect(await loadLastRow(pool, 'LAST', 77, 3)).toBeUndefined();
    expect(await loadLastRow(pool, 'LAST', 78, 2)).toBeUndefined();
  });

  it('rejects with the connection error, not a rollback error, when the connection died', async () => {
    const client = await pool.connect();
    const seen: Error[] = [];
    client.on('error', (e) => seen.push(e)); // the server's FATAL arrives while the client is idle
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
    await admin.query('select pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 200));
    const enc = new CopyRowEncoder();
    enc.append('DEAD', records([{ seq: 1, timeMs: Date.UTC(2024, 0, 1) }]), 0, DEPTH);
    const err = await copyBatch(client, enc.bytes(), []).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).not.toBe('store_rollback_failed');
    client.release(err);
    expect(seen.length).toBeGreaterThan(0);
    expect(await count(pool, 'DEAD')).toBe(0);
  });
});

describe('copyBatch when the connection drops mid-COPY', () => {
  it('rejects, stores nothing, and does not crash the process with an unhandled client error', async () => {
    const n = 100_000; // ~30 MB: still streaming when the backend is terminated
    const t = Date.UTC(2024, 6, 1);
    const enc = new CopyRowEncoder();
    const f = records([{ seq: 1, timeMs: t, bids: [[1, 1], [2, 2], [3, 3], [4, 4]], asks: [[5, 5], [6, 6], [7, 7], [8, 8]] }]);
    for (let k = 1; k <= n; k++) {
      f[R_SEQ] = k;
      f[R_EXCHANGE_TS] = t + k;
      enc.append('DROP', f, 0, DEPTH);
    }
    const client = await pool.connect();
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
    const batch = copyBatch(client, enc.bytes(), [{ symbol: 'DROP', epoch: 1000, lastSeq: n, lastTimeMs: t + n }]);
    await new Promise((r) => setTimeout(r, 30));
    await admin.query('select pg_terminate_backend($1)', [pid]);
    const err = await batch.then(() => undefined, (e: unknown) => e as Error & { code?: string });
    client.release(err ?? true);
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).not.toBe('store_rollback_failed');
    expect(await count(pool, 'DROP')).toBe(0);
    expect(await progressRows(pool, 'DROP')).toEqual(new Map());
  });
});

describe('queryHistory (plain PostgreSQL)', () => {
  const T0 = Date.UTC(2024, 5, 1, 12, 0, 0); // a bucket boundary at every resolution used here
  const m = (x: number): number[] => [x, x + 1, x + 0.5, 1, 1 / (x + 0.5), x * 10, x * 20, x * 30, 0.25, x + 0.6];

  beforeAll(async () => {
    // Bucket 0: four rows, two sharing the last millisecond (seq breaks the tie), one from
    // an earlier epoch; bucket 1: empty; bucket 2: one row; bucket 3: two rows, arriving out of order.
    await store(pool, 'HIST', [
      { seq: 8, epoch: 500, timeMs: T0 + 100, metrics: m(1) },
      { seq: 1, epoch: 600, timeMs: T0 + 200, metrics: m(2) },
      { seq: 2, epoch: 600, timeMs: T0 + 999, metrics: m(3) },
      { seq: 3, epoch: 600, timeMs: T0 + 999, metrics: m(4) },
      { seq: 4, epoch: 600, timeMs: T0 + 2000, metrics: m(5) },
      { seq: 6, epoch: 600, timeMs: T0 + 3900, metrics: m(7) },
      { seq: 5, epoch: 600, timeMs: T0 + 3100, metrics: m(6) },
    ]);
    await store(pool, 'OTHER', [{ seq: 1, epoch: 600, timeMs: T0 + 500, metrics: m(99) }]);
  });

  const q = (over: Partial<Parameters<typeof queryHistory>[1]> = {}) =>
    queryHistory(pool, { symbol: 'HIST', fromMs: T0, toMs: T0 + 10_000, resolutionMs: 1000, timescale: false, limit: 100, ...over });

  it('returns one row per non-empty bucket, in order, with the last update\'s metrics and the count', async () => {
    const rows = await q();
    expect(rows.map((r) => [r.bucketMs - T0, r.count, r.seq, r.epoch])).toEqual([
      [0, 4, 3, 600], [2000, 1, 4, 600], [3000, 2, 6, 600],
    ]);
    const expected = m(4);
    METRIC_NAMES.forEach((name, i) => expect(rows[0][name]).toBeCloseTo(expected[i], 8));
    expect(typeof rows[0].best_bid).toBe('number');
    expect(rows[2].best_bid).toBe(7);
  });

  it('coarser buckets fold more rows', async () => {
    const rows = await q({ resolutionMs: 60_000 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ bucketMs: T0, count: 7, seq: 6, best_bid: 7 });
  });

  it('bounds: fromMs inclusive, toMs exclusive, limit keeps the earliest buckets', async () => {
    expect((await q({ fromMs: T0 + 999 })).map((r) => [r.bucketMs - T0, r.count])).toEqual([[0, 2], [2000, 1], [3000, 2]]);
    expect((await q({ toMs: T0 + 3900 })).map((r) => [r.bucketMs - T0, r.count, r.seq])).toEqual([[0, 4, 3], [2000, 1, 4], [3000, 1, 5]]);
    expect((await q({ limit: 2 })).map((r) => r.bucketMs - T0)).toEqual([0, 2000]);
    expect(await q({ fromMs: T0 + 5000 })).toEqual([]);
    expect(await q({ symbol: 'NOPE' })).toEqual([]);
  });

  it('keeps NULL metrics as null', async () => {
    await store(pool, 'NULLS', [{ seq: 1, timeMs: T0, metrics: [NaN, 2, NaN, NaN, NaN, 0, 1, 1, NaN, NaN] }]);
    const [row] = await queryHistory(pool, { symbol: 'NULLS', fromMs: T0, toMs: T0 + 1, resolutionMs: 1000, timescale: false, limit: 10 });
    expect(row).toMatchObject({ best_bid: null, best_ask: 2, imbalance: null, bid_volume: 0 });
  });

  it('rejects bad resolution and limit naming them', async () => {
    await expect(q({ resolutionMs: 0 })).rejects.toThrow(/resolutionMs/);
    await expect(q({ limit: 1.5 })).rejects.toThrow(/limit/);
  });
});

describe('applyRetention', () => {
  it('deletes only rows older than the interval, in batches', async () => {
    const p = await schemaPool('_r');
    await migrate(p, OPTS);
    const now = Date.now();
    const day = 86_400_000;
    await store(p, 'RET', [
      ...Array.from({ length: 5 }, (_, k): Rec => ({ seq: k + 1, timeMs: now - 40 * day + k })),
      { seq: 6, timeMs: now - 29 * day },
      { seq: 7, timeMs: now - 1000 },
    ]);
    expect(await applyRetention(p, '30 days', 2)).toBe(5);
    const left = await p.query("select seq::int from order_book_data where symbol = 'RET' order by seq");
    expect(left.rows.map((r) => r.seq)).toEqual([6, 7]);
    expect(await applyRetention(p, '30 days')).toBe(0);
    await expect(applyRetention(p, 'soon')).rejects.toThrow(RangeError);
  });
});
