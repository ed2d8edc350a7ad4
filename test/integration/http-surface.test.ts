// The HTTP surface as a whole on the real server: GET / lists every route, error shapes per path (413 included), clear's reply, /metrics names and histograms.
//
// The runtime runs without Redis: DELETE /clear empties every cache it can reach, and the Redis
// tier is shared with other test files.
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';

let rt: Runtime;
const MAX_BODY = 2048;

async function call(method: string, path: string, body?: string) {
  const r = await fetch(rt.http + path, {
    method,
    headers: body === undefined ? rt.admin : { ...rt.admin, 'content-type': 'application/json' },
    body,
  });
  const text = await r.text();
  let json: Record<string, any> | undefined;
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, body: json };
}

beforeAll(async () => {
  rt = await startRuntime({ shards: 1, symbols: ['US.AAPL'], simUpdatesPerSecond: 100, httpMaxBodyBytes: MAX_BODY });
});
afterAll(() => rt?.stop());

describe('GET /', () => {
  it('lists every route the server answers, the REST API from its own route table', async () => {
    const r = await call('GET', '/');
    expect(r.status).toBe(200);
    const routes = r.body!.routes as { method: string; path: string; description: string }[];
    const listed = new Set(routes.map((x) => `${x.method} ${x.path}`));
    for (const path of [
      '/', '/health', '/health/detailed', '/symbols', '/stats', '/metrics',
      '/orderbook/{symbol}/latest', '/orderbook/{symbol}/today', '/orderbook/{symbol}/history', '/ws', '/ws/{client_id}',
      '/api/v1/cache/stock-prices/{symbol}', '/api/v1/cache/options/{symbol}/{expiry}', '/api/v1/cache/signals/active',
      '/api/v1/cache/sessions/user/{user_id}', '/api/v1/cache/market-data/{symbol}', '/api/v1/cache/stats', '/api/v1/cache/health',
    ]) {
      expect(listed.has(`GET ${path}`), path).toBe(true);
    }
    for (const route of ['POST /api/v1/cache/stock-prices/bulk', 'POST /api/v1/cache/sessions', 'DELETE /api/v1/cache/clear', 'POST /api/v1/cache/invalidate']) {
      expect(listed.has(route), route).toBe(true);
    }
    for (const x of routes) expect(x.description, x.path).toMatch(/\S/);
    expect(listed.size).toBe(routes.length); // each once
  });

  it('lists no GET path without parameters that answers 404', async () => {
    // Routes that serve stored values answer 404 while nothing is stored: store one first.
    expect((await call('POST', '/api/v1/cache/market-status', '{"is_open":true}')).status).toBe(201);
    const routes = ((await call('GET', '/')).body!.routes as { method: string; path: string }[])
      .filter((x) => x.method === 'GET' && !x.path.includes('{'));
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const { path } of routes) {
      const r = await call('GET', path);
      expect(r.status, `GET ${path}: ${r.text.slice(0, 200)}`).not.toBe(404);
    }
  });
});

describe('errors', () => {
  it('answers 413 under /api/ in the REST envelope and elsewhere as {"error"}', async () => {
    const big = JSON.stringify({ blob: 'x'.repeat(MAX_BODY * 2) });
    const api = await call('POST', '/api/v1/cache/analytics/big', big);
    expect(api.status).toBe(413);
    expect(api.body).toEqual({ success: false, error: { code: 'payload_too_large', message: expect.stringContaining('HTTP_MAX_BODY_BYTES') } });
    const front = await call('POST', '/stats', big);
    expect(front.status).toBe(413);
    expect(front.body).toEqual({ error: { code: 'payload_too_large', message: expect.stringContaining('HTTP_MAX_BODY_BYTES') } });
  });

  it('answers any unknown /api/ path in the envelope, and other paths (a plain GET of /ws included) as {"error"}', async () => {
    const api = await call('GET', '/api/v2/nothing');
    expect(api.status).toBe(404);
    expect(api.body).toMatchObject({ success: false, error: { code: 'not_found' } });
    const front = await call('GET', '/nothing');
    expect(front.status).toBe(404);
    expect(front.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    const plainWs = await call('GET', '/ws');
    expect(plainWs.status).toBe(426);
    expect(plainWs.body).toMatchObject({ error: { code: 'upgrade_required' } });
    const metricsPost = await call('POST', '/metrics', '{}');
    expect(metricsPost.status).toBe(405);
    expect(metricsPost.body).toEqual({ error: { code: 'method_not_allowed', message: expect.any(String) } });
  });
});

describe('DELETE /api/v1/cache/clear', () => {
  it('answers how many keys it removed as an object in data', async () => {
    for (const k of ['a', 'b']) expect((await call('POST', `/api/v1/cache/analytics/clear-${k}`, '{"v":1}')).status).toBe(201);
    const r = await call('DELETE', '/api/v1/cache/clear?confirm=true');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, data: { deleted: expect.any(Number) } });
    expect(r.body!.data.deleted).toBeGreaterThanOrEqual(2);
    expect((await call('GET', '/api/v1/cache/analytics/clear-a')).status).toBe(404);
  });
});

describe('/metrics', () => {
  const scrape = async () => parsePrometheusTextFormat((await call('GET', '/metrics')).text);

  it('names every metric by the Prometheus conventions', async () => {
    const families = await scrape();
    const names = families.map((f) => f.name);
    expect(names).toContain('tickplant_process_cpu_seconds_total');
    expect(names.some((n) => n.startsWith('tickplant_nodejs_'))).toBe(true);
    for (const f of families) {
      expect(f.name).toMatch(/^tickplant_[a-z0-9_]+$/);
      expect(f.name).not.toMatch(/process_process|nodejs_nodejs/);
      // `_total` on counters only; base units only (seconds, bytes), never ms or kB.
      if (f.type === 'COUNTER') expect(f.name, f.name).toMatch(/_total$/);
      else expect(f.name, f.name).not.toMatch(/_total$/);
      expect(f.name, f.name).not.toMatch(/_(ms|milliseconds|us|microseconds|kb|kilobytes|mb|megabytes|minutes|hours)(_|$)/);
    }
  });

  it('exposes feed→publish latency as a histogram with cumulative buckets ending in +Inf = _count', async () => {
    let f: MetricFamily | undefined;
    for (let i = 0; i < 50; i++) {
      f = (await scrape()).find((x) => x.name === 'tickplant_feed_to_publish_seconds');
      if (Number((f?.metrics[0] as { count?: string } | undefined)?.count ?? 0) > 0) break;
      await sleep(100);
    }
    expect(f?.type).toBe('HISTOGRAM');
    const m = f!.metrics[0] as { buckets: Record<string, string>; count: string; sum: string };
    // The parser keeps buckets in an object, whose integer-like keys ("1", "5") JavaScript lists first.
    const bound = (le: string) => (le === '+Inf' ? Infinity : Number(le));
    const les = Object.keys(m.buckets).sort((a, b) => bound(a) - bound(b));
    expect(les.at(-1)).toBe('+Inf');
    expect(les.length).toBeGreaterThan(10);
    const counts = les.map((le) => Number(m.buckets[le]));
    for (let i = 1; i < counts.length; i++) expect(counts[i], `le=${les[i]}`).toBeGreaterThanOrEqual(counts[i - 1]);
    expect(Number(m.count)).toBeGreaterThan(0);
    expect(counts.at(-1)).toBe(Number(m.count));
    expect(Number(m.sum)).toBeGreaterThan(0);
    // The same histogram as /stats reports: a scrape later holds at least as many.
    const stats = (await call('GET', '/stats')).body as { front: { feedToPublish: { count: number; max_ms: number; p999_ms: number } } };
    expect(stats.front.feedToPublish.count).toBeGreaterThanOrEqual(Number(m.count));
    expect(stats.front.feedToPublish.p999_ms).toBeLessThanOrEqual(stats.front.feedToPublish.max_ms);
  });
});
