// Every accepted update reaches PostgreSQL exactly once and Redis holds the latest state and the
// last N; a restart continues each symbol's sequence. Known replay input makes counts exact.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sequenceDefects, storedSequences, writeBooks } from '../helpers/books.js';
import { REDIS_URL, createDeployment, sleep, startRuntime, untilCommitted } from '../helpers/runtime.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const SYMBOLS = [`W${TAG}.A`, `W${TAG}.B`, `W${TAG}.C`];
const PER_SYMBOL = 1000;
const HISTORY = 50;
const TTL = 600;
const redis = new Redis(REDIS_URL);
let dep: Awaited<ReturnType<typeof createDeployment>>;

afterAll(async () => {
  for (const s of SYMBOLS) await redis.del(`orderbook:${s}:latest`, `orderbook:${s}:history`);
  redis.disconnect();
  await dep?.drop();
});

type Stats = { shards: { accepted: number }[]; writer: { rowsCommitted: number; pendingRows: number } };


describe('writer', () => {
  it('stores every accepted update once, fills Redis, and a restart continues the sequences', async () => {
    dep = await createDeployment();
    const dir = mkdtempSync(join(tmpdir(), 'tickplant-writer-'));
    const file = writeBooks(dir, SYMBOLS, PER_SYMBOL, 1);
    const cfg = {
      feed: 'replay' as const, replayFile: file, replaySpeed: 0, shards: 2, redisUrl: REDIS_URL,
      redisHistoryLength: HISTORY, redisTtlSeconds: TTL, writerBatchRows: 500, writerBatchMs: 20,
    };

    // The per-symbol channel is the bus other nodes read: every update is PUBLISHed, in order.
    const bus = new Redis(REDIS_URL);
    const published = new Map<string, number[]>(SYMBOLS.map((s) => [s, []]));
    bus.on('message', (channel: string, message: string) => {
      published.get(channel.slice('orderbook:'.length))?.push((JSON.parse(message) as { seq: number }).seq);
    });
    await bus.subscribe(...SYMBOLS.map((s) => `orderbook:${s}`));

    const run1 = await startRuntime(cfg, dep);
    const s1 = await untilCommitted<Stats>(run1, SYMBOLS.length * PER_SYMBOL);
    expect(s1.shards.reduce((n, s) => n + s.accepted, 0)).toBe(SYMBOLS.length * PER_SYMBOL);
    await run1.stop();
    for (let i = 0; i < 100 && [...published.values()].some((seqs) => seqs.length < PER_SYMBOL); i++) await sleep(20);
    bus.disconnect();
    for (const [s, seqs] of published) expect(seqs, s).toEqual(Array.from({ length: PER_SYMBOL }, (_, i) => i + 1));

    const rows = await storedSequences(dep.url);
    expect(sequenceDefects(rows)).toEqual([]);
    expect(rows.map((r) => [r.symbol, r.lo, r.hi, r.n])).toEqual(SYMBOLS.map((s) => [s, 1, PER_SYMBOL, PER_SYMBOL]));
    const db = new pg.Client(dep.url);
    await db.connect();
    const progress = await db.query<{ symbol: string; last_seq: string }>('select symbol, last_seq from ingest_progress order by symbol');
    expect(progress.rows.map((p) => [p.symbol, Number(p.last_seq)])).toEqual(SYMBOLS.map((s) => [s, PER_SYMBOL]));
    const levels = await db.query<{ bid_levels: [number, number][] }>('select bid_levels from order_book_data where symbol = $1 and seq = 1', [SYMBOLS[0]]);
    expect(levels.rows[0].bid_levels).toHaveLength(2);
    await db.end();

    for (const s of SYMBOLS) {
      const ttl = await redis.ttl(`orderbook:${s}:latest`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(TTL);
      expect(JSON.parse((await redis.get(`orderbook:${s}:latest`))!)).toMatchObject({ symbol: s, seq: PER_SYMBOL });
      expect(await redis.llen(`orderbook:${s}:history`)).toBe(HISTORY);
      expect(await redis.ttl(`orderbook:${s}:history`)).toBeGreaterThan(0);
      const newest = JSON.parse((await redis.lindex(`orderbook:${s}:history`, 0))!) as { seq: number };
      const oldest = JSON.parse((await redis.lindex(`orderbook:${s}:history`, HISTORY - 1))!) as { seq: number };
      expect([newest.seq, oldest.seq]).toEqual([PER_SYMBOL, PER_SYMBOL - HISTORY + 1]);
    }

    // The same deployment again: each symbol continues its epoch at seq PER_SYMBOL + 1.
    const run2 = await startRuntime(cfg, dep);
    await untilCommitted<Stats>(run2, SYMBOLS.length * PER_SYMBOL);
    await run2.stop();
    const after = await storedSequences(dep.url);
    expect(sequenceDefects(after)).toEqual([]);
    expect(after.map((r) => [r.symbol, r.epoch, r.lo, r.hi])).toEqual(rows.map((r) => [r.symbol, r.epoch, 1, 2 * PER_SYMBOL]));
  });
});
