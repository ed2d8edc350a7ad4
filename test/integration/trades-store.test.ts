// Trades persisted by the writer against the real PostgreSQL and Redis: every trade stored exactly once
// (twice in a batch, in two batches, re-sent by a restarted shard, replayed by the exchange), a batch of
// trades only through an outage and the journal, a journal of the first format, Redis's capped list,
// and the stored-trades reads. The writer runs in this process; trade rows are queued as a shard does.
import { MessageChannel } from 'node:worker_threads';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { BatchBuilder } from '../../src/actors/writer/batch.js';
import { encodeJournalRecord } from '../../src/actors/writer/journal-record.js';
import type { WriterStats } from '../../src/actors/writer/messages.js';
import { WriterActor } from '../../src/actors/writer/writer.js';
import { R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_FEED_TS, R_SEQ, rawRecordBytes, rawRecordFields } from '../../src/ring/layout.js';
import { QueueProducer, createQueueBuffer } from '../../src/ring/spsc.js';
import { copyBatch } from '../../src/store/copy-batch.js';
import { Journal } from '../../src/store/journal.js';
import { applyRetention, migrate } from '../../src/store/migrations.js';
import { redisConnectionCounter } from '../../src/store/redis-connections.js';
import { CopyRowEncoder } from '../../src/store/row-encoder.js';
import { readRecentTradesRedis, readTrades } from '../../src/store/trade-query.js';
import { TradeRowEncoder } from '../../src/store/trade-row-encoder.js';
import { DATABASE_URL, REDIS_URL, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { EPOCH, T0, type TradeSpec, formatOneRecord, queueTrade, tradeRecord } from '../helpers/trade-records.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const OPTS = { timescale: 'auto', compressAfter: '1 day', retention: '30 days' } as const;
const DEPTH = 2;
type Deployment = Awaited<ReturnType<typeof createDeployment>>;
const cleanup: (() => Promise<unknown>)[] = [];
const redis = new Redis(REDIS_URL);

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  redis.disconnect();
});

async function deployment(): Promise<Deployment> {
  const d = await createDeployment();
  cleanup.push(() => d.drop());
  return d;
}

async function migratedPool(d: Deployment): Promise<pg.Pool> {
  const p = new pg.Pool({ connectionString: d.url, max: 2 });
  cleanup.push(() => p.end());
  await migrate(p, OPTS);
  return p;
}

const tradeRows = (trades: [string, TradeSpec][]): Buffer => {
  const enc = new TradeRowEncoder();
  for (const [symbol, t] of trades) enc.append(symbol, tradeRecord(t), 0);
  return Buffer.from(enc.bytes());
};

function bookRows(symbol: string, seqs: number[]): Buffer {
  const f = new Float64Array(rawRecordFields(DEPTH));
  const enc = new CopyRowEncoder();
  for (const seq of seqs) {
    f[R_SEQ] = seq;
    f[R_EPOCH] = EPOCH;
    f[R_FEED_TS] = T0 + seq;
    f[R_BID_COUNT] = 0;
    f[R_ASK_COUNT] = 0;
    enc.append(symbol, f, 0, DEPTH);
  }
  return Buffer.from(enc.bytes());
}

/** Stored trades of `symbol`: [trade_id, epoch, seq], ordered by time, epoch, seq. */
async function stored(p: pg.Pool, symbol: string): Promise<[string, number, number][]> {
  const r = await p.query<{ trade_id: string; epoch: string; seq: string }>(
    'select trade_id, epoch, seq from trades where symbol = $1 order by time, epoch, seq', [symbol]);
  return r.rows.map((x) => [x.trade_id, Number(x.epoch), Number(x.seq)]);
}

describe('copyBatch with trades', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = await migratedPool(await deployment());
  });

  it('stores a trade that arrives twice once: in one batch (the first copy keeps its seq), and in a later batch', async () => {
    const S = `CB${TAG}.A`;
    const client = await pool.connect();
    try {
      const first = await copyBatch(client, Buffer.alloc(0), [], tradeRows([
        [S, { seq: 1, id: 'a' }], [S, { seq: 2, id: 'b' }], [S, { seq: 3, id: 'a', timeMs: T0 + 1 }], [S, { seq: 4, id: 'c' }],
      ]));
      expect(first.tradesStored).toBe(3);
      // A reconnect's replay: the same trades under new seqs, and one new trade.
      const again = await copyBatch(client, Buffer.alloc(0), [], tradeRows([[S, { seq: 5, id: 'b', timeMs: T0 + 2 }], [S, { seq: 6, id: 'd' }]]));
      expect(again.tradesStored).toBe(1);
      // The same id under another symbol is another trade.
      expect((await copyBatch(client, Buffer.alloc(0), [], tradeRows([[`${S}2`, { seq: 1, id: 'a' }]]))).tradesStored).toBe(1);
    } finally {
      client.release();
    }
    expect(await stored(pool, S)).toEqual([['a', EPOCH, 1], ['b', EPOCH, 2], ['c', EPOCH, 4], ['d', EPOCH, 6]]);
  });

  it('books and trades commit together: a batch whose book rows fail stores none of its trades', async () => {
    const S = `CB${TAG}.B`;
    const client = await pool.connect();
    try {
      await copyBatch(client, bookRows(S, [1, 2]), [{ symbol: S, epoch: EPOCH, lastSeq: 2, lastTimeMs: T0 + 2 }], tradeRows([[S, { seq: 1 }]]));
      // Book row 2 again: the COPY fails on the unique index, the whole batch rolls back.
      await expect(copyBatch(client, bookRows(S, [2, 3]), [], tradeRows([[S, { seq: 2 }]]))).rejects.toMatchObject({ code: '23505' });
      // The same session stages again after the rollback.
      expect((await copyBatch(client, bookRows(S, [3]), [], tradeRows([[S, { seq: 2 }], [S, { seq: 3 }]]))).tradesStored).toBe(2);
    } finally {
      client.release();
    }
    expect(await stored(pool, S)).toEqual([['t1', EPOCH, 1], ['t2', EPOCH, 2], ['t3', EPOCH, 3]]);
    expect(Number((await pool.query('select count(*) from order_book_data where symbol = $1', [S])).rows[0].count)).toBe(3);
  });

  it('the columns as stored: times with microseconds, side, price and size as the frames write them, feed time', async () => {
    const S = `CB${TAG}.C`;
    const client = await pool.connect();
    try {
      await copyBatch(client, Buffer.alloc(0), [], tradeRows([[S, { seq: 9, id: 'x-1', price: 64_123.45678912, size: 0.00012345, side: 'sell', timeMs: T0 + 0.25, feedTs: T0 + 7.5 }]]));
    } finally {
      client.release();
    }
    const r = await pool.query(`select to_char(time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as time, symbol, trade_id, price::text, size::text, side,
                                       epoch::text, seq::text, to_char(feed_time at time zone 'UTC', 'HH24:MI:SS.US') as feed_time from trades where symbol = $1`, [S]);
    expect(r.rows).toEqual([{
      time: '2024-05-08T12:00:00.000250', symbol: S, trade_id: 'x-1', price: '64123.4567891200', size: '0.0001234500', side: 'sell',
      epoch: String(EPOCH), seq: '9', feed_time: '12:00:00.007500',
    }]);
  });

  it('readTrades: the range [from, to), by time then epoch and seq, at most limit, the earliest first', async () => {
    const S = `RT${TAG}`;
    // Times out of seq order; seq 4 and 5 share a millisecond, epoch 2 starts at an earlier time than epoch 1 ends.
    const specs: TradeSpec[] = [
      { seq: 1, timeMs: T0 + 30 }, { seq: 2, timeMs: T0 + 10 }, { seq: 3, timeMs: T0 + 20 }, { seq: 4, timeMs: T0 + 40, side: 'sell' },
      { seq: 5, timeMs: T0 + 40 }, { seq: 1, epoch: EPOCH + 1, id: 'e2', timeMs: T0 + 40 }, { seq: 6, timeMs: T0 + 50 },
    ];
    const client = await pool.connect();
    try {
      await copyBatch(client, Buffer.alloc(0), [], tradeRows(specs.map((t) => [S, t])));
    } finally {
      client.release();
    }
    const all = await readTrades(pool, S, T0, T0 + 60, 100);
    expect(all.map((t) => [t.trade_id, t.epoch, t.seq])).toEqual([
      ['t2', EPOCH, 2], ['t3', EPOCH, 3], ['t1', EPOCH, 1], ['t4', EPOCH, 4], ['t5', EPOCH, 5], ['e2', EPOCH + 1, 1], ['t6', EPOCH, 6],
    ]);
    expect(all[3]).toEqual({ seq: 4, epoch: EPOCH, trade_id: 't4', price: 100.04, size: 0.5, side: 'sell', time: new Date(T0 + 40).toISOString() });
    expect((await readTrades(pool, S, T0 + 20, T0 + 50, 100)).map((t) => t.trade_id)).toEqual(['t3', 't1', 't4', 't5', 'e2']);
    expect((await readTrades(pool, S, T0, T0 + 60, 2)).map((t) => t.trade_id)).toEqual(['t2', 't3']);
    expect(await readTrades(pool, S, T0 + 60, T0, 10)).toEqual([]);
    await expect(readTrades(pool, S, T0, T0 + 1, 0)).rejects.toThrow(/limit must be an integer/);
    await expect(readTrades(pool, S, NaN, T0, 1)).rejects.toThrow(/finite/);
  });

  it('plain PostgreSQL: applyRetention deletes trades older than RETENTION as it does book rows', async () => {
    const S = `RET${TAG}`;
    const now = Date.now();
    const client = await pool.connect();
    try {
      await copyBatch(client, Buffer.alloc(0), [], tradeRows([[S, { seq: 1, timeMs: now - 40 * 86_400_000 }], [S, { seq: 2, timeMs: now - 1000 }]]));
    } finally {
      client.release();
    }
    expect(await applyRetention(pool, '30 days')).toBeGreaterThanOrEqual(1);
    expect((await stored(pool, S)).map((t) => t[0])).toEqual(['t2']);
  });
});

// ── the writer actor ──────────────────────────────────────────────────────────

interface Writer {
  actor: WriterActor;
  depth: number; // BOOK_DEPTH of its config
  q: QueueProducer;
  stats(): WriterStats;
  until(what: string, ok: (s: WriterStats) => boolean, timeoutMs?: number): Promise<WriterStats>;
  close(): Promise<{ journaledRows: number }>;
}

/** A writer actor on `d` (through `databaseUrl` when given) with one row queue; symbol i is `symbols[i]`. */
async function startWriter(d: Deployment, symbols: string[], over: Parameters<typeof loadConfig>[1] = {}, queue = createQueueBuffer(1 << 20)): Promise<Writer> {
  const cfg = loadConfig({}, { databaseUrl: d.url, dataDir: d.dataDir, logLevel: 'error', writerBatchRows: 100, writerBatchMs: 20, ...over });
  const control = new MessageChannel();
  const registrations = new MessageChannel();
  const actor = new WriterActor({
    config: cfg, databaseUrl: cfg.databaseUrl!, rows: [queue], control: control.port1, registrations: registrations.port1,
    symbols: symbols.map((name, id) => ({ id, name, shard: 0, store: new SharedArrayBuffer(8), trades: new SharedArrayBuffer(8), analytics: new SharedArrayBuffer(8), registeredAtMs: 0 })),
    redisConnections: redisConnectionCounter(),
  });
  await actor.start();
  let closed: Promise<{ journaledRows: number }> | undefined;
  const close = () => (closed ??= actor.close().finally(() => {
    control.port2.close();
    registrations.port2.close();
  }));
  cleanup.push(close);
  return {
    actor,
    depth: cfg.depth,
    q: new QueueProducer(queue),
    stats: () => actor.stats(),
    async until(what, ok, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (let s = actor.stats(); ; s = actor.stats()) {
        if (ok(s)) return s;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ ...s, copy: undefined, commitLag: undefined })}`);
        await sleep(20);
      }
    },
    close,
  };
}

/** Queues trades, waiting while the queue is full (the writer holds back while the journal is full). */
async function queueAll(w: Writer, symbolId: number, trades: TradeSpec[]): Promise<void> {
  for (const t of trades) {
    while (w.q.free() < 4096) await sleep(5);
    queueTrade(w.q, symbolId, t);
  }
}

const range = (from: number, to: number): TradeSpec[] => Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i }));

describe('the writer takes trade rows', () => {
  it('skips a row a restarted shard sends again, stores a trade replayed under a new seq once, and keeps books apart', async () => {
    const d = await deployment();
    const S = `W${TAG}.A`;
    const w = await startWriter(d, [S]);
    await queueAll(w, 0, range(1, 50));
    await queueAll(w, 0, [{ seq: 50 }, { seq: 49 }]); // re-sent by a shard restarted before it committed its header
    // A book row of the same seq as a trade is not a duplicate: the channels have their own sequences.
    const at = w.q.reserve(rawRecordBytes(w.depth)) >> 3;
    const f = w.q.f64;
    f.fill(0, at, at + rawRecordFields(w.depth));
    f[at + R_SEQ] = 50;
    f[at + R_EPOCH] = EPOCH;
    f[at + R_FEED_TS] = T0;
    w.q.commit(rawRecordBytes(w.depth), 0);
    await queueAll(w, 0, [{ seq: 51, id: 't7', timeMs: T0 + 7 }, { seq: 52 }]); // the exchange replays trade t7
    const s = await w.until('every row committed', (x) => x.tradesCommitted === 52 && x.rowsCommitted === 1 && x.pendingRows === 0);
    expect([s.tradesTaken, s.tradeDuplicatesSkipped, s.tradesAlreadyStored, s.rowsTaken, s.duplicatesSkipped]).toEqual([52, 2, 1, 1, 0]);
    await w.close();

    const p = await migratedPool(d);
    const rows = await stored(p, S);
    expect(rows).toHaveLength(51);
    expect(rows.find((r) => r[0] === 't7')).toEqual(['t7', EPOCH, 7]);
    expect(rows.map((r) => r[2])).toEqual([...range(1, 50).map((t) => t.seq), 52]);

    // A restarted writer meets the same rows again (the shard re-sends its last): the table keeps one copy.
    const w2 = await startWriter(d, [S]);
    await queueAll(w2, 0, [{ seq: 52 }, { seq: 53 }]);
    const s2 = await w2.until('committed', (x) => x.tradesCommitted === 2);
    expect(s2.tradesAlreadyStored).toBe(1);
    await w2.close();
    expect(await stored(p, S)).toHaveLength(52);
  });

  it('keeps each symbol\'s trades in trades:{symbol}: newest first, capped at REDIS_TRADES_LENGTH, with the TTL; readRecentTradesRedis reads them oldest first', async () => {
    const d = await deployment();
    const A = `WR${TAG}.A`;
    const B = `WR${TAG}.B`;
    cleanup.push(() => redis.del(`trades:${A}`, `trades:${B}`));
    const w = await startWriter(d, [A, B], { redisUrl: REDIS_URL, redisTradesLength: 5, redisTtlSeconds: 600 });
    await queueAll(w, 0, range(1, 12));
    await queueAll(w, 1, [{ seq: 1, id: 'b1', side: 'sell', timeMs: T0 + 0.5 }]);
    await w.until('committed', (x) => x.tradesCommitted === 13);
    await w.close(); // waits for the last Redis pipeline
    const list = (await redis.lrange(`trades:${A}`, 0, -1)).map((j) => JSON.parse(j) as { type: string; seq: number; symbol: string });
    expect(list.map((t) => t.seq)).toEqual([12, 11, 10, 9, 8]);
    expect(list[0]).toMatchObject({ type: 'trade', symbol: A, epoch: EPOCH, trade_id: 't12', side: 'buy' });
    const ttl = await redis.ttl(`trades:${A}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    // Book keys are untouched by trades.
    expect(await redis.exists(`orderbook:${A}:latest`, `orderbook:${A}:history`)).toBe(0);

    const recent = await readRecentTradesRedis(redis, A, 3);
    expect(recent.map((t) => t.seq)).toEqual([10, 11, 12]);
    expect(recent[2]).toEqual({ seq: 12, epoch: EPOCH, trade_id: 't12', price: 100.12, size: 0.5, side: 'buy', time: new Date(T0 + 12).toISOString() });
    expect((await readRecentTradesRedis(redis, A, 100)).map((t) => t.seq)).toEqual([8, 9, 10, 11, 12]);
    // The frame's microseconds are cut to the milliseconds every trades answer uses.
    expect(await readRecentTradesRedis(redis, B, 10)).toEqual([{ seq: 1, epoch: EPOCH, trade_id: 'b1', price: 100.01, size: 0.5, side: 'sell', time: new Date(T0).toISOString() }]);
    expect(await readRecentTradesRedis(redis, `none${TAG}`, 10)).toEqual([]);
  });
});

describe('the runtime', () => {
  it('the simulator\'s trades reach the trades table, once each, and trades:{symbol}, as their frames', async () => {
    const S = `RS${TAG}`;
    cleanup.push(() => redis.del(`trades:${S}`, `orderbook:${S}:latest`, `orderbook:${S}:history`));
    const d = await deployment();
    const rt = await startRuntime({ symbols: [S], shards: 1, simUpdatesPerSecond: 200, simTradesPerUpdate: 0.5, redisUrl: REDIS_URL, redisTradesLength: 20, writerBatchMs: 20 }, d);
    cleanup.push(() => rt.stop());
    type Stats = { writer: WriterStats };
    let s = (await rt.get<Stats>('/stats')).body.writer;
    for (let i = 0; i < 300 && s.tradesCommitted < 30; i++) {
      await sleep(50);
      s = (await rt.get<Stats>('/stats')).body.writer;
    }
    expect(s.tradesCommitted).toBeGreaterThanOrEqual(30);
    await rt.stop();
    const p = await migratedPool(d);
    const rows = await stored(p, S);
    const w = (await p.query<{ n: number }>('select count(distinct trade_id)::int as n from trades where symbol = $1', [S])).rows[0].n;
    expect(w).toBe(rows.length);
    // One epoch, seq 1…n without a gap: every trade the shard sequenced was stored.
    expect(new Set(rows.map((r) => r[1])).size).toBe(1);
    expect(rows.map((r) => r[2]).sort((a, b) => a - b)).toEqual(rows.map((_, i) => i + 1));
    const last = rows.length;
    const fromRedis = await readRecentTradesRedis(redis, S, 1000);
    expect(fromRedis.map((t) => t.seq)).toEqual(Array.from({ length: Math.min(20, last) }, (_, i) => last - Math.min(20, last) + 1 + i));
    const fromDb = await readTrades(p, S, 0, Date.now() + 60_000, 100_000);
    expect(fromDb.slice(-fromRedis.length)).toEqual(fromRedis);
  });
});

describe('a batch of trades only through an outage', () => {
  it('PostgreSQL cut: trades wait in memory, spill to the journal, and are committed once when it returns', async () => {
    const d = await deployment();
    const S = `WO${TAG}.A`;
    const proxy = await startProxy(Number(new URL(DATABASE_URL).port || 5432));
    cleanup.push(() => proxy.close());
    const u = new URL(d.url);
    u.port = String(proxy.port);
    const w = await startWriter(d, [S], { databaseUrl: u.toString(), writerMemoryRows: 1000 });
    await queueAll(w, 0, range(1, 300));
    await w.until('first commits', (x) => x.tradesCommitted === 300);

    proxy.cut();
    await queueAll(w, 0, range(301, 2800));
    const during = await w.until('the journal to take batches', (x) => x.journal.records > 0 && x.tradesTaken === 2800);
    expect(during.database.status).toBe('down');
    await queueAll(w, 0, [{ seq: 2800 }]); // and a shard re-sends its last row meanwhile
    await proxy.restore();
    const s = await w.until('every trade committed', (x) => x.tradesCommitted === 2800 && x.pendingRows === 0 && x.journal.records === 0, 30_000);
    expect([s.tradeDuplicatesSkipped, s.rowsCommitted]).toEqual([1, 0]);
    await w.close();

    const p = await migratedPool(d);
    const rows = await stored(p, S);
    expect(rows.map((r) => r[2])).toEqual(range(1, 2800).map((t) => t.seq));
  });

  it('a journaled batch of trades only that was committed already is found by its last trade and not committed again', async () => {
    const d = await deployment();
    const S = `WJ${TAG}.A`;
    const p = await migratedPool(d);
    const builder = new BatchBuilder(DEPTH, false);
    for (let seq = 1; seq <= 20; seq++) builder.addTrade(S, tradeRecord({ seq, timeMs: T0 + seq + 0.375 }), 0, 0);
    const { batch } = builder.close();
    const client = await p.connect();
    try {
      await copyBatch(client, batch.payload, batch.progress, batch.trades!.payload); // its COMMIT landed…
    } finally {
      client.release();
    }
    // …but the connection died before the writer learnt it: the batch is still in the journal at the next start.
    const later = new BatchBuilder(DEPTH, false);
    for (let seq = 21; seq <= 25; seq++) later.addTrade(S, tradeRecord({ seq }), 0, 0);
    const j = await Journal.open(resolve(d.dataDir, 'journal'), { maxBytes: 1 << 24, fsync: false });
    j.append(encodeJournalRecord(batch));
    j.append(encodeJournalRecord(later.close().batch));
    j.flush();
    j.close();

    const w = await startWriter(d, [S]);
    const s = await w.until('the journal replayed', (x) => x.tradesCommitted === 25 && x.journal.records === 0);
    expect([s.batchesFoundCommitted, s.batchesCommitted, s.tradesAlreadyStored]).toEqual([1, 2, 0]);
    await w.close();
    expect((await stored(p, S)).map((r) => r[2])).toEqual(range(1, 25).map((t) => t.seq));
  });

  it('a journal record of the first format (books only, written before trades existed) is replayed', async () => {
    const d = await deployment();
    const S = `WF${TAG}.A`;
    const payload = bookRows(S, [1, 2, 3]);
    const j = await Journal.open(resolve(d.dataDir, 'journal'), { maxBytes: 1 << 24, fsync: false });
    j.append(formatOneRecord([{ symbol: S, epoch: EPOCH, lastSeq: 3, lastTimeMs: T0 + 3 }], 3, T0 + 3, payload));
    j.flush();
    j.close();
    const w = await startWriter(d, [S]);
    const s = await w.until('the journal replayed', (x) => x.rowsCommitted === 3 && x.journal.records === 0);
    expect([s.batchesCommitted, s.tradesCommitted]).toEqual([1, 0]);
    await w.close();
    const p = await migratedPool(d);
    const r = await p.query<{ seq: string }>('select seq from order_book_data where symbol = $1 order by seq', [S]);
    expect(r.rows.map((x) => Number(x.seq))).toEqual([1, 2, 3]);
    expect((await p.query<{ last_seq: string }>('select last_seq from ingest_progress where symbol = $1', [S])).rows[0].last_seq).toBe('3');
  });
});
