// Stored candles on plain PostgreSQL (DATABASE_URL): random trades with exact decimals, equal times and several epochs,
// across bucket edges and New York's DST changes, read back per interval by readCandles and compared to a recomputation
// in JS; ranges, limits and paging; closed; the snapshot pool's task.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERVALS, type Interval } from '../../src/analytics/intervals.js';
import { MAX_CANDLES_READ, candlesQuery, readCandles } from '../../src/store/candle-query.js';
import { storedCandles } from '../../src/store/candles-task.js';
import { poolFor } from '../../src/store/history-points.js';
import { migrate } from '../../src/store/migrations.js';
import { EDGES, EPOCHS, type TestTrade, insertTrades, randomTrades, referenceCandles } from '../helpers/candles.js';
import { createDeployment } from '../helpers/runtime.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const ZONE = 'America/New_York';
const OPTS = { timescale: 'auto', compressAfter: '1 day', retention: '3650 days', marketTimeZone: ZONE } as const;
const HOUR = 3_600_000;
const cleanup: (() => Promise<unknown>)[] = [];

const FROM = Date.UTC(2024, 2, 1);
const TO = Date.UTC(2024, 11, 1);

let pool: pg.Pool;
let deploymentUrl: string;
const S = `CS${TAG}`;
let trades: TestTrade[];

beforeAll(async () => {
  const d = await createDeployment();
  cleanup.push(() => d.drop());
  deploymentUrl = d.url;
  pool = new pg.Pool({ connectionString: d.url, max: 2 });
  cleanup.push(() => pool.end());
  expect(await migrate(pool, OPTS)).toEqual({ timescale: false, applied: [1, 2, 3, 4, 5, 6, 7] });
  trades = randomTrades(1, 4000, EDGES, EPOCHS);
  await insertTrades(pool, S, trades);
  // Another symbol's trades at the same times stay out of S's candles.
  await insertTrades(pool, `${S}.OTHER`, randomTrades(2, 500, EDGES, EPOCHS));
});

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

const read = (interval: Interval, timeZone = ZONE, fromMs = FROM, toMs = TO, limit = MAX_CANDLES_READ, nowMs?: number) =>
  readCandles(pool, { symbol: S, interval, fromMs, toMs, limit, timescale: false, timeZone, nowMs });
const reference = (interval: Interval, timeZone = ZONE, fromMs = FROM, toMs = TO, limit = MAX_CANDLES_READ, nowMs = Date.now()) =>
  referenceCandles(trades, interval, timeZone, { fromMs, toMs, limit, nowMs });

describe('stored candles on plain PostgreSQL', () => {
  it('every interval equals the recomputation from the trades, across DST changes, equal times and epochs', async () => {
    for (const interval of INTERVALS) {
      const got = await read(interval);
      expect(got.length, interval).toBeGreaterThan(interval === '1d' ? 6 : 20);
      expect(got, interval).toEqual(reference(interval));
    }
    // The 23- and 25-hour days hold their trades and no other.
    const days = await read('1d');
    expect(days.map((c) => c.time)).toEqual(expect.arrayContaining(['2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z', '2024-11-03T04:00:00.000Z', '2024-11-04T05:00:00.000Z']));
    // Read from trades, bucketed by date_bin and the zone's day.
    const q = await candlesQuery(pool, { symbol: S, interval: '5m', fromMs: FROM, toMs: TO, limit: 1, timescale: false, timeZone: ZONE });
    expect(q.text).toMatch(/from trades/);
    expect(q.values[4]).toBe('5 minutes');
  });

  it('a day starts at 00:00 of the zone asked for: half-hour, quarter-hour and half-hour-DST zones agree with the live buckets', async () => {
    for (const zone of ['UTC', 'Europe/London', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe']) {
      expect(await read('1d', zone), zone).toEqual(reference('1d', zone));
    }
  });

  it('answers buckets starting in [from, to), the newest `limit` of them, and pages back from the first one\'s start', async () => {
    // Edges inside buckets: a bucket starting before `from` is left out whole, one starting before `to` is in whole.
    const from = Date.UTC(2024, 2, 10, 4, 59, 59, 500);
    const to = Date.UTC(2024, 2, 11, 4, 0, 0, 1);
    for (const interval of INTERVALS) {
      expect(await read(interval, ZONE, from, to), interval).toEqual(reference(interval, ZONE, from, to));
    }
    const days = await read('1d', ZONE, from, to);
    expect(days.map((c) => c.time)).toEqual(['2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z']);

    const all = await read('1m');
    const pages: string[] = [];
    for (let to2 = TO; ;) {
      const page = await read('1m', ZONE, FROM, to2, 7);
      if (page.length === 0) break;
      expect(page).toEqual(reference('1m', ZONE, FROM, to2, 7));
      pages.unshift(...page.map((c) => c.time));
      to2 = Date.parse(page[0].time);
    }
    expect(pages).toEqual(all.map((c) => c.time));
    expect(await read('1m', ZONE, TO, FROM)).toEqual([]);
  });

  it('marks the bucket `now` is in open, and the ones before it closed', async () => {
    const now = Date.now();
    const recent = randomTrades(3, 200, [Math.floor(now / HOUR) * HOUR - HOUR, now - 1000], [EPOCHS[2]], 'n')
      .filter((t) => t.timeUs < BigInt(now) * 1000n);
    recent.push({ ...recent[0], timeUs: BigInt(now) * 1000n, seq: 10_000, tradeId: 'now' });
    const symbol = `${S}.NOW`;
    await insertTrades(pool, symbol, recent);
    for (const interval of INTERVALS) {
      const got = await readCandles(pool, { symbol, interval, fromMs: now - 3 * 24 * HOUR, toMs: now + HOUR, limit: 1000, timescale: false, timeZone: ZONE, nowMs: now });
      expect(got, interval).toEqual(referenceCandles(recent, interval, ZONE, { fromMs: now - 3 * 24 * HOUR, toMs: now + HOUR, limit: 1000, nowMs: now }));
      expect(got[got.length - 1].closed, interval).toBe(false);
    }
  });

  it('rejects an unknown interval, a limit out of range and a range that is not finite', async () => {
    const base = { symbol: S, interval: '1m' as Interval, fromMs: FROM, toMs: TO, limit: 10, timescale: false, timeZone: ZONE };
    await expect(readCandles(pool, { ...base, interval: '2m' as Interval })).rejects.toThrow(RangeError);
    await expect(readCandles(pool, { ...base, limit: 0 })).rejects.toThrow(/limit must be an integer from 1 to 10000/);
    await expect(readCandles(pool, { ...base, limit: MAX_CANDLES_READ + 1 })).rejects.toThrow(RangeError);
    await expect(readCandles(pool, { ...base, toMs: Infinity })).rejects.toThrow(/must be finite/);
  });

  it('the snapshot pool\'s task reads the same candles', async () => {
    try {
      const got = await storedCandles({
        kind: 'candles', databaseUrl: deploymentUrl, timescale: false, timeZone: ZONE, symbol: S, interval: '15m', fromMs: FROM, toMs: TO, limit: 50,
      });
      expect(got).toEqual(reference('15m', ZONE, FROM, TO, 50));
    } finally {
      await poolFor(deploymentUrl).end();
    }
  });

  it('a MARKET_TIMEZONE PostgreSQL does not know stops migrate with the option named', async () => {
    await expect(migrate(pool, { ...OPTS, marketTimeZone: 'Mars/Base' })).rejects.toThrow(/marketTimeZone \(MARKET_TIMEZONE\) must be a time zone PostgreSQL knows/);
  });
});
