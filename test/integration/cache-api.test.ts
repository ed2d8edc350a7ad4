// The REST API under /api/v1/cache on the real server: each route group, errors in the envelope naming the field, 413, 429 and limit headers, ETag/304, /metrics.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, type Runtime, startRuntime } from '../helpers/runtime.js';

let rt: Runtime;
const API = () => `${rt.http}/api/v1/cache`;
// Each run its own symbols: the Redis tier is shared with other test files.
const run = Math.random().toString(36).slice(2, 8);
const SYM = `T${run.toUpperCase()}`;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(API() + path, {
    method,
    headers: { ...rt.admin, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: (text === '' ? undefined : JSON.parse(text)) as Record<string, any> };
}

/** The limiter's headers, as on every /api/ answer while RATE_LIMIT_ENABLED (the default). */
function expectLimitHeaders(r: { headers: Headers }, what: string) {
  expect(r.headers.get('x-ratelimit-limit'), what).toBe('1000');
  expect(r.headers.get('x-ratelimit-remaining'), what).toMatch(/^\d+$/);
  expect(r.headers.get('x-ratelimit-reset'), what).toMatch(/^\d+$/);
}

beforeAll(async () => {
  rt = await startRuntime({
    shards: 1, symbols: ['US.AAPL', 'BTC-USD'], simUpdatesPerSecond: 50, redisUrl: REDIS_URL,
    httpMaxBodyBytes: 4096, rateLimitRequests: 1000, rateLimitWindow: 60,
    rateLimitPerKey: { [`tight-${run}`]: { requests: 3, windowSeconds: 60 } },
  });
});
afterAll(() => rt?.stop());

describe('cache REST API', () => {
  it('stores and serves stock prices: one, latest for a list, bulk', async () => {
    const set = await call('POST', `/stock-prices/${SYM}`, { close_price: 150.25, volume: 1_000_000, high_price: 151, low_price: 149.5 });
    expect(set.status).toBe(201);
    const got = await call('GET', `/stock-prices/${SYM}`);
    expect(got.status).toBe(200);
    expect(got.body.success).toBe(true);
    expect(got.body.data).toMatchObject({ symbol: SYM, close_price: 150.25, volume: 1_000_000 });
    expect(got.body.cached).toBe(true);

    const bulk = await call('POST', '/stock-prices/bulk', [
      { symbol: `${SYM}B`, close_price: 2800.5, volume: 500_000 },
      { symbol: `${SYM}C`, close_price: 10 },
    ]);
    expect(bulk.status).toBe(201);
    expect(bulk.body.data.updated).toBe(2);
    const latest = await call('GET', `/stock-prices/latest?symbols=${SYM},${SYM}B,${SYM}Z`);
    expect(latest.status).toBe(200);
    expect(latest.body.data[SYM].close_price).toBe(150.25);
    expect(latest.body.data[`${SYM}B`].close_price).toBe(2800.5);
    expect(latest.body.data[`${SYM}Z`]).toBeNull();
    expect(latest.body.missing).toEqual([`${SYM}Z`]);
    expect((await call('GET', `/stock-prices/${SYM}Q`)).status).toBe(404);
  });

  it('answers 304 to If-None-Match with the current ETag, and a new ETag after a write', async () => {
    await call('POST', `/stock-prices/${SYM}E`, { close_price: 1 });
    const first = await call('GET', `/stock-prices/${SYM}E`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"/);
    expect(first.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const again = await call('GET', `/stock-prices/${SYM}E`, undefined, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    await call('POST', `/stock-prices/${SYM}E`, { close_price: 2 });
    const changed = await call('GET', `/stock-prices/${SYM}E`, undefined, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.data.close_price).toBe(2);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('stores options chains and summarises a symbol over its expiries', async () => {
    const chain = [
      { option_symbol: 'X1C', strike_price: 150, option_type: 'CALL', volume: 100, implied_volatility: 0.2 },
      { option_symbol: 'X1P', strike_price: 140, option_type: 'PUT', volume: 50, implied_volatility: 0.3 },
    ];
    expect((await call('POST', `/options/${SYM}/2026-12-18`, chain)).status).toBe(201);
    expect((await call('POST', `/options/${SYM}/2027-01-15`, [{ option_symbol: 'X2C', strike_price: 160, option_type: 'CALL', volume: 10 }])).status).toBe(201);
    const got = await call('GET', `/options/${SYM}/2026-12-18`);
    expect(got.body.data.contracts).toHaveLength(2);
    const summary = await call('GET', `/options/${SYM}/summary`);
    expect(summary.status).toBe(200);
    expect(summary.body.data).toMatchObject({ contracts: 3, calls: 2, puts: 1, call_volume: 110, put_volume: 50, strike_range: [140, 160] });
    expect(summary.body.data.expiries).toEqual(['2026-12-18', '2027-01-15']);
  });

  it('stores signals and lists the active ones of a symbol', async () => {
    const base = { symbol: SYM, signal_type: 'BUY', confidence: 0.85, target_price: 155, reasoning: 'momentum' };
    expect((await call('POST', `/signals/s1-${run}`, base)).status).toBe(201);
    expect((await call('POST', `/signals/s2-${run}`, { ...base, signal_type: 'SELL', expires_at: '2000-01-01T00:00:00Z' })).status).toBe(201);
    expect((await call('GET', `/signals/s1-${run}`)).body.data).toMatchObject(base);
    const active = await call('GET', `/signals/active?symbol=${SYM}`);
    expect(active.body.data.map((s: { signal_id: string }) => s.signal_id)).toEqual([`s1-${run}`]);
  });

  it('creates, reads, lists and deletes sessions', async () => {
    const user = `u-${run}`;
    const a = await call('POST', '/sessions', { user_id: user, role: 'trader', permissions: ['read', 'write'] });
    expect(a.status).toBe(201);
    const id = a.body.data.session_id as string;
    expect(id.length).toBeGreaterThanOrEqual(22);
    const b = await call('POST', '/sessions', { user_id: user });
    expect((await call('GET', `/sessions/${id}`)).body.data).toMatchObject({ user_id: user, role: 'trader', permissions: ['read', 'write'] });
    expect((await call('GET', `/sessions/user/${user}`)).body.count).toBe(2);
    expect((await call('DELETE', `/sessions/${id}`)).status).toBe(200);
    expect((await call('GET', `/sessions/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/sessions/user/${user}`)).body.data.deleted).toBe(1);
    expect((await call('GET', `/sessions/${b.body.data.session_id}`)).status).toBe(404);
  });

  it('stores analytics with ?ttl= and market status', async () => {
    const a = await call('POST', `/analytics/perf-${run}?ttl=120`, { metric: 'portfolio_performance', value: 15.5, period: '1d' });
    expect(a.status).toBe(201);
    expect(a.body.ttl).toBe(120);
    expect((await call('GET', `/analytics/perf-${run}`)).body.data.value).toBe(15.5);
    expect((await call('POST', '/market-status', { is_open: true, session: 'regular' })).status).toBe(201);
    expect((await call('GET', '/market-status')).body.data).toMatchObject({ is_open: true, session: 'regular' });
  });

  it('serves market data and prices of the streamed symbols from the runtime', async () => {
    let md;
    for (let i = 0; i < 50 && md?.status !== 200; i++) {
      md = await call('GET', '/market-data/BTC-USD');
      if (md.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(md!.status).toBe(200);
    expect(md!.body.data.symbol).toBe('BTC-USD');
    expect(md!.body.data.bid_levels.length).toBeGreaterThan(0);
    const price = await call('GET', '/price/BTC-USD');
    expect(price.status).toBe(200);
    expect(price.body.data.price).toBeGreaterThan(0);
    expect((await call('GET', '/market-data/NOPE')).status).toBe(404);
    expect((await call('GET', '/symbols')).body.data.symbols).toEqual(expect.arrayContaining(['US.AAPL', 'BTC-USD']));
  });

  it('invalidates by pattern, cleans up, and clears only with confirm=true', async () => {
    await call('POST', `/stock-prices/${SYM}I`, { close_price: 3 });
    await call('POST', `/analytics/inv-${run}`, { v: 1 });
    const held = await call('GET', `/stock-prices/${SYM}I`);
    expect(held.body).toMatchObject({ cached: true, tier: 'memory' });
    const inv = await call('POST', '/invalidate', { pattern: `*${SYM}I*` });
    expect(inv.status).toBe(200);
    expect(inv.body.data.deleted).toBeGreaterThanOrEqual(1);
    // Stock prices are written through to PostgreSQL: after invalidation they come back from there.
    const reloaded = await call('GET', `/stock-prices/${SYM}I`);
    expect(reloaded.body).toMatchObject({ cached: false, tier: 'source' }); // loaded now, not held by the cache
    expect(reloaded.body.data.close_price).toBe(3);
    expect((await call('GET', `/stock-prices/${SYM}I`)).body).toMatchObject({ cached: true, tier: 'memory' });
    // Analytics live only in the cache.
    expect((await call('POST', '/invalidate', { namespace: 'analytics' })).status).toBe(200);
    expect((await call('GET', `/analytics/inv-${run}`)).status).toBe(404);
    expect((await call('POST', '/cleanup')).status).toBe(200);
    const refused = await call('DELETE', '/clear');
    expect(refused.status).toBe(400);
    expect(refused.body.error.field).toBe('query.confirm');
    const stats = await call('GET', '/stats');
    expect(stats.status).toBe(200);
  });

  it('answers every kind of bad input with a 4xx in the envelope naming the field, with the rate-limit headers', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', `/stock-prices/${SYM}`, { close_price: 'x' }, 400, 'body.close_price'],
      ['POST', `/stock-prices/${SYM}`, { close_price: 1, colse: 2 }, 400, 'body.colse'],
      ['POST', `/stock-prices/${SYM}`, { close_price: -1 }, 400, 'body.close_price'],
      ['POST', '/stock-prices/bad$symbol', { close_price: 1 }, 400, 'path.symbol'],
      ['POST', '/stock-prices/bulk', [], 400, 'body'],
      ['POST', '/stock-prices/bulk', [{ symbol: 'A', close_price: 1 }, { close_price: 2 }], 400, 'body.1.symbol'],
      ['GET', '/stock-prices/latest', undefined, 400, 'query.symbols'],
      ['POST', `/options/${SYM}/2026-13-45`, [], 400, 'path.expiry'],
      ['POST', `/options/${SYM}/2026-12-18`, [{ option_symbol: 'A', strike_price: 1, option_type: 'STRADDLE' }], 400, 'body.0.option_type'],
      ['POST', '/signals/s', { symbol: SYM, signal_type: 'BUY', confidence: 2 }, 400, 'body.confidence'],
      ['GET', '/signals/active', undefined, 400, 'query.symbol'],
      ['POST', '/sessions', { role: 'trader' }, 400, 'body.user_id'],
      ['GET', '/sessions/short', undefined, 400, 'path.session_id'],
      ['POST', '/analytics/k?ttl=0', { v: 1 }, 400, 'query.ttl'],
      ['POST', '/analytics/k?ttl=abc', { v: 1 }, 400, 'query.ttl'],
      ['POST', '/analytics/k', [1, 2], 400, 'body'],
      ['POST', '/market-status', { is_open: 'yes' }, 400, 'body.is_open'],
      ['POST', '/invalidate', {}, 400, 'body.pattern'],
      ['POST', `/stock-prices/${SYM}`, '{not json', 400, 'body'],
      ['POST', `/analytics/deep-${run}`, `{"a":${'['.repeat(1000)}${']'.repeat(1000)}}`, 400, 'body'],
    ];
    for (const [method, path, body, status, field] of cases) {
      const r = await call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.body.success, `${method} ${path}`).toBe(false);
      expect(r.body.error.field, `${method} ${path}`).toBe(field);
      expect(r.body.error.message, `${method} ${path}`).toContain(field);
      expectLimitHeaders(r, `${method} ${path}`);
    }
    const others: [string, string, unknown, Record<string, string>, number][] = [
      ['POST', `/stock-prices/${SYM}`, 'close_price=1', { 'content-type': 'text/plain' }, 415],
      ['PUT', `/stock-prices/${SYM}`, { close_price: 1 }, {}, 405],
      ['GET', '/nothing-here', undefined, {}, 404], // no such route
      ['GET', `/stock-prices/${SYM}Q`, undefined, {}, 404], // a route, nothing cached
      ['GET', `/sessions/${'s'.repeat(22)}`, undefined, {}, 404],
    ];
    for (const [method, path, body, headers, status] of others) {
      const r = await call(method, path, body, headers);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.body.success, `${method} ${path}`).toBe(false);
      expect(r.body.error.code, `${method} ${path}`).toEqual(expect.any(String));
      expectLimitHeaders(r, `${method} ${path}`);
    }
  });

  it('answers 413 to a body over HTTP_MAX_BODY_BYTES in the envelope, and the server carries on', async () => {
    const big = await call('POST', `/analytics/big-${run}`, { blob: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ success: false, error: { code: 'payload_too_large', message: expect.stringContaining('HTTP_MAX_BODY_BYTES') } });
    expect((await call('GET', '/symbols')).status).toBe(200);
  });

  it('limits requests per API key, by its name in RATE_LIMIT_PER_KEY, with 429 and Retry-After', async () => {
    const tight = { 'x-api-key': await rt.createKey(`tight-${run}`, ['read']) };
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await call('GET', '/symbols', undefined, tight);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last!.body.error.code).toBe('rate_limited');
    // Another key is not affected.
    expect((await call('GET', '/symbols')).status).toBe(200);
  });

  it('counts requests without a credential against the client address', async () => {
    const r = await fetch(`${API()}/symbols`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ratelimit-limit')).toBe('1000'); // RATE_LIMIT_REQUESTS: the address's budget
    expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
  });

  it('exposes /metrics in the Prometheus text format, with cache and WebSocket figures', async () => {
    await call('GET', `/stock-prices/${SYM}`);
    const r = await fetch(`${rt.http}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(await r.text());
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const name of ['tickplant_cache_hits_total', 'tickplant_cache_misses_total', 'tickplant_ws_connections', 'tickplant_frames_published_total', 'tickplant_ws_messages_sent_total']) {
      expect(byName.has(name), name).toBe(true);
    }
    expect(byName.get('tickplant_ws_connections')!.type).toBe('GAUGE');
    expect(byName.get('tickplant_frames_published_total')!.type).toBe('COUNTER');
    const hits = byName.get('tickplant_cache_hits_total')!.metrics as { labels: Record<string, string>; value: string }[];
    expect(hits.some((m) => m.labels.namespace === 'stock_prices' && Number(m.value) > 0)).toBe(true);
    const published = byName.get('tickplant_frames_published_total')!.metrics[0] as { value: string };
    expect(Number(published.value)).toBeGreaterThan(0);
  });

  it('reports /health/detailed with the runtime and the cache tiers', async () => {
    const r = await fetch(`${rt.http}/health/detailed`, { headers: rt.admin });
    expect(r.status).toBe(200);
    const h = (await r.json()) as Record<string, any>;
    expect(['ok', 'degraded']).toContain(h.status);
    expect(h.components).toBeDefined();
    expect(h.cache.redis).toBeDefined();
  });
});
