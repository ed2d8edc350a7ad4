// The trades table on the real TimescaleDB server (TIMESCALE_URL, started by ../shared/timescaledb/setup.sh):
// a hypertable with order_book_data's policies, every trade stored once (compressed chunks included),
// and a database that migration 3 left plain keeps a plain trades table.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBatch } from '../../src/store/copy-batch.js';
import { migrate } from '../../src/store/migrations.js';
import { readTrades } from '../../src/store/trade-query.js';
import { TradeRowEncoder } from '../../src/store/trade-row-encoder.js';
import { TIMESCALE_URL, createDeployment } from '../helpers/runtime.js';
import { EPOCH, type TradeSpec, tradeRecord } from '../helpers/trade-records.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const OPTS = { timescale: 'auto', compressAfter: '2 days', retention: '20 days' } as const;
const HOUR = 3_600_000;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const c = new pg.Client({ connectionString: TIMESCALE_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.end();
  } catch (e) {
    throw new Error(`TimescaleDB is unreachable at TIMESCALE_URL=${TIMESCALE_URL} (${(e as Error).message}): run ../shared/timescaledb/setup.sh or set TIMESCALE_URL`);
  }
});

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function timescalePool(): Promise<pg.Pool> {
  const d = await createDeployment(TIMESCALE_URL);
  cleanup.push(() => d.drop());
  const p = new pg.Pool({ connectionString: d.url, max: 2 });
  cleanup.push(() => p.end());
  return p;
}

async function copyTrades(p: pg.Pool, symbol: string, trades: TradeSpec[]): Promise<number> {
  const enc = new TradeRowEncoder();
  for (const t of trades) enc.append(symbol, tradeRecord(t), 0);
  const client = await p.connect();
  try {
    return (await copyBatch(client, Buffer.alloc(0), [], Buffer.from(enc.bytes()))).tradesStored;
  } finally {
    client.release();
  }
}

const hypertables = async (p: pg.Pool) => (await p.query<{ hypertable_name: string; compression_enabled: boolean }>(
  `select hypertable_name, compression_enabled from timescaledb_information.hypertables
    where hypertable_schema = current_schema() order by hypertable_name`)).rows;

describe('trades on TimescaleDB', () => {
  it('is a hypertable on time with order_book_data\'s compression and retention, unique by (symbol, trade_id, time); a duplicate is stored once, compressed chunks included', async () => {
    const p = await timescalePool();
    expect(await migrate(p, OPTS)).toEqual({ timescale: true, applied: [1, 2, 3, 4, 5, 6, 7] });
    expect(await hypertables(p)).toEqual([
      { hypertable_name: 'order_book_data', compression_enabled: true }, { hypertable_name: 'trades', compression_enabled: true },
    ]);
    const dims = await p.query(`select column_name, time_interval::text as interval from timescaledb_information.dimensions
                                 where hypertable_schema = current_schema() and hypertable_name = 'trades'`);
    expect(dims.rows).toEqual([{ column_name: 'time', interval: '1 day' }]);
    const jobs = await p.query<{ proc_name: string; config: Record<string, unknown> }>(
      `select proc_name, config from timescaledb_information.jobs
        where hypertable_schema = current_schema() and hypertable_name = 'trades' order by proc_name`);
    expect(jobs.rows.map((j) => [j.proc_name, j.config.compress_after ?? j.config.drop_after])).toEqual([
      ['policy_compression', '2 days'], ['policy_retention', '20 days'],
    ]);
    const indexes = await p.query<{ indexname: string; indexdef: string }>(
      "select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = 'trades' order by indexname");
    expect(indexes.rows.map((r) => r.indexname)).toEqual(['trades_symbol_time_idx', 'trades_symbol_trade_id_time_key']);
    expect(indexes.rows[1].indexdef).toMatch(/UNIQUE INDEX .* \(symbol, trade_id, "time"\)/);

    const S = `TT${TAG}`;
    const now = Date.now();
    // Trade tN happened at the exchange at now - 60 s + N ms; a replay repeats its id and its time, under a new seq.
    const live = (seq: number, n = seq): TradeSpec => ({ seq, id: `t${n}`, timeMs: now - 60_000 + n });
    expect(await copyTrades(p, S, [live(1), live(2), live(3, 1)])).toBe(2); // twice in one batch
    expect(await copyTrades(p, S, [live(4, 2), live(5)])).toBe(1); // again in a later batch (an exchange's replay)

    // A trade of a chunk past TIMESCALE_COMPRESS_AFTER, compressed, then replayed: still once; a new one still goes in.
    const oldMs = Math.floor(now / HOUR) * HOUR - 50 * HOUR;
    expect(await copyTrades(p, S, [{ seq: 1, epoch: EPOCH - 1, id: 'old1', timeMs: oldMs }, { seq: 2, epoch: EPOCH - 1, id: 'old2', timeMs: oldMs + 1 }])).toBe(2);
    const chunk = (await p.query<{ chunk: string }>(
      `select format('%I.%I', chunk_schema, chunk_name) as chunk from timescaledb_information.chunks
        where hypertable_schema = current_schema() and hypertable_name = 'trades'
          and range_start <= to_timestamp($1 / 1000.0) and to_timestamp($1 / 1000.0) < range_end`, [oldMs])).rows[0].chunk;
    await p.query('select compress_chunk($1)', [chunk]);
    expect((await p.query('select is_compressed from timescaledb_information.chunks where format(\'%I.%I\', chunk_schema, chunk_name) = $1', [chunk])).rows[0].is_compressed).toBe(true);
    expect(await copyTrades(p, S, [{ seq: 3, epoch: EPOCH - 1, id: 'old1', timeMs: oldMs }, { seq: 4, epoch: EPOCH - 1, id: 'old3', timeMs: oldMs + 2 }])).toBe(1);

    const all = await readTrades(p, S, oldMs - HOUR, now, 100);
    expect(all.map((t) => [t.trade_id, t.epoch, t.seq])).toEqual([
      ['old1', EPOCH - 1, 1], ['old2', EPOCH - 1, 2], ['old3', EPOCH - 1, 4], ['t1', EPOCH, 1], ['t2', EPOCH, 2], ['t5', EPOCH, 5],
    ]);
  });

  it('a database migration 3 left plain gets a plain trades table, though TimescaleDB is available now', async () => {
    const p = await timescalePool();
    expect((await migrate(p, { ...OPTS, timescale: 'off' })).timescale).toBe(false);
    // As a database migrated before trades existed: migration 5 is not recorded yet.
    await p.query('drop table trades; delete from tickplant_migrations where id = 5');
    expect(await migrate(p, OPTS)).toEqual({ timescale: false, applied: [5] });
    expect(await hypertables(p)).toEqual([]);
    const unique = await p.query("select 1 from pg_indexes where schemaname = current_schema() and indexname = 'trades_symbol_trade_id_key'");
    expect(unique.rowCount).toBe(1);
    expect(await copyTrades(p, `TP${TAG}`, [{ seq: 1 }, { seq: 2, id: 't1', timeMs: Date.now() }])).toBe(1); // plain: (symbol, trade_id) alone
  });
});
