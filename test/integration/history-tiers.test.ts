// Reads of stored history through the tiers: cold after a restart (PostgreSQL), warm (memory),
// and a third process that finds the earlier whole hours in Redis; /stats counts each tier.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, REDIS_URL, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { TestClient, sequenceProblems } from '../helpers/ws-client.js';

type Tier = { hits: number; misses: number; errors: number };
type Tiers = { memory: Tier & { entries: number }; redis: Tier; database: Tier };
type History = { type: string; points: number; seq: number; epoch: number; sources: { memory: number; database: number }; data: { time: string; seq: number }[] };

const SYMBOL = `T${Math.random().toString(36).slice(2, 8).toUpperCase()}-USD`;
const HOUR = 3_600_000;
let dep: Awaited<ReturnType<typeof createDeployment>>;

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`orderbook:${SYMBOL}:*`); // test clean-up of a unique symbol only
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await dep?.drop();
});

describe('history tiers', () => {
  it('reads cold from PostgreSQL after a restart, warm from memory, and whole hours from Redis', async () => {
    dep = await createDeployment();
    const cfg = { symbols: [SYMBOL], simUpdatesPerSecond: 200, shards: 1, historyResolutionMs: 1000, redisUrl: REDIS_URL };

    // Rows of an earlier, whole hour, as a previous deployment would have left them.
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
    const db = new pg.Client(dep.url);
    await db.connect();
    const run1 = await startRuntime(cfg, dep); // creates the schema
    for (let i = 0; i < 10; i++) {
      await db.query(
        `insert into order_book_data (time, symbol, best_bid, best_ask, mid_price, spread, spread_percentage, bid_volume, ask_volume, total_volume, bid_levels, ask_levels, seq, epoch)
         values (to_timestamp($1 / 1000.0), $2, 100, 101, 100.5, 1, 0.99, 10, 10, 20, '[[100,10]]', '[[101,10]]', $3, 1)`,
        [hourStart + i * 60_000, SYMBOL, i + 1],
      );
    }
    await db.end();
    await sleep(1500);
    await run1.stop();

    // Second process: memory starts empty; today's earlier points come from PostgreSQL.
    const run2 = await startRuntime(cfg, dep);
    try {
      const cold = await run2.get<History>(`/orderbook/${SYMBOL}/today`);
      expect(cold.status).toBe(200);
      expect(cold.body.sources.database).toBeGreaterThan(0); // run 1's seconds
      expect(cold.body.points).toBe(cold.body.data.length);
      const times = cold.body.data.map((p) => Date.parse(p.time));
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]);
      let tiers = (await run2.get<{ front: { historyTiers: Tiers } }>('/stats')).body.front.historyTiers;
      const loads = tiers.database.misses;
      expect(loads).toBeGreaterThanOrEqual(1);
      expect(tiers.memory.hits).toBe(0);

      const warm = await run2.get<History>(`/orderbook/${SYMBOL}/today`);
      expect(warm.body.sources.database).toBe(cold.body.sources.database);
      tiers = (await run2.get<{ front: { historyTiers: Tiers } }>('/stats')).body.front.historyTiers;
      expect(tiers.memory.hits).toBeGreaterThanOrEqual(1);
      expect(tiers.database.misses).toBe(loads); // nothing loaded again

      // A subscriber's historical_data takes the same path.
      const ws = await TestClient.connect(run2.ws);
      ws.send({ action: 'subscribe', symbol: SYMBOL });
      const h = await ws.waitFor((m) => m.type === 'historical_data');
      await ws.waitFor((m) => m.type === 'orderbook_update' && ws.messages.length > 20);
      ws.close();
      expect((h.sources as { database: number }).database).toBeGreaterThanOrEqual(cold.body.sources.database);
      // The restarted process continues run 1's sequence: one epoch, seamless from history on.
      const stream = ws.stream(SYMBOL);
      expect(stream[1]).toMatchObject({ type: 'orderbook_snapshot', seq: h.seq, epoch: h.epoch });
      expect(sequenceProblems(stream)).toEqual([]);
      expect(new Set(stream.map((m) => m.epoch)).size).toBe(1);

      // The whole earlier hour: loaded from PostgreSQL once, then kept in Redis.
      const three = await run2.get<History>(`/orderbook/${SYMBOL}/history?hours=3`);
      expect(three.status).toBe(200);
      expect(three.body.data.filter((p) => Date.parse(p.time) >= hourStart && Date.parse(p.time) < hourStart + HOUR)).toHaveLength(10);
      const bad = await run2.get<{ error: { message: string } }>(`/orderbook/${SYMBOL}/history?hours=0`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^hours/);
    } finally {
      await run2.stop();
    }

    // Third process: its memory is empty, but the whole hour is in Redis.
    const run3 = await startRuntime(cfg, dep);
    try {
      const again = await run3.get<History>(`/orderbook/${SYMBOL}/history?hours=3`);
      expect(again.body.data.filter((p) => Date.parse(p.time) >= hourStart && Date.parse(p.time) < hourStart + HOUR)).toHaveLength(10);
      const tiers = (await run3.get<{ front: { historyTiers: Tiers } }>('/stats')).body.front.historyTiers;
      expect(tiers.redis.hits).toBeGreaterThanOrEqual(1);
    } finally {
      await run3.stop();
    }
  });
});

describe('history tiers with PostgreSQL away', () => {
  it('serves memory and says what is missing instead of failing', async () => {
    const d = await createDeployment();
    const url = new URL(DATABASE_URL);
    const proxy = await startProxy(Number(url.port || 5432));
    url.port = String(proxy.port);
    const viaProxy = `${url.toString()}${url.search ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${d.schema}`)}`;
    const cfg = { symbols: [`${SYMBOL}X`], simUpdatesPerSecond: 100, shards: 1 };
    const first = await startRuntime({ ...cfg, databaseUrl: viaProxy }, d);
    await sleep(800);
    await first.stop();
    const second = await startRuntime({ ...cfg, databaseUrl: viaProxy }, d);
    try {
      await sleep(300);
      proxy.cut();
      const r = await second.get<History & { incomplete?: string }>(`/orderbook/${SYMBOL}X/today`);
      expect(r.status).toBe(200);
      expect(r.body.incomplete).toMatch(/unavailable/);
      expect(r.body.sources.database).toBe(0);
      expect(r.body.sources.memory).toBeGreaterThan(0);
      const ws = await TestClient.connect(second.ws);
      ws.send({ action: 'subscribe', symbol: `${SYMBOL}X` });
      const h = await ws.waitFor((m) => m.type === 'historical_data');
      await ws.waitFor((m) => m.type === 'orderbook_update');
      ws.close();
      expect(h.incomplete).toMatch(/unavailable/);
      expect(sequenceProblems(ws.stream(`${SYMBOL}X`))).toEqual([]);
    } finally {
      await proxy.restore();
      await second.stop();
      await proxy.close();
      await d.drop();
    }
  });
});
