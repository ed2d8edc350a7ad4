// Candles and the 24 h ticker end to end on the simulator: a candles subscriber gets today's
// candles, then live updates and closes with no gap in the channel's seq; a resume replays what
// changed meanwhile; every closed candle and the ticker equal a recomputation in SQL from the
// stored `trades`; GET /candles and /ticker answer the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

let rt: Runtime;
const SYMBOL = 'US.AAPL';

interface CandleJson { time: string; open: number; high: number; low: number; close: number; volume: number; trades: number; vwap: number; closed: boolean }

beforeAll(async () => {
  rt = await startRuntime({ symbols: [SYMBOL, 'BTC-USD'], simUpdatesPerSecond: 40, simTradesPerUpdate: 1, candlePublishMs: 100, shards: 1 });
}, 60_000);

afterAll(async () => {
  await rt?.stop();
});

/** Gaps in one state channel: a snapshot sets (epoch, seq); each frame after it is seq + 1. */
function channelProblems(messages: Msg[], snapshotType: string, frameType: string, match: (m: Msg) => boolean): string[] {
  const problems: string[] = [];
  let seq: number | undefined;
  let epoch: number | undefined;
  for (const m of messages.filter(match)) {
    if (m.type === snapshotType && (m.type !== frameType || seq === undefined)) {
      seq = m.seq;
      epoch = m.epoch;
      continue;
    }
    if (m.type !== frameType) continue;
    const first = seq === 0 && epoch === 0 && m.seq === 1;
    if (!first && (m.epoch !== epoch || m.seq !== seq! + 1)) problems.push(`after ${epoch}/${seq} got ${m.epoch}/${m.seq}`);
    seq = m.seq;
    epoch = m.epoch;
  }
  return problems;
}

/** The candles of `interval` recomputed from the stored trades (first/last by time, then seq). */
async function sqlCandles(bucket: string, fromMs: number): Promise<Map<string, CandleJson>> {
  const r = await rt.db.query<{ t: Date; open: string; high: string; low: string; close: string; volume: string; trades: string; vwap: string }>(`
    select date_bin($3::interval, time, timestamptz 'epoch') as t,
           (array_agg(price order by time, epoch, seq))[1] as open, max(price) as high, min(price) as low,
           (array_agg(price order by time desc, epoch desc, seq desc))[1] as close,
           sum(size) as volume, count(*) as trades, sum(price * size) / nullif(sum(size), 0) as vwap
      from trades where symbol = $1 and time >= timestamptz 'epoch' + $2::float8 * interval '1 millisecond'
     group by 1 order by 1`, [SYMBOL, fromMs, bucket]);
  return new Map(r.rows.map((x) => [x.t.toISOString(), {
    time: x.t.toISOString(), open: +x.open, high: +x.high, low: +x.low, close: +x.close, volume: +x.volume, trades: +x.trades, vwap: +x.vwap, closed: true,
  }]));
}

function expectSame(live: CandleJson, stored: CandleJson | undefined): void {
  expect(stored, `stored candle ${live.time}`).toBeDefined();
  expect([live.time, live.open, live.high, live.low, live.close, live.volume, live.trades])
    .toEqual([stored!.time, stored!.open, stored!.high, stored!.low, stored!.close, stored!.volume, stored!.trades]);
  // Frames write numbers with at most 8 decimals: the vwap is within half a unit of the 8th.
  expect(Math.abs(live.vwap - stored!.vwap)).toBeLessThanOrEqual(5e-9 + 1e-12 * stored!.vwap);
}

describe('candles and the 24 h ticker', () => {
  let c: TestClient;

  it('a candles:1s subscriber gets today\'s candles, then updates and closes with no gap; closed candles equal SQL over the stored trades', async () => {
    c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: SYMBOL, channels: ['candles:1s', 'candles:1m', 'ticker'] });
    const snap = await c.waitFor((m) => m.type === 'candles_snapshot' && m.interval === '1s');
    expect(snap.symbol).toBe(SYMBOL);
    await c.waitFor((m) => m.type === 'ticker');
    await c.waitFor(() => c.messages.filter((m) => m.type === 'candle' && m.interval === '1s' && (m.candle as CandleJson).closed).length >= 3, 15_000);
    const is1s = (m: Msg) => (m.type === 'candles_snapshot' || m.type === 'candle') && m.interval === '1s';
    expect(channelProblems(c.messages, 'candles_snapshot', 'candle', is1s)).toEqual([]);
    expect(channelProblems(c.messages, 'candles_snapshot', 'candle', (m) => m.interval === '1m')).toEqual([]);
    expect(channelProblems(c.messages, 'ticker', 'ticker', (m) => m.type === 'ticker')).toEqual([]);

    // The last state of each closed 1s candle, against SQL once the writer has stored its trades.
    const closed = new Map<string, CandleJson>();
    for (const m of c.messages.filter((x) => x.type === 'candle' && x.interval === '1s')) {
      const candle = m.candle as CandleJson;
      if (candle.closed) closed.set(candle.time, candle);
    }
    await sleep(500);
    const sql = await sqlCandles('1 second', Date.parse([...closed.keys()][0]));
    for (const candle of closed.values()) expectSame(candle, sql.get(candle.time));
  }, 30_000);

  it('GET /candles answers the same candles, and the ticker equals SQL over the trades of its window', async () => {
    const r = await rt.get<{ symbol: string; interval: string; candles: CandleJson[] }>(`/candles/${SYMBOL}?interval=1s`);
    expect(r.status).toBe(200);
    const closed = r.body.candles.filter((x) => x.closed);
    expect(closed.length).toBeGreaterThanOrEqual(3);
    const sql = await sqlCandles('1 second', Date.parse(closed[0].time));
    for (const candle of closed) expectSame(candle, sql.get(candle.time));
    const times = r.body.candles.map((x) => x.time);
    expect([...times].sort()).toEqual(times); // oldest first

    // The ticker as published holds the first `trades` trades of its window: the same trades, from the table.
    const t = await rt.get<{ ticker: { window_start: string; open: number; high: number; low: number; last: number; volume: number; trades: number } }>(`/ticker/${SYMBOL}`);
    const w = t.body.ticker;
    await sleep(500); // the writer stores them
    const rows = (await rt.db.query<{ price: string; size: string }>(
      'select price, size from trades where symbol = $1 and time >= $2::timestamptz order by time, epoch, seq limit $3', [SYMBOL, w.window_start, w.trades])).rows;
    expect(rows.length).toBe(w.trades);
    const prices = rows.map((x) => +x.price);
    const volume = rows.reduce((n, x) => n + BigInt(Math.round(+x.size * 1e10)), 0n);
    expect([w.open, w.high, w.low, w.last]).toEqual([prices[0], Math.max(...prices), Math.min(...prices), prices.at(-1)]);
    expect(BigInt(Math.round(w.volume * 1e10))).toBe(volume);
    const all = await rt.get<{ tickers: { symbol: string }[] }>('/ticker');
    expect(all.body.tickers.map((x) => x.symbol).sort()).toEqual(['BTC-USD', SYMBOL]);
  }, 30_000);

  it('a resume gets what changed meanwhile, then continues with no gap', async () => {
    const last = c.messages.filter((m) => m.type === 'candle' && m.interval === '1s').at(-1)!;
    c.close();
    await sleep(1500);
    const again = await TestClient.connect(rt.ws);
    again.send({ action: 'subscribe', symbol: SYMBOL, channels: ['candles:1s'], resume: { 'candles:1s': { seq: last.seq, epoch: last.epoch } } });
    const snap = await again.waitFor((m) => m.type === 'candles_snapshot');
    expect(snap.reason).toBe('resume');
    const changed = snap.candles as CandleJson[];
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed.length).toBeLessThanOrEqual(4); // only the buckets touched since
    await again.waitFor(() => again.messages.filter((m) => m.type === 'candle').length >= 5);
    expect(channelProblems(again.messages, 'candles_snapshot', 'candle', () => true)).toEqual([]);
    again.close();
  }, 30_000);

  it('refuses a bad interval with a 400 naming it', async () => {
    const r = await rt.get<{ error: { message: string } }>(`/candles/${SYMBOL}?interval=2m`);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^interval: /);
  });
});
