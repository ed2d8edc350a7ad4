// The trades channel end to end: a local Binance's trades reach a `trades` subscriber exactly once
// and are stored exactly once, across a reconnect of the exchange connection; a resume replays
// the missed trades; GET /trades answers from memory and from PostgreSQL; the simulator's trades
// print at the book it just published.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { type BinanceServer, startBinanceServer } from '../helpers/exchanges/binance-server.js';
import { REDIS_URL, type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { type Msg, TestClient, tradeSequenceProblems } from '../helpers/ws-client.js';

const NATIVE = 'TRADEUSDT';
const SYMBOL = `BINANCE.${NATIVE}`;
let rt: Runtime;
let binance: BinanceServer;
let redis: Redis;
let dep: Awaited<ReturnType<typeof createDeployment>>;
const overrides = () => ({
  feeds: `binance:${NATIVE};simulator:US.AAPL`, binanceWsUrl: binance.wsUrl, binanceRestUrl: binance.restUrl,
  shards: 1, depth: 10, staleAfterMs: 60_000, simUpdatesPerSecond: 50, redisUrl: REDIS_URL,
});

async function until<T>(what: string, read: () => Promise<T> | T, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms; last: ${JSON.stringify(v).slice(0, 300)}`);
    await sleep(50);
  }
}

interface TradeItem { seq: number; trade_id: string; price: number; size: number; side: string; timestamp?: string; time?: string }
/** Every trade a client got, from snapshots and trade frames, in order of arrival. */
const tradesOf = (c: TestClient, from = 0): TradeItem[] =>
  c.messages.slice(from).filter((m) => m.symbol === SYMBOL).flatMap((m) =>
    m.type === 'trade' ? [m as unknown as TradeItem] : m.type === 'trades_snapshot' ? (m.trades as TradeItem[]) : []);

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  await redis.del(`trades:${SYMBOL}`);
  // Paused until the subscriber is in: every trade the exchange prints is then one it must get.
  binance = await startBinanceServer({ symbols: [NATIVE], seed: 11, tickMs: 5, tradeChance: 0.4, pingIntervalMs: 200 });
  binance.pause();
  dep = await createDeployment();
  rt = await startRuntime(overrides(), dep);
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  await dep?.drop();
  await binance?.close();
  await redis?.quit();
});

describe('the trades channel', () => {
  let client: TestClient;

  it('delivers every exchange trade once, in a gap-free sequence, across a reconnect of the exchange connection', async () => {
    client = await TestClient.connect(rt.ws);
    client.send({ action: 'subscribe', symbol: SYMBOL, channels: ['trades'] });
    const snapshot = await client.waitFor((m) => m.type === 'trades_snapshot' && m.symbol === SYMBOL);
    expect(snapshot).toMatchObject({ seq: 0, trades: [] });
    binance.resume();
    await until('100 trades', () => tradesOf(client).length, (n) => n >= 100);
    const before = binance.tradesSent(NATIVE).size;
    binance.disconnectAll();
    await until('100 trades after the reconnect', () => binance.tradesSent(NATIVE).size, (n) => n >= before + 100);
    binance.pause();
    const sent = [...binance.tradesSent(NATIVE)].map(String).sort();
    await until('every sent trade received', () => tradesOf(client).length, (n) => n >= sent.length);
    await sleep(300); // nothing more may follow
    const got = tradesOf(client).map((t) => t.trade_id);
    expect(got.length).toBe(sent.length); // no repeat
    expect([...got].sort()).toEqual(sent);
    expect(tradeSequenceProblems(client.messages, SYMBOL)).toEqual([]);
    // Each carries the exchange's id, price, size, side and time.
    const truth = new Map(binance.trades(NATIVE).map((t) => [String(t.id), t]));
    for (const t of tradesOf(client)) {
      const x = truth.get(t.trade_id)!;
      expect([t.price, t.size, t.side, Date.parse(t.timestamp!)]).toEqual([x.price, x.size, x.side, x.time]);
    }
  }, 60_000);

  it('stores each trade exactly once, and GET /trades answers from memory and from PostgreSQL', async () => {
    const sent = [...binance.tradesSent(NATIVE)].map(String).sort();
    const stored = await until('every trade stored', async () => (await rt.db.query<{ trade_id: string; n: string }>(
      'select trade_id, count(*) as n from trades where symbol = $1 group by trade_id', [SYMBOL])).rows, (rows) => rows.length >= sent.length);
    expect(stored.every((r) => r.n === '1')).toBe(true);
    expect(stored.map((r) => r.trade_id).sort()).toEqual(sent);

    const live = tradesOf(client);
    const recent = await rt.get<{ source: string; trades: TradeItem[] }>(`/trades/${SYMBOL}?limit=20`);
    expect(recent.status).toBe(200);
    expect(recent.body.source).toBe('memory');
    expect(recent.body.trades.map((t) => t.trade_id)).toEqual(live.slice(-20).map((t) => t.trade_id));

    const first = Date.parse(live[0].timestamp!);
    const last = Date.parse(live[live.length - 1].timestamp!);
    const ranged = await rt.get<{ source: string; trades: TradeItem[] }>(`/trades/${SYMBOL}?from=${first}&to=${last + 1}&limit=10000`);
    expect(ranged.status).toBe(200);
    expect(ranged.body.source).toBe('database');
    expect(ranged.body.trades.map((t) => t.trade_id).sort()).toEqual(sent);

    const metrics = await (await fetch(`${rt.http}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('tickplant_trades_published_total')).toBeGreaterThanOrEqual(sent.length);
    expect(value('tickplant_writer_trades_committed_total')).toBeGreaterThanOrEqual(sent.length);
    expect(value('tickplant_shard_trades_accepted_total')).toBeGreaterThanOrEqual(sent.length);

    const cached = await redis.lrange(`trades:${SYMBOL}`, 0, -1);
    expect(cached.length).toBe(Math.min(sent.length, rt.cfg.redisTradesLength));
    expect((JSON.parse(cached[0]) as TradeItem).trade_id).toBe(live[live.length - 1].trade_id); // newest first
  }, 30_000);

  it('refuses bad parameters with a 400 naming them', async () => {
    for (const [q, field] of [['limit=0', 'limit'], ['limit=x', 'limit'], ['from=yesterday', 'from'], ['from=1000&to=999', 'to']]) {
      const r = await rt.get<{ error: { code: string; message: string } }>(`/trades/${SYMBOL}?${q}`);
      expect(r.status).toBe(400);
      expect(r.body.error.message.startsWith(`${field}:`)).toBe(true);
    }
    expect((await rt.get(`/trades/NOPE.X`)).status).toBe(404);
  });

  it('a resume replays the missed trades one by one, then continues live', async () => {
    const last = client.messages.filter((m) => m.type === 'trade').at(-1)!;
    client.close();
    binance.resume();
    await until('30 more trades', () => binance.tradesSent(NATIVE).size, (n) => n >= Number(last.seq) + 30);
    const again = await TestClient.connect(rt.ws);
    again.send({ action: 'subscribe', symbol: SYMBOL, channels: ['trades'], resume: { trades: { seq: last.seq, epoch: last.epoch } } });
    await again.waitFor((m) => m.type === 'trade' && m.seq === Number(last.seq) + 30);
    const frames = again.messages.filter((m) => m.symbol === SYMBOL);
    expect(frames.some((m) => m.type === 'trades_snapshot')).toBe(false);
    expect(frames[0]).toMatchObject({ type: 'trade', seq: Number(last.seq) + 1, epoch: last.epoch });
    expect(tradeSequenceProblems([{ ...last, type: 'trades_snapshot' } as Msg, ...frames], SYMBOL)).toEqual([]);
    again.close();
  }, 30_000);

  it('a resume it cannot serve from the ring is a trades_snapshot with the reason, at the current seq', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: SYMBOL, channels: ['trades'], resume: { trades: { seq: 5, epoch: 1 } } });
    const snap = await c.waitFor((m) => m.type === 'trades_snapshot');
    const current = await rt.get<{ symbols: { symbol: string; trades: { epoch: number; seq: number } }[] }>('/symbols');
    const t = current.body.symbols.find((s) => s.symbol === SYMBOL)!.trades;
    expect(snap).toMatchObject({ reason: 'epoch_changed', epoch: t.epoch });
    expect(Number(snap.seq)).toBeLessThanOrEqual(t.seq);
    const items = snap.trades as TradeItem[];
    expect(items.length).toBe(Math.min(rt.cfg.tradesOnSubscribe, Number(snap.seq)));
    expect(items.at(-1)!.seq).toBe(snap.seq);
    c.close();
  });

  it('the simulator prints each trade at the best ask (buy) or bid (sell) of the book it just published', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'US.AAPL', channels: ['book', 'trades'], resolution: 'none' });
    await c.waitFor(() => c.messages.filter((m) => m.type === 'trade').length >= 20, 20_000);
    c.close();
    let book: { best_bid: number; best_ask: number } | undefined;
    let checked = 0;
    for (const m of c.messages) {
      if (m.type === 'orderbook_update' || m.type === 'orderbook_snapshot') book = m.data as typeof book;
      if (m.type !== 'trade' || !book) continue;
      expect(m.price).toBe(m.side === 'buy' ? book.best_ask : book.best_bid);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    expect(tradeSequenceProblems(c.messages.map((m) => ({ ...m, symbol: m.symbol === 'US.AAPL' ? SYMBOL : m.symbol })), SYMBOL)).toEqual([]);
  }, 30_000);

  it('after a restart (empty trade rings) GET /trades?limit= answers from Redis, the range from PostgreSQL', async () => {
    binance.pause();
    await sleep(300);
    await rt.stop();
    const sent = [...binance.tradesSent(NATIVE)].sort((a, b) => a - b).map(String);
    rt = await startRuntime(overrides(), dep);
    const recent = await rt.get<{ source: string; trades: TradeItem[] }>(`/trades/${SYMBOL}?limit=20`);
    expect(recent.body.source).toBe('redis');
    expect(recent.body.trades.map((t) => t.trade_id)).toEqual(sent.slice(-20));
    const first = binance.trades(NATIVE).find((t) => String(t.id) === sent[0])!;
    const ranged = await rt.get<{ source: string; trades: TradeItem[] }>(`/trades/${SYMBOL}?from=${first.time}&limit=10000`);
    expect(ranged.body.trades.map((t) => t.trade_id).sort()).toEqual([...sent].sort());
  }, 60_000);
});
