// Faults: PostgreSQL or Redis cut mid-stream (a TCP proxy the test closes and reopens; the
// machine's services keep running). Streaming goes on; afterwards nothing is missing or doubled.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { sequenceDefects, storedSequences, writeBooks } from '../helpers/books.js';
import { DATABASE_URL, REDIS_URL, type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { TestClient, sequenceProblems } from '../helpers/ws-client.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const dir = mkdtempSync(join(tmpdir(), 'tickplant-faults-'));
const redis = new Redis(REDIS_URL);
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  redis.disconnect();
});

type Health = { status: string; components: Record<string, { status: string; detail?: string }> };
type Stats = { shards: { accepted: number }[]; writer: { rowsCommitted: number; pendingRows: number; journal: { records: number } } };

function throughProxy(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

async function until(rt: Runtime, what: string, ok: (s: Stats) => boolean, timeoutMs = 20_000): Promise<Stats> {
  const end = Date.now() + timeoutMs;
  let s = (await rt.get<Stats>('/stats')).body;
  while (!ok(s)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s.writer)}`);
    await sleep(50);
    s = (await rt.get<Stats>('/stats')).body;
  }
  return s;
}

async function databaseCut(variant: 'memory' | 'journal'): Promise<void> {
  const symbols = [`F${TAG}${variant[0]}.A`, `F${TAG}${variant[0]}.B`];
  const perSymbol = 1500;
  const file = writeBooks(dir, symbols, perSymbol, 2, `${variant}.ndjson`); // ~3 s at recorded pace
  const dep = await createDeployment();
  cleanup.push(() => dep.drop());
  const proxy = await startProxy(Number(new URL(DATABASE_URL).port || 5432));
  cleanup.push(() => proxy.close());
  const rt = await startRuntime({
    feed: 'replay', replayFile: file, replaySpeed: 1, shards: 2, databaseUrl: throughProxy(dep.url, proxy.port),
    writerBatchRows: 100, writerBatchMs: 20, ...(variant === 'journal' ? { writerMemoryRows: 1000 } : {}),
  }, dep);
  cleanup.push(() => rt.stop());

  // The replay feed registers symbols as it reads them: subscribe once the front lists it.
  for (let i = 0; i < 100 && !(await rt.get<{ symbols: { symbol: string }[] }>('/symbols')).body.symbols.some((x) => x.symbol === symbols[0]); i++) await sleep(20);
  const client = await TestClient.connect(rt.ws);
  client.send({ action: 'subscribe', symbol: symbols[0], resolution: 'none' });
  await client.waitFor((m) => m.type === 'orderbook_update');
  await until(rt, 'first commits', (s) => s.writer.rowsCommitted > 200);

  proxy.cut();
  const during = client.messages.length;
  await sleep(1500);
  expect(client.messages.length).toBeGreaterThan(during + 300); // live streaming went on
  const health = await rt.get<Health>('/health');
  expect(health.body.components.database.status).toBe('degraded');
  if (variant === 'journal') {
    const s = (await rt.get<Stats>('/stats')).body;
    expect(s.writer.journal.records).toBeGreaterThan(0); // memory (1,000 rows) overflowed to disk
  }

  await proxy.restore();
  const done = await until(rt, 'all rows committed', (s) => s.writer.rowsCommitted >= symbols.length * perSymbol && s.writer.pendingRows === 0 && s.writer.journal.records === 0);
  expect(done.shards.reduce((n, s) => n + s.accepted, 0)).toBe(symbols.length * perSymbol);
  client.close();
  expect(sequenceProblems(client.stream(symbols[0]))).toEqual([]);
  await rt.stop();

  const rows = await storedSequences(dep.url);
  expect(sequenceDefects(rows)).toEqual([]);
  expect(rows.map((r) => [r.symbol, r.lo, r.hi, r.n])).toEqual(symbols.map((s) => [s, 1, perSymbol, perSymbol]));
}

describe('writer under faults', () => {
  it('PostgreSQL cut mid-stream: rows wait in memory and are committed once, in order, when it returns', async () => {
    await databaseCut('memory');
  });

  it('PostgreSQL cut with a small memory queue: rows spill to the journal, replayed and truncated after COMMIT', async () => {
    await databaseCut('journal');
  });

  it('Redis cut mid-stream: PostgreSQL unaffected, /health says redis is degraded, writes resume after', async () => {
    const symbols = [`R${TAG}.A`];
    const perSymbol = 2500;
    const file = writeBooks(dir, symbols, perSymbol, 2, 'redis.ndjson'); // ~5 s at recorded pace
    const dep = await createDeployment();
    cleanup.push(() => dep.drop());
    const proxy = await startProxy(Number(new URL(REDIS_URL).port || 6379));
    cleanup.push(() => proxy.close());
    cleanup.push(() => redis.del(`orderbook:${symbols[0]}:latest`, `orderbook:${symbols[0]}:history`));
    const rt = await startRuntime({
      feed: 'replay', replayFile: file, replaySpeed: 1, shards: 1, redisUrl: throughProxy(REDIS_URL, proxy.port),
      writerBatchRows: 100, writerBatchMs: 20,
    }, dep);
    cleanup.push(() => rt.stop());
    await until(rt, 'first commits', (s) => s.writer.rowsCommitted > 200);
    await sleep(100);
    const before = JSON.parse((await redis.get(`orderbook:${symbols[0]}:latest`))!) as { seq: number };

    proxy.cut();
    await sleep(800);
    expect((await rt.get<Health>('/health')).body.components.redis.status).toBe('degraded');
    const stalled = JSON.parse((await redis.get(`orderbook:${symbols[0]}:latest`))!) as { seq: number };
    await proxy.restore();
    await until(rt, 'all rows committed', (s) => s.writer.rowsCommitted >= perSymbol);
    await sleep(300);
    const after = JSON.parse((await redis.get(`orderbook:${symbols[0]}:latest`))!) as { seq: number };
    expect(stalled.seq).toBeGreaterThanOrEqual(before.seq);
    expect(after.seq).toBe(perSymbol); // caught up: latest converges once Redis is back
    expect((await rt.get<Health>('/health')).body.components.redis.status).toBe('ok');
    await rt.stop();

    const rows = await storedSequences(dep.url);
    expect(sequenceDefects(rows)).toEqual([]);
    expect(rows.map((r) => r.n)).toEqual([perSymbol]);
  });
});
