// The REST API under /api/v1/cache (seeds 002 and 004): each route validates, then calls the cache service.
//
// Routes hold no caching logic of their own: TTLs, tiers and strategies are the namespaces'
// (config/cache-namespaces.json); keys are built by the service from the namespace patterns.

import type { HttpReply } from '../../actors/front/uws.js';
import { cachedOk } from './http-cache.js';
import { ApiError, json, jsonBody, ok, parse } from './replies.js';
import { Router, type RouteContext } from './router.js';
import * as S from './schemas.js';
import type { CacheService } from '../service.js';
import type { SessionStore } from '../sessions.js';

/** What the routes need from the cache service, the session store and the runtime. */
export interface CacheApiDeps {
  cache: CacheService;
  sessions: SessionStore;
  /** Names of the symbols the runtime streams. */
  runtimeSymbols(): string[];
  health(): Promise<unknown>;
}

/** Namespace names as declared in config/cache-namespaces.json. */
export const NS = {
  stockPrices: 'stock_prices',
  options: 'options_chains',
  optionsSummary: 'options_summary',
  signals: 'signals',
  analytics: 'analytics',
  marketStatus: 'market_status',
  marketData: 'market_data',
  price: 'price',
} as const;

const body = <T extends Parameters<typeof parse>[0]>(ctx: RouteContext, schema: T) =>
  parse(schema, jsonBody(ctx.req.body, ctx.req.header('content-type')), 'body');
const param = (ctx: RouteContext, name: keyof typeof S.params) => parse(S.params[name], ctx.params[name], `path.${name}`) as string;
const notFound = (what: string) => new ApiError(404, 'not_found', what);
/** Active signals listed per symbol at most. */
const MAX_SIGNALS = 1000;

export function cacheRoutes(d: CacheApiDeps): Router {
  const c = d.cache;
  const r = new Router();
  const getOr404 = async (ns: string, params: Record<string, string>, what: string) => {
    const hit = await c.get(ns, params);
    if (hit === undefined) throw notFound(what);
    return hit;
  };

  // ── stock prices ────────────────────────────────────────────────────────────
  r.add('GET', '/stock-prices/latest', async (ctx) => {
    const symbols = parse(S.query.symbols, ctx.req.query.get('symbols') ?? '', 'query.symbols');
    const hits = await Promise.all(symbols.map((symbol) => c.get(NS.stockPrices, { symbol })));
    const data: Record<string, unknown> = {};
    symbols.forEach((s, i) => (data[s] = hits[i]?.value ?? null));
    return cachedOk(ctx.req, data, c.ttlSeconds(NS.stockPrices), { missing: symbols.filter((_, i) => hits[i] === undefined) });
  });
  r.add('POST', '/stock-prices/bulk', async (ctx) => {
    const prices = body(ctx, S.bulkPrices);
    const at = new Date().toISOString();
    await Promise.all(prices.map(({ symbol, ...p }) => c.set(NS.stockPrices, { symbol }, { symbol, ...p, timestamp: p.timestamp ?? at })));
    return ok({ updated: prices.length }, {}, 201);
  });
  r.add('GET', '/stock-prices/:symbol', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const hit = await getOr404(NS.stockPrices, { symbol }, `no cached price for ${symbol}`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.stockPrices), { cached: true, tier: hit.tier });
  });
  r.add('POST', '/stock-prices/:symbol', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const p = body(ctx, S.stockPrice);
    const value = { symbol, ...p, timestamp: p.timestamp ?? new Date().toISOString() };
    await c.set(NS.stockPrices, { symbol }, value);
    return ok(value, {}, 201);
  });

  // ── options ─────────────────────────────────────────────────────────────────
  r.add('GET', '/options/:symbol/summary', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    // Cache-aside: computed from the symbol's cached chains (found by key scan, on every node's
    // Redis), dropped whenever one of its chains is written.
    const hit = await c.getOrLoad(NS.optionsSummary, { symbol }, async () => {
      const expiries = (await c.keys(NS.options, { symbol })).map((k) => k.expiry).sort();
      const chains = await Promise.all(expiries.map((expiry) => c.get(NS.options, { symbol, expiry })));
      const live = expiries.filter((_, i) => chains[i] !== undefined);
      if (live.length === 0) return undefined;
      return summarize(symbol, live, chains.flatMap((h) => (h?.value as { contracts?: OptionRow[] } | undefined)?.contracts ?? []));
    });
    if (hit === undefined) throw notFound(`no cached options chain for ${symbol}`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.optionsSummary));
  });
  r.add('GET', '/options/:symbol/:expiry', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const expiry = param(ctx, 'expiry');
    const hit = await getOr404(NS.options, { symbol, expiry }, `no cached options chain for ${symbol} ${expiry}`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.options), { cached: true, tier: hit.tier });
  });
  r.add('POST', '/options/:symbol/:expiry', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const expiry = param(ctx, 'expiry');
    const contracts = body(ctx, S.optionsChain);
    await c.set(NS.options, { symbol, expiry }, { symbol, expiry, contracts, updated_at: new Date().toISOString() });
    await c.delete(NS.optionsSummary, { symbol });
    return ok({ symbol, expiry, contracts: contracts.length }, {}, 201);
  });

  // ── trading signals ─────────────────────────────────────────────────────────
  r.add('GET', '/signals/active', async (ctx) => {
    const symbol = parse(S.params.symbol, ctx.req.query.get('symbol') ?? '', 'query.symbol');
    // Signals are stored in PostgreSQL (write-through): the source answers "all of this symbol".
    const rows = await c.query(NS.signals, { symbol }, MAX_SIGNALS);
    const now = Date.now();
    const active = rows
      .map((r) => r.value as { expires_at?: string; symbol?: string })
      .filter((v) => v.expires_at === undefined || Date.parse(v.expires_at) > now);
    return ok(active, { count: active.length });
  });
  r.add('GET', '/signals/:signal_id', async (ctx) => {
    const signal_id = param(ctx, 'signal_id');
    const hit = await getOr404(NS.signals, { signal_id }, `no cached signal ${signal_id}`);
    return ok(hit.value, { cached: true, tier: hit.tier });
  });
  r.add('POST', '/signals/:signal_id', async (ctx) => {
    const signal_id = param(ctx, 'signal_id');
    const s = body(ctx, S.signal);
    const value = { signal_id, ...s, created_at: new Date().toISOString() };
    await c.set(NS.signals, { signal_id }, value);
    return ok(value, {}, 201);
  });

  // ── sessions ────────────────────────────────────────────────────────────────
  r.add('POST', '/sessions', async (ctx) => {
    const s = body(ctx, S.sessionCreate);
    return ok(await d.sessions.create(s.user_id, { role: s.role, permissions: s.permissions, data: s.data }), {}, 201);
  });
  r.add('GET', '/sessions/user/:user_id', async (ctx) => {
    const sessions = await d.sessions.listForUser(param(ctx, 'user_id'));
    return ok(sessions, { count: sessions.length });
  });
  r.add('DELETE', '/sessions/user/:user_id', async (ctx) => ok({ deleted: await d.sessions.deleteAllForUser(param(ctx, 'user_id')) }));
  r.add('GET', '/sessions/:session_id', async (ctx) => {
    const s = await d.sessions.get(param(ctx, 'session_id'));
    if (s === undefined) throw notFound('no such session (expired or deleted)');
    return ok(s);
  });
  r.add('DELETE', '/sessions/:session_id', async (ctx) => {
    if (!(await d.sessions.delete(param(ctx, 'session_id')))) throw notFound('no such session (expired or deleted)');
    return ok({ deleted: true });
  });

  // ── analytics ───────────────────────────────────────────────────────────────
  r.add('GET', '/analytics/:key', async (ctx) => {
    const key = param(ctx, 'key');
    const hit = await getOr404(NS.analytics, { key }, `no cached analytics ${key}`);
    return ok(hit.value, { cached: true, tier: hit.tier });
  });
  r.add('POST', '/analytics/:key', async (ctx) => {
    const key = param(ctx, 'key');
    const ttlText = ctx.req.query.get('ttl');
    const ttlSeconds = ttlText === null ? undefined : parse(S.query.ttl, ttlText, 'query.ttl');
    const value = body(ctx, S.analytics);
    await c.set(NS.analytics, { key }, value, { ttlSeconds });
    return ok(value, { ttl: ttlSeconds ?? c.ttlSeconds(NS.analytics) }, 201);
  });

  // ── market status, market data, prices ──────────────────────────────────────
  r.add('GET', '/market-status', async (ctx) => {
    const hit = await getOr404(NS.marketStatus, {}, 'no market status cached');
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.marketStatus), { cached: true, tier: hit.tier });
  });
  r.add('POST', '/market-status', async (ctx) => {
    const value = { ...body(ctx, S.marketStatus), updated_at: new Date().toISOString() };
    await c.set(NS.marketStatus, {}, value);
    return ok(value, {}, 201);
  });
  r.add('GET', '/market-data/:symbol', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const hit = await getOr404(NS.marketData, { symbol }, `no market data for ${symbol}: GET /api/v1/cache/symbols lists them`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.marketData), { tier: hit.tier });
  });
  r.add('GET', '/price/:symbol', async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const hit = await getOr404(NS.price, { symbol }, `no price for ${symbol}: GET /api/v1/cache/symbols lists them`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.price), { tier: hit.tier });
  });
  r.add('GET', '/symbols', () => {
    const symbols = d.runtimeSymbols();
    return ok({ symbols, symbol_count: symbols.length });
  });

  // ── management ──────────────────────────────────────────────────────────────
  r.add('GET', '/health', async () => json(200, await d.health()));
  r.add('GET', '/stats', () => ok(c.stats()));
  r.add('POST', '/invalidate', async (ctx) => {
    const b = body(ctx, S.invalidate);
    const deleted = b.namespace !== undefined ? await c.invalidateNamespace(b.namespace) : await c.invalidate(b.pattern!);
    return ok({ deleted, ...b });
  });
  r.add('POST', '/cleanup', async () => ok(await c.cleanup()));
  r.add('DELETE', '/clear', async (ctx) => {
    parse(S.query.confirm, ctx.req.query.get('confirm') ?? '', 'query.confirm');
    return ok(await c.clear());
  });
  return r;
}

interface OptionRow { option_type: 'CALL' | 'PUT'; strike_price: number; volume?: number; open_interest?: number; implied_volatility?: number }

function summarize(symbol: string, expiries: string[], rows: OptionRow[]) {
  const calls = rows.filter((o) => o.option_type === 'CALL');
  const puts = rows.filter((o) => o.option_type === 'PUT');
  const sum = (xs: OptionRow[], f: (o: OptionRow) => number | undefined) => xs.reduce((a, o) => a + (f(o) ?? 0), 0);
  const ivs = rows.map((o) => o.implied_volatility).filter((v): v is number => v !== undefined);
  const callVolume = sum(calls, (o) => o.volume);
  const putVolume = sum(puts, (o) => o.volume);
  return {
    symbol,
    expiries,
    contracts: rows.length,
    calls: calls.length,
    puts: puts.length,
    call_volume: callVolume,
    put_volume: putVolume,
    put_call_ratio: callVolume > 0 ? putVolume / callVolume : null,
    open_interest: sum(rows, (o) => o.open_interest),
    average_implied_volatility: ivs.length > 0 ? ivs.reduce((a, b) => a + b, 0) / ivs.length : null,
    strike_range: rows.length > 0 ? [Math.min(...rows.map((o) => o.strike_price)), Math.max(...rows.map((o) => o.strike_price))] : null,
  };
}

/** Dispatches one request under /api/v1/cache: route, validate, answer; errors become their JSON reply. */
export async function dispatch(router: Router, method: string, path: string, ctxReq: RouteContext['req']): Promise<HttpReply> {
  const m = router.match(method, path);
  if ('status' in m) {
    return m.status === 405
      ? json(405, { success: false, error: { code: 'method_not_allowed', message: `${method} ${path}: allowed ${m.allowed.join(', ')}` } }, { allow: m.allowed.join(', ') })
      : json(404, { success: false, error: { code: 'not_found', message: `no route ${method} /api/v1/cache${path}` } });
  }
  return m.handler({ req: ctxReq, params: m.params });
}
