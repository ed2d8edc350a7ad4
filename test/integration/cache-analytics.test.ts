// The cache API's market analytics on the simulator: GET /api/v1/cache/price-change, /price-history and
// /trades, checked against SQL over the stored trades. Trades stored before the runtime started (35
// days of them, written into `trades` directly) are served from PostgreSQL, those of the last day
// from the candles seeded from them, the runtime's own from its rings; the recent trades are the
// ones the runtime's GET /trades answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { migrate } from '../../src/store/migrations.js';
import { type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';

const SYMBOL = 'US.AAPL';
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
let rt: Runtime;
let dep: Awaited<ReturnType<typeof createDeployment>>;
/** Before the runtime started: every trade written into the table directly is older than this. */
let t0: number;

interface Envelope<T> { success: boolean; data: T; cached?: boolean; tier?: string; error?: { code: string; field?: string; message: string } }
interface Change { symbol: string; minutes: number; from: string; price_then: number | null; price_now: number | null; change: number | null; change_percent: number | null }
interface History { symbol: string; since: string; points: { time: string; price: number }[]; next_since: string | null; sources: { memory: number; database: number } }
interface Trade { seq: number; epoch: number; trade_id: string; price: number; size: number; side: string; time: string }

async function api<T>(path: string): Promise<{ status: number; headers: Headers; body: Envelope<T> }> {
  const r = await fetch(`${rt.http}/api/v1/cache${path}`);
  return { status: r.status, headers: r.headers, body: (await r.json()) as Envelope<T> };
}

/** The price of the last stored trade at or before `iso`, by (time, epoch, seq); null when none. */
async function sqlPriceAt(iso: string): Promise<number | null> {
  const r = await rt.db.query<{ price: string }>(
    'select price from trades where symbol = $1 and time <= $2::timestamptz order by time desc, epoch desc, seq desc limit 1', [SYMBOL, iso]);
  return r.rows.length === 0 ? null : +r.rows[0].price;
}

/** The close (last trade's price) of each minute with stored trades from `fromIso` on, before `toMs`. */
async function sqlCloses(fromIso: string, toMs: number): Promise<{ time: string; price: number }[]> {
  const r = await rt.db.query<{ t: Date; close: string }>(`
    select date_bin('1 minute', time, timestamptz 'epoch') as t, (array_agg(price order by time desc, epoch desc, seq desc))[1] as close
      from trades where symbol = $1 and time >= $2::timestamptz and time < timestamptz 'epoch' + $3::float8 * interval '1 millisecond'
     group by 1 order by 1`, [SYMBOL, fromIso, toMs]);
  return r.rows.map((x) => ({ time: x.t.toISOString(), price: +x.close }));
}

/** Points of minutes that had ended (and been stored) before `endMs`. */
const closedBy = (points: { time: string; price: number }[], endMs: number) => points.filter((p) => Date.parse(p.time) + MIN <= endMs);

async function expectChangeEqualsSql(minutes: number): Promise<Change> {
  const r = await api<Change>(`/price-change/${SYMBOL}?minutes=${minutes}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const c = r.body.data;
  expect(c.symbol).toBe(SYMBOL);
  expect(c.minutes).toBe(minutes);
  await sleep(300); // the writer stores the newest trades
  expect(c.price_then, `price ${minutes} min ago (${c.from})`).toBe(await sqlPriceAt(c.from));
  // price_now is the ring's newest trade when the answer was made: one of those stored around then
  // (the simulator's clock and the cache actor's may differ by a few ms).
  const made = Date.parse(c.from) + minutes * MIN;
  const around = (await rt.db.query<{ price: string }>(
    `select price from trades where symbol = $1
        and time between timestamptz 'epoch' + $2::float8 * interval '1 millisecond' and timestamptz 'epoch' + $3::float8 * interval '1 millisecond'`,
    [SYMBOL, made - 3000, made + 1000])).rows.map((x) => +x.price);
  expect(around).toContain(c.price_now);
  if (c.price_then !== null) {
    expect(c.change).toBe(c.price_now! - c.price_then);
    expect(c.change_percent).toBeCloseTo((c.change! / c.price_then) * 100, 12);
  }
  return c;
}

beforeAll(async () => {
  // The schema first, then trades from before this process, then the runtime on that database: as
  // a restart finds them (with its candles seeded from them).
  dep = await createDeployment();
  const pool = new pg.Pool({ connectionString: dep.url, max: 1 });
  try {
    await migrate(pool, { timescale: 'auto', compressAfter: '7 days', retention: '90 days' });
    t0 = Date.now();
    // Every 2 h for 35 days (17 min off the start's phase: a week or 30 days back, the last one is
    // over an hour earlier), every 50 s from 30 h before the start, every 7 s from 3 h before it up
    // to 90 s before it, the first of those twice (one time, two trades: seq orders them). Epoch 1.
    await pool.query(`
      insert into trades (time, symbol, trade_id, price, size, side, epoch, seq, feed_time)
      select t, $1, 'hist-' || n, round((150 + 20 * sin(n / 37.0))::numeric, 4), 0.5, case when n % 2 = 0 then 'buy' else 'sell' end, 1, n, t
        from (select row_number() over (order by t) as n, t
                from (select generate_series(to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0), interval '2 hours') as t
                      union all
                      select generate_series(to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0), interval '50 seconds')
                      union all
                      select generate_series(to_timestamp($4 / 1000.0), to_timestamp($5 / 1000.0), interval '7 seconds')
                      union all
                      select to_timestamp($4 / 1000.0)) s) x`,
    [SYMBOL, t0 - 35 * DAY + 17 * MIN, t0 - 30 * HOUR, t0 - 3 * HOUR, t0 - 90_000]);
  } finally {
    await pool.end();
  }
  rt = await startRuntime({
    symbols: [SYMBOL, 'BTC-USD'], simUpdatesPerSecond: 40, simTradesPerUpdate: 1, candlePublishMs: 100, shards: 1,
    tradeCapacity: 8192, retention: '90 days',
  }, dep);
  // The cache service connects in the background: /api/ answers 503 until then.
  for (let i = 0; (await api('/symbols')).status === 503; i++) {
    if (i > 100) throw new Error('the cache service did not connect within 10 s');
    await sleep(100);
  }
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  await dep?.drop();
});

describe('GET /api/v1/cache/trades/{symbol}', () => {
  it('answers the runtime\'s newest trades, oldest first, as GET /trades does and as they are stored', async () => {
    for (let i = 0; (await rt.get<{ trades: Trade[] }>(`/trades/${SYMBOL}?limit=100`)).body.trades.length < 100; i++) {
      if (i > 100) throw new Error('no 100 trades within 10 s');
      await sleep(100);
    }
    const r = await api<{ symbol: string; source: string; trades: Trade[] }>(`/trades/${SYMBOL}?limit=20`);
    const front = await rt.get<{ symbol: string; source: string; trades: Trade[] }>(`/trades/${SYMBOL}?limit=20`);
    expect(r.status).toBe(200);
    expect(r.body.success).toBe(true);
    const d = r.body.data;
    expect([d.symbol, d.source, d.trades.length]).toEqual([SYMBOL, 'memory', 20]);
    const seqs = d.trades.map((t) => t.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i)); // the newest 20, oldest first, gap-free
    // One implementation: the runtime's answer a moment later is the same run, moved on by the trades since.
    expect(front.body.source).toBe('memory');
    const same = front.body.trades.filter((t) => t.seq <= seqs.at(-1)!);
    expect(same).toEqual(d.trades.slice(d.trades.length - same.length));
    expect((await api<unknown>(`/trades/${SYMBOL}`)).body.data).toMatchObject({ trades: expect.any(Array) });
    expect(((await api<{ trades: Trade[] }>(`/trades/${SYMBOL}`)).body.data.trades).length).toBe(100); // the default

    await sleep(500); // the writer stores them
    const stored = await rt.db.query<{ trade_id: string; price: string; size: string; side: string; seq: string; time: Date }>(
      'select trade_id, price, size, side, seq, time from trades where symbol = $1 and trade_id = any($2) order by time, epoch, seq', [SYMBOL, d.trades.map((t) => t.trade_id)]);
    expect(stored.rows.map((x) => ({ trade_id: x.trade_id, price: +x.price, size: +x.size, side: x.side, seq: +x.seq, time: x.time.toISOString() })))
      .toEqual(d.trades.map((t) => ({ trade_id: t.trade_id, price: t.price, size: t.size, side: t.side, seq: t.seq, time: t.time })));
  });

  it('refuses a bad limit with a 400 naming query.limit, an unknown symbol with 404, a bad one with 400', async () => {
    for (const q of ['0', '10001', 'abc', '1.5', '-3', '']) {
      const r = await api(`/trades/${SYMBOL}?limit=${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_field', field: 'query.limit' });
    }
    expect((await api(`/trades/NOPE.X`)).status).toBe(404);
    expect((await api(`/trades/NOPE.X`)).body).toMatchObject({ success: false, error: { code: 'not_found' } });
    expect((await api(`/trades/a%20b`)).body.error).toMatchObject({ code: 'invalid_field', field: 'path.symbol' });
  });
});

describe('GET /api/v1/cache/price-change/{symbol}', () => {
  it('equals SQL over the stored trades for periods from 1 minute to 30 days', async () => {
    for (const minutes of [1, 2, 5, 60, 61, 180, 181, 1440, 10_080, 43_200]) {
      const c = await expectChangeEqualsSql(minutes);
      expect(c.price_then, `${minutes} min`).not.toBeNull(); // the stored trades reach 35 days back
    }
  });

  it('defaults to 60 minutes, is cached for the namespace TTL with a weak ETag, and answers 304 to it', async () => {
    expect((await api<Change>(`/price-change/${SYMBOL}`)).body.data.minutes).toBe(60);
    const first = await api<Change>(`/price-change/${SYMBOL}?minutes=7`);
    expect(first.body).toMatchObject({ success: true, cached: false, tier: 'source' });
    const again = await api<Change>(`/price-change/${SYMBOL}?minutes=7`);
    expect(again.body).toMatchObject({ cached: true, tier: 'memory', data: first.body.data });
    expect(again.headers.get('cache-control')).toBe('private, max-age=5');
    expect(again.headers.get('x-ratelimit-limit')).toBe('1000');
    const etag = again.headers.get('etag')!;
    expect(etag).toMatch(/^W\//);
    const r = await fetch(`${rt.http}/api/v1/cache/price-change/${SYMBOL}?minutes=7`, { headers: { 'if-none-match': etag } });
    expect(r.status).toBe(304);
  });

  it('refuses a bad period with a 400 naming query.minutes, an unknown symbol with 404', async () => {
    for (const q of ['0', '43201', '1.5', 'abc', '', '1e3']) {
      const r = await api(`/price-change/${SYMBOL}?minutes=${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_field', field: 'query.minutes' });
    }
    const r = await api(`/price-change/NOPE.X?minutes=5`);
    expect(r.status).toBe(404);
    expect(r.body.error!.message).toContain('NOPE.X');
  });
});

describe('GET /api/v1/cache/price-history/{symbol}', () => {
  it('answers the 1m closes since a time, stored ones from PostgreSQL and the runtime\'s from memory, equal to SQL', async () => {
    const since = new Date(t0 - 28 * HOUR).toISOString();
    const asked = Date.now();
    const r = await api<History>(`/price-history/${SYMBOL}?since=${since}&limit=10000`);
    expect(r.status).toBe(200);
    const h = r.body.data;
    expect(h.since).toBe(new Date(Math.ceil(Date.parse(since) / MIN) * MIN).toISOString());
    expect(h.next_since).toBeNull();
    expect(h.sources.database).toBeGreaterThan(3 * 60); // at least the 4 hours before the seeded day
    expect(h.points.length).toBe(h.sources.database + h.sources.memory);
    const times = h.points.map((p) => p.time);
    expect([...times].sort()).toEqual(times);
    await sleep(500);
    expect(closedBy(h.points, asked - 1000)).toEqual(await sqlCloses(h.since, Math.floor((asked - 1000) / MIN) * MIN));
  });

  it('pages with limit and next_since; the pages join into the whole', async () => {
    const since = t0 - 3 * HOUR - 30 * MIN;
    const whole = (await api<History>(`/price-history/${SYMBOL}?since=${since}&limit=10000`)).body.data;
    const paged: History['points'] = [];
    let next: string | null = String(since);
    for (let pages = 0; next !== null; pages++) {
      expect(pages).toBeLessThan(20);
      const page: History = (await api<History>(`/price-history/${SYMBOL}?since=${encodeURIComponent(next)}&limit=50`)).body.data;
      expect(page.points.length).toBeLessThanOrEqual(50);
      paged.push(...page.points);
      next = page.next_since;
    }
    // Up to the minute `whole` was answered in (the open minute moves on).
    const cut = Date.parse(whole.points.at(-1)!.time);
    expect(paged.filter((p) => Date.parse(p.time) < cut)).toEqual(whole.points.filter((p) => Date.parse(p.time) < cut));
  });

  it('pages over sparse stored minutes from a since before them all', async () => {
    const since = new Date(t0 - 40 * DAY).toISOString();
    const paged: History['points'] = [];
    let next: string | null = since;
    for (let pages = 0; next !== null && paged.length < 12; pages++) {
      expect(pages).toBeLessThan(20);
      const page: History = (await api<History>(`/price-history/${SYMBOL}?since=${encodeURIComponent(next)}&limit=5`)).body.data;
      expect(page.sources.memory).toBe(0);
      paged.push(...page.points);
      next = page.next_since;
    }
    // The first stored minutes, one every 2 h from 35 days back.
    expect(paged.slice(0, 12)).toEqual((await sqlCloses(since, t0 - 30 * HOUR)).slice(0, 12));
  });

  it('defaults to the last 24 hours and 500 points; refuses bad input naming the field', async () => {
    const before = Date.now();
    const r = await api<History>(`/price-history/${SYMBOL}`);
    expect(r.status).toBe(200);
    const since = Date.parse(r.body.data.since);
    expect(since).toBeGreaterThanOrEqual(Math.ceil((before - DAY) / MIN) * MIN);
    expect(since).toBeLessThanOrEqual(Date.now() - DAY + MIN);
    expect(r.body.data.points.length).toBeLessThanOrEqual(500);
    for (const [q, field] of [['since=yesterday', 'query.since'], ['since=2026-13-01T00:00:00Z', 'query.since'], ['since=-5', 'query.since'], ['limit=0', 'query.limit'], ['limit=10001', 'query.limit']]) {
      const bad = await api(`/price-history/${SYMBOL}?${q}`);
      expect(bad.status, q).toBe(400);
      expect(bad.body.error, q).toMatchObject({ code: 'invalid_field', field });
    }
    expect((await api(`/price-history/NOPE.X`)).status).toBe(404);
  });
});
