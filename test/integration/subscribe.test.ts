// Subscribing over the real server: history, snapshot and live stream meet exactly; resume; /stats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/actors/supervisor/router.js';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { type Msg, TestClient, sequenceProblems } from '../helpers/ws-client.js';

let rt: Runtime;
const SYMBOLS = ['US.AAPL', 'US.MSFT', 'BTC-USD', 'ETH-USD', 'US.NVDA', 'SOL-USD'];

beforeAll(async () => {
  rt = await startRuntime({
    shards: 2, symbols: SYMBOLS, simUpdatesPerSecond: 400, historyResolutionMs: 100, rawCapacity: 1024,
  });
  await sleep(1500); // let some history accumulate
});
afterAll(() => rt?.stop());

describe('subscribe', () => {
  it('lists the symbols served', async () => {
    const r = await rt.get<{ symbols: { symbol: string; shard: number }[] }>('/symbols');
    expect(r.status).toBe(200);
    expect(r.body.symbols.map((s) => s.symbol).sort()).toEqual([...SYMBOLS].sort());
    for (const s of r.body.symbols) expect(s.shard).toBe(shardOf(s.symbol, 2)); // stable hash routing
    expect(new Set(r.body.symbols.map((s) => s.shard)).size).toBe(2); // both shards own symbols
  });

  it('sends historical_data, then the snapshot at its seq, then every update at seq + 1', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'US.AAPL' });
    const history = await c.waitFor((m) => m.type === 'historical_data');
    await c.waitFor((m) => m.type === 'orderbook_update' && m.seq! > history.seq! + 200);
    c.close();

    const stream = c.stream('US.AAPL');
    expect(stream[0].type).toBe('historical_data');
    expect(stream[1].type).toBe('orderbook_snapshot');
    expect(stream[1].seq).toBe(history.seq);
    expect(stream[2]).toMatchObject({ type: 'orderbook_update', seq: history.seq! + 1, epoch: history.epoch });
    expect(sequenceProblems(stream)).toEqual([]);
    expect(stream.some((m) => m.type === 'resync')).toBe(false);

    const data = history.data as { time: string; seq: number }[];
    expect(history.points).toBe(data.length);
    expect(data.length).toBeGreaterThan(5); // 1.5 s at 100 ms resolution
    expect(data[data.length - 1].seq).toBe(history.seq);
    for (let i = 1; i < data.length; i++) {
      expect(Date.parse(data[i].time)).toBeGreaterThan(Date.parse(data[i - 1].time));
      expect(data[i].seq).toBeGreaterThan(data[i - 1].seq);
    }
  });

  it('shows a reconnecting client the history accumulated meanwhile', async () => {
    const first = await TestClient.connect(rt.ws);
    first.send({ action: 'subscribe', symbol: 'BTC-USD' });
    const h1 = await first.waitFor((m) => m.type === 'historical_data');
    first.close();
    await sleep(700);
    const second = await TestClient.connect(rt.ws);
    second.send({ action: 'subscribe', symbol: 'BTC-USD' });
    const h2 = await second.waitFor((m) => m.type === 'historical_data');
    second.close();
    const d1 = h1.data as { time: string }[];
    const d2 = h2.data as { time: string }[];
    expect(d2[0].time).toBe(d1[0].time); // still from the start of the day
    expect(d2.length).toBeGreaterThan(d1.length + 3);
    expect(h2.seq!).toBeGreaterThan(h1.seq!);
  });

  it('honours a coarser resolution and "none"', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'ETH-USD', resolution: '1s' });
    const h = await c.waitFor((m) => m.type === 'historical_data');
    expect(h.resolution_ms).toBe(1000);
    const times = (h.data as { time: string }[]).map((p) => Date.parse(p.time));
    expect(times.every((t) => t % 1000 === 0)).toBe(true);

    c.send({ action: 'subscribe', symbol: 'US.MSFT', resolution: 'none' });
    const snap = await c.waitFor((m) => m.symbol === 'US.MSFT');
    expect(snap.type).toBe('orderbook_snapshot'); // no history first
    await c.waitFor((m) => m.symbol === 'US.MSFT' && m.type === 'orderbook_update');
    c.close();
    expect(sequenceProblems(c.stream('US.MSFT'))).toEqual([]);
  });

  it('resumes a client after a disconnect with exactly the updates it missed', async () => {
    const a = await TestClient.connect(rt.ws);
    a.send({ action: 'subscribe', symbol: 'US.MSFT', resolution: 'none' });
    const last = await a.waitFor((m) => m.type === 'orderbook_update' && m.seq! > 50);
    a.close();
    await a.closed;
    const lastSeen = a.stream('US.MSFT').filter((m) => m.type === 'orderbook_update').at(-1)!;
    expect(lastSeen.seq).toBeGreaterThanOrEqual(last.seq!);
    await sleep(400); // ~160 updates happen while it is away

    const b = await TestClient.connect(rt.ws);
    b.send({ action: 'subscribe', symbol: 'US.MSFT', resume: { seq: lastSeen.seq, epoch: lastSeen.epoch } });
    await b.waitFor((m) => m.type === 'orderbook_update' && m.seq! > lastSeen.seq! + 300);
    b.close();
    const stream = b.stream('US.MSFT');
    expect(stream[0]).toMatchObject({ type: 'orderbook_update', seq: lastSeen.seq! + 1, epoch: lastSeen.epoch });
    expect(stream.some((m) => m.type !== 'orderbook_update')).toBe(false);
    expect(sequenceProblems([lastSeen, ...stream])).toEqual([]);
  });

  it('answers a resume it cannot serve with a resync of that symbol only', async () => {
    const c = await TestClient.connect(rt.ws);
    const syms = (await rt.get<{ symbols: { symbol: string; epoch: number; seq: number }[] }>('/symbols')).body.symbols;
    const aapl = syms.find((s) => s.symbol === 'US.AAPL')!;
    expect(aapl.seq).toBeGreaterThan(1024 + 10); // the raw ring (1024) no longer holds seq 1

    c.send({ action: 'subscribe', symbol: 'US.AAPL', resume: { seq: 1, epoch: aapl.epoch } });
    const gone = await c.waitFor((m) => m.symbol === 'US.AAPL');
    expect(gone).toMatchObject({ type: 'resync', reason: 'resume_unavailable', epoch: aapl.epoch });
    expect(gone.data).toHaveProperty('bid_levels');

    c.send({ action: 'subscribe', symbol: 'BTC-USD', resume: { seq: 5, epoch: 12345 } });
    const other = await c.waitFor((m) => m.symbol === 'BTC-USD');
    expect(other).toMatchObject({ type: 'resync', reason: 'epoch_changed' });

    await c.waitFor((m) => m.symbol === 'US.AAPL' && m.type === 'orderbook_update' && m.seq! > gone.seq! + 20);
    c.close();
    expect(sequenceProblems(c.stream('US.AAPL'))).toEqual([]);
    expect(sequenceProblems(c.stream('BTC-USD'))).toEqual([]);
  });

  it('reports measured feed-to-publish latency and delivery counts in /stats', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'ETH-USD', resolution: 'none' });
    await c.waitFor((m) => m.type === 'orderbook_update' && c.messages.length > 50);
    const { status, body } = await rt.get<{
      front: { feedToPublish: Record<string, number>; framesPublished: number; messagesSent: number; connections: number; subscriptions: number };
      shards: { accepted: number; inputQueue: { depthBytes: number } }[];
    }>('/stats');
    c.close();
    expect(status).toBe(200);
    const l = body.front.feedToPublish;
    expect(l.count).toBeGreaterThan(100);
    expect(l.count).toBeLessThanOrEqual(body.front.framesPublished);
    expect(l.p50_ms).toBeGreaterThan(0);
    expect(l.p50_ms).toBeLessThanOrEqual(l.p99_ms);
    expect(l.p99_ms).toBeLessThanOrEqual(l.max_ms);
    expect(body.front.connections).toBeGreaterThanOrEqual(1);
    expect(body.front.subscriptions).toBeGreaterThanOrEqual(1);
    expect(body.front.messagesSent).toBeGreaterThan(50);
    const accepted = body.shards.reduce((n, s) => n + s.accepted, 0);
    expect(accepted).toBeGreaterThanOrEqual(body.front.framesPublished - 1000);
  });

  it('answers /orderbook/{symbol}/latest, /today and unknown routes', async () => {
    const latest = await rt.get<Msg>('/orderbook/US.AAPL/latest');
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ type: 'orderbook_snapshot', symbol: 'US.AAPL' });
    const today = await rt.get<Msg>('/orderbook/US.AAPL/today?resolution=1s');
    expect(today.status).toBe(200);
    expect(today.body).toMatchObject({ type: 'historical_data', resolution_ms: 1000 });
    const bad = await rt.get<{ error: { code: string; message: string } }>('/orderbook/US.AAPL/today?resolution=7x');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^resolution/);
    expect((await rt.get('/orderbook/NOPE/latest')).status).toBe(404);
    const missing = await rt.get<{ error: { code: string } }>('/no/such/route');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });
});
