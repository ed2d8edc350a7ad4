// Candles are exact across a database outage and a restart, on plain PostgreSQL and on TimescaleDB:
// for every symbol and interval of the last hour, GET /candles equals the candles recomputed in SQL
// from the `trades` table (first and last by time, then epoch and seq), the open candles included
// (compared over the trades they hold: `through`). Before the restart's buckets they come from
// the stored trades (continuous aggregates on TimescaleDB); after it, from the shards' memory,
// seeded at start from the same table.
import { afterAll, describe, expect, it } from 'vitest';
import { INTERVALS } from '../../src/analytics/intervals.js';
import { DATABASE_URL, TIMESCALE_URL, type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { TestClient } from '../helpers/ws-client.js';

const SYMBOLS = ['US.AAPL', 'BTC-USD'];
const WIDTH: Record<string, string> = { '1s': '1 second', '1m': '1 minute', '5m': '5 minutes', '15m': '15 minutes', '1h': '1 hour', '4h': '4 hours', '1d': '1 day' };
const cleanup: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

interface CandleJson { time: string; open: number; high: number; low: number; close: number; volume: number; trades: number; vwap: number | null; closed: boolean }
type Stats = { writer: { pendingRows: number; journal: { records: number }; tradesTaken: number; tradesCommitted: number } };

function throughProxy(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

/** The writer holds no more than its current batch: the journal is replayed, the outage's backlog committed. */
async function caughtUp(rt: Runtime): Promise<void> {
  let s: Stats | undefined;
  for (let i = 0; i < 600; i++) {
    s = (await rt.get<Stats>('/stats')).body;
    if (s.writer.pendingRows < 500 && s.writer.journal.records === 0) return;
    await sleep(50);
  }
  throw new Error(`the writer did not catch up: ${JSON.stringify(s?.writer)}`);
}

/** Waits until the table holds the symbol's trades up to (epoch, seq). */
async function stored(rt: Runtime, symbol: string, through: { epoch: number; seq: number }): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = await rt.db.query<{ n: string | null }>('select max(seq) as n from trades where symbol = $1 and epoch = $2', [symbol, through.epoch]);
    if (Number(r.rows[0].n ?? 0) >= through.seq) return;
    await sleep(50);
  }
  const have = await rt.db.query('select epoch, min(seq) as lo, max(seq) as hi, count(*) as n from trades where symbol = $1 group by epoch order by epoch', [symbol]);
  throw new Error(`${symbol}: trades up to ${through.epoch}/${through.seq} not stored; stored: ${JSON.stringify(have.rows)}; writer: ${JSON.stringify((await rt.get<Stats>('/stats')).body.writer)}`);
}

/** The candles of `interval` from the stored trades up to (epoch, seq) of the trades channel (MARKET_TIMEZONE is UTC here). */
async function sqlCandles(rt: Runtime, symbol: string, interval: string, fromMs: number, through: { epoch: number; seq: number }): Promise<CandleJson[]> {
  const r = await rt.db.query<{ t: Date; open: string; high: string; low: string; close: string; volume: string; trades: string; vwap: string }>(`
    select date_bin($3::interval, time, timestamptz 'epoch') as t,
           (array_agg(price order by time, epoch, seq))[1] as open, max(price) as high, min(price) as low,
           (array_agg(price order by time desc, epoch desc, seq desc))[1] as close,
           sum(size) as volume, count(*) as trades, sum(price * size) / nullif(sum(size), 0) as vwap
      from trades
     where symbol = $1 and time >= date_bin($3::interval, timestamptz 'epoch' + $2::float8 * interval '1 millisecond', timestamptz 'epoch')
       and (epoch < $4 or (epoch = $4 and seq <= $5))
     group by 1 order by 1`, [symbol, fromMs, WIDTH[interval], through.epoch, through.seq]);
  return r.rows.map((x) => ({
    time: x.t.toISOString(), open: +x.open, high: +x.high, low: +x.low, close: +x.close, volume: +x.volume, trades: +x.trades, vwap: +x.vwap, closed: false,
  }));
}

async function exactAcrossOutageAndRestart(serverUrl: string): Promise<void> {
  const dep = await createDeployment(serverUrl);
  cleanup.push(() => dep.drop());
  const proxy = await startProxy(Number(new URL(serverUrl).port || 5432));
  cleanup.push(async () => proxy.close());
  const overrides = {
    symbols: SYMBOLS, simUpdatesPerSecond: 30, simTradesPerUpdate: 1, candlePublishMs: 100, shards: 1,
    databaseUrl: throughProxy(dep.url, proxy.port),
  };
  let rt = await startRuntime(overrides, dep);
  cleanup.push(() => rt.stop());
  await sleep(2000);
  proxy.cut(); // the database away: trades are held, then journaled; candles go on in memory
  await sleep(1500);
  await proxy.restore();
  await caughtUp(rt);
  await sleep(500);
  await rt.stop();
  rt = await startRuntime(overrides, dep); // seeded from the stored trades
  // The live channel continues the day's candle: its snapshot holds the trades of before the restart.
  const firstRun = (await rt.db.query<{ n: string }>("select count(*) as n from trades where symbol = $1", [SYMBOLS[0]])).rows[0].n;
  const client = await TestClient.connect(rt.ws);
  client.send({ action: 'subscribe', symbol: SYMBOLS[0], channels: ['candles:1d'] });
  const snap = await client.waitFor((m) => m.type === 'candles_snapshot');
  client.close();
  expect((snap.candles as CandleJson[])[0].trades).toBeGreaterThanOrEqual(Number(firstRun));
  await sleep(2500);
  await caughtUp(rt);

  const fromMs = Math.floor(Date.now() / 86_400_000) * 86_400_000; // today (UTC, the market time zone here): every interval's buckets start at or after it
  let compared = 0;
  for (const symbol of SYMBOLS) {
    for (const interval of INTERVALS) {
      const r = await rt.get<{ candles: CandleJson[]; through?: { epoch: number; seq: number } }>(`/candles/${symbol}?interval=${interval}&from=${fromMs}&limit=10000`);
      expect(r.status).toBe(200);
      expect(r.body.through, `${symbol} ${interval}: memory candles say which trades they hold`).toBeDefined();
      await stored(rt, symbol, r.body.through!);
      const sql = await sqlCandles(rt, symbol, interval, fromMs, r.body.through!);
      const got = r.body.candles.filter((c) => Date.parse(c.time) >= Date.parse(sql[0]?.time ?? '9999'));
      expect(got.map((c) => c.time), `${symbol} ${interval}: the same buckets`).toEqual(sql.map((c) => c.time));
      for (let i = 0; i < got.length; i++) {
        const a = got[i];
        const b = sql[i];
        expect([a.open, a.high, a.low, a.close, a.volume, a.trades], `${symbol} ${interval} ${a.time}`).toEqual([b.open, b.high, b.low, b.close, b.volume, b.trades]);
        expect(Math.abs(a.vwap! - b.vwap!)).toBeLessThanOrEqual(5e-9 + 1e-12 * b.vwap!);
        compared++;
      }
    }
  }
  expect(compared).toBeGreaterThanOrEqual(SYMBOLS.length * 10); // 1s candles of the ~6 s, and every coarser one
  await rt.stop();
}

describe('candles equal the stored trades across an outage and a restart', () => {
  it('on PostgreSQL (bucketing queries over trades)', () => exactAcrossOutageAndRestart(DATABASE_URL), 120_000);
  it('on TimescaleDB (continuous aggregates)', () => exactAcrossOutageAndRestart(TIMESCALE_URL), 120_000);
});
