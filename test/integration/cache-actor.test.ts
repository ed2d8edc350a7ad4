// The cache service on its own actor: the front forwards /api/ to it, a crash of it costs the WebSocket stream nothing, Redis connections stay under one ceiling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient, sequenceProblems } from '../helpers/ws-client.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await startRuntime({ shards: 1, symbols: ['US.AAPL', 'BTC-USD'], simUpdatesPerSecond: 200, redisUrl: REDIS_URL, redisMaxConnections: 4 });
});
afterAll(() => rt?.stop());

type Envelope = { success: boolean; data?: unknown; error?: { code: string } };
const api = (path: string, init?: RequestInit) => fetch(`${rt.http}/api/v1/cache${path}`, init);
const post = (path: string, body: unknown) => api(path, { method: 'POST', headers: { ...rt.admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    const v = await probe();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the cache actor', () => {
  it('serves the REST API through the front: writes, reads, the runtime\'s books, validation errors', async () => {
    await until('the cache service to connect', async () => ((await api('/stats')).status === 200 ? true : undefined));
    expect((await post('/stock-prices/AAPL', { close_price: 150.25, volume: 1000 })).status).toBe(201);
    const r = await api('/stock-prices/AAPL');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { data: { close_price: number } }).data.close_price).toBe(150.25);
    const book = await until('a book', async () => {
      const b = await api('/market-data/US.AAPL');
      return b.status === 200 ? ((await b.json()) as { data: { symbol: string; best_bid: number; seq: number } }) : undefined;
    });
    expect(book.data.symbol).toBe('US.AAPL');
    expect(book.data.seq).toBeGreaterThan(0);
    const bad = await post('/stock-prices/AAPL', { close_price: 'cheap' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Envelope).error?.code).toBe('invalid_field');
  });

  it('holds the node to REDIS_MAX_CONNECTIONS: writer, history tier and the cache\'s two, counted in /stats', async () => {
    const s = await rt.get<{ redis: { connections: number; maxConnections: number } }>('/stats');
    expect(s.body.redis).toEqual({ connections: 4, maxConnections: 4 });
  });

  it('a crashed cache actor is restarted and linked again; subscribers see no gap meanwhile', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'BTC-USD', resolution: 'none' });
    await c.waitFor((m) => m.type === 'orderbook_update');
    await rt.sup.killCache();
    // While it is down or reconnecting, /api/ answers in its envelope (503), never hangs.
    const during = await api('/stock-prices/AAPL');
    expect([200, 503]).toContain(during.status);
    if (during.status === 503) expect(((await during.json()) as Envelope).error?.code).toBe('cache_unavailable');
    await until('the restarted cache actor to answer', async () => ((await api('/stats')).status === 200 ? true : undefined));
    const health = await rt.get<{ components: Record<string, { status: string }> }>('/health');
    expect(health.body.components.cache.status).toBe('ok');
    const from = c.stream('BTC-USD').length;
    await c.waitFor(() => c.stream('BTC-USD').length > from + 20);
    c.close();
    expect(sequenceProblems(c.stream('BTC-USD'))).toEqual([]);
    // The restarted actor reopened its two Redis connections in the slots the dead one held.
    const s = await rt.get<{ redis: { connections: number }; restarts: number }>('/stats');
    expect(s.body.redis.connections).toBeLessThanOrEqual(4);
    expect(s.body.restarts).toBeGreaterThanOrEqual(1);
  });

  it('/metrics has the front\'s figures and the cache actor\'s, each metric once', async () => {
    const text = await (await fetch(`${rt.http}/metrics`)).text();
    expect(text).toMatch(/^tickplant_ws_messages_sent_total /m);
    expect(text).toMatch(/^tickplant_cache_hits_total\{/m);
    const helps = text.split('\n').filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
    expect(new Set(helps).size).toBe(helps.length);
  });
});
