// The REST API under /api/v1/cache: each route validates, then calls the cache service.
//
// Routes hold no caching logic of their own: TTLs, tiers and strategies are the namespaces'
// (config/cache-namespaces.json); keys are built by the service from the namespace patterns.

import type { z } from 'zod';
import { ANONYMOUS_READER, type Identity, mayActFor } from '../../auth/identity.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import { cachedOk } from './http-cache.js';
import { ApiError, json, jsonBody, ok, parse } from './replies.js';
import { Router, type RouteContext } from './router.js';
import * as S from './schemas.js';
import type { CacheService } from '../service.js';
import type { SessionStore } from '../sessions.js';
import type { CacheHit, Params } from '../types.js';
import { RECENT_TRADES_DEFAULT_LIMIT, type RecentTrades } from '../../store/recent-trades.js';

/** What the routes need from the cache service, the session store and the runtime. */
export interface CacheApiDeps {
  cache: CacheService;
  sessions: SessionStore;
  /** Names of the symbols the runtime streams. */
  runtimeSymbols(): string[];
  /** A streamed symbol's newest trades (store/recent-trades.ts); undefined for any other symbol. Absent: no runtime. */
  recentTrades?(symbol: string, limit: number): Promise<RecentTrades | undefined>;
  health(): Promise<unknown>;
  /** Price alerts (the cache actor's AlertHub); absent without PostgreSQL or with ANALYTICS=false. */
  alerts?: PriceAlerts;
}

/** What the price-alert routes need: each answers a status and a body (an error body names its field). */
export interface PriceAlerts {
  create(identity: Identity, body: unknown): Promise<{ status: number; body: unknown }>;
  list(identity: Identity, status: string | null): Promise<{ status: number; body: unknown }>;
  remove(identity: Identity, alertId: string): Promise<{ status: number; body: unknown }>;
}

/** An AlertHub answer in the API's envelope. */
function alertReply(r: { status: number; body: unknown }): HttpReply {
  if (r.status < 300) return ok(r.body, {}, r.status);
  const e = r.body as { code: string; message: string; field?: string };
  throw new ApiError(r.status, e.code, e.message, e.field);
}

function alertsOf(ctx: Ctx): PriceAlerts {
  const a = ctx.deps.alerts;
  // Off by configuration, not for a while: not a 503 a client would retry.
  if (!a) throw new ApiError(404, 'not_available', 'price alerts are off on this server: they need PostgreSQL (PERSIST=true) and ANALYTICS=true');
  return a;
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
  priceChange: 'price_change',
  priceHistory: 'price_history',
} as const;

type Ctx = RouteContext<CacheApiDeps>;
const body = <T extends Parameters<typeof parse>[0]>(ctx: Ctx, schema: T) =>
  parse(schema, jsonBody(ctx.req.body, ctx.req.header('content-type')), 'body');
const param = (ctx: Ctx, name: keyof typeof S.params) => parse(S.params[name], ctx.params[name], `path.${name}`) as string;
const notFound = (what: string) => new ApiError(404, 'not_found', what);
const notStreamed = (symbol: string) => `${symbol} is not a streamed symbol: GET /api/v1/cache/symbols lists them`;
/** A query parameter parsed by `schema`, `fallback` when absent. */
const queryParam = <S extends z.ZodType>(ctx: Ctx, name: string, schema: S, fallback: string): z.output<S> =>
  parse(schema, ctx.req.query.get(name) ?? fallback, `query.${name}`);
/**
 * Refuses a caller that is neither `owner` nor an admin (403; 401 when it sent no credential).
 * The front has checked the route's scope; ownership needs the resource, so it is checked here.
 */
function ownedBy(ctx: Ctx, owner: string, what: string): void {
  const identity = ctx.req.identity ?? ANONYMOUS_READER;
  if (mayActFor(identity, owner)) return;
  if (identity.kind === 'anonymous') throw new ApiError(401, 'unauthorized', `${what} belong to their user: send that user's credential (X-API-Key or Authorization: Bearer)`);
  throw new ApiError(403, 'forbidden', `${what} belong to user ${owner}: readable and deletable by that user or an admin only`);
}
/** Active signals listed per symbol at most. */
const MAX_SIGNALS = 1000;

async function getOr404(c: CacheService, ns: string, params: Params, what: string): Promise<CacheHit> {
  const hit = await c.get(ns, params);
  if (hit === undefined) throw notFound(what);
  return hit;
}

/** `cached` says whether a tier of the cache held the value; a value the source just loaded was not. */
const origin = (hit: CacheHit) => ({ cached: hit.tier !== 'source', tier: hit.tier });

/** Every route of the REST API, relative to /api/v1/cache; the services come with each request. */
export const cacheRoutes = new Router<CacheApiDeps>()
  // ── stock prices ────────────────────────────────────────────────────────────
  .add('GET', '/stock-prices/latest', 'cached prices of ?symbols=A,B,… (null where missing)', async (ctx) => {
    const c = ctx.deps.cache;
    const symbols = parse(S.query.symbols, ctx.req.query.get('symbols') ?? '', 'query.symbols');
    const hits = await c.getMany(NS.stockPrices, symbols.map((symbol) => ({ symbol })));
    const data: Record<string, unknown> = {};
    symbols.forEach((s, i) => (data[s] = hits[i]?.value ?? null));
    return cachedOk(ctx.req, data, c.ttlSeconds(NS.stockPrices), { missing: symbols.filter((_, i) => hits[i] === undefined) });
  })
  .add('POST', '/stock-prices/bulk', 'stores up to 1,000 prices', async (ctx) => {
    const prices = body(ctx, S.bulkPrices);
    const at = new Date().toISOString();
    await Promise.all(prices.map(({ symbol, ...p }) => ctx.deps.cache.set(NS.stockPrices, { symbol }, { symbol, ...p, timestamp: p.timestamp ?? at })));
    return ok({ updated: prices.length }, {}, 201);
  })
  .add('GET', '/stock-prices/:symbol', "a symbol's price (written through to PostgreSQL)", async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const hit = await getOr404(c, NS.stockPrices, { symbol }, `no cached price for ${symbol}`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.stockPrices), origin(hit));
  })
  .add('POST', '/stock-prices/:symbol', "stores a symbol's price", async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const p = body(ctx, S.stockPrice);
    const value = { symbol, ...p, timestamp: p.timestamp ?? new Date().toISOString() };
    await ctx.deps.cache.set(NS.stockPrices, { symbol }, value);
    return ok(value, {}, 201);
  })

  // ── options ─────────────────────────────────────────────────────────────────
  .add('GET', '/options/:symbol/summary', "a summary over a symbol's cached chains", async (ctx) => {
    const c = ctx.deps.cache;
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
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.optionsSummary), origin(hit));
  })
  .add('GET', '/options/:symbol/:expiry', 'an options chain (expiry YYYY-MM-DD)', async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const expiry = param(ctx, 'expiry');
    const hit = await getOr404(c, NS.options, { symbol, expiry }, `no cached options chain for ${symbol} ${expiry}`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.options), origin(hit));
  })
  .add('POST', '/options/:symbol/:expiry', 'stores an options chain', async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const expiry = param(ctx, 'expiry');
    const contracts = body(ctx, S.optionsChain);
    await c.set(NS.options, { symbol, expiry }, { symbol, expiry, contracts, updated_at: new Date().toISOString() });
    await c.delete(NS.optionsSummary, { symbol });
    return ok({ symbol, expiry, contracts: contracts.length }, {}, 201);
  })

  // ── trading signals ─────────────────────────────────────────────────────────
  .add('GET', '/signals/active', 'unexpired signals of ?symbol=', async (ctx) => {
    const symbol = parse(S.params.symbol, ctx.req.query.get('symbol') ?? '', 'query.symbol');
    // Signals are stored in PostgreSQL (write-through): the source answers "all of this symbol".
    const rows = await ctx.deps.cache.query(NS.signals, { symbol }, MAX_SIGNALS);
    const now = Date.now();
    const active = rows
      .map((r) => r.value as { expires_at?: string; symbol?: string })
      .filter((v) => v.expires_at === undefined || Date.parse(v.expires_at) > now);
    return ok(active, { count: active.length });
  })
  .add('GET', '/signals/:signal_id', 'a trading signal', async (ctx) => {
    const signal_id = param(ctx, 'signal_id');
    const hit = await getOr404(ctx.deps.cache, NS.signals, { signal_id }, `no cached signal ${signal_id}`);
    return ok(hit.value, origin(hit));
  })
  .add('POST', '/signals/:signal_id', 'stores a trading signal', async (ctx) => {
    const signal_id = param(ctx, 'signal_id');
    const s = body(ctx, S.signal);
    const value = { signal_id, ...s, created_at: new Date().toISOString() };
    await ctx.deps.cache.set(NS.signals, { signal_id }, value);
    return ok(value, {}, 201);
  })

  // ── sessions: each belongs to its user_id; that user or an admin may act on it ──
  .add('POST', '/sessions', 'creates a session for a user_id (that user or an admin)', async (ctx) => {
    const s = body(ctx, S.sessionCreate);
    ownedBy(ctx, s.user_id, 'sessions');
    return ok(await ctx.deps.sessions.create(s.user_id, { role: s.role, permissions: s.permissions, data: s.data }), {}, 201);
  }, 'write:own')
  .add('GET', '/sessions/user/:user_id', "a user's sessions", async (ctx) => {
    const user = param(ctx, 'user_id');
    ownedBy(ctx, user, 'sessions');
    const sessions = await ctx.deps.sessions.listForUser(user);
    return ok(sessions, { count: sessions.length });
  }, 'read:own')
  .add('DELETE', '/sessions/user/:user_id', "deletes a user's sessions", async (ctx) => {
    const user = param(ctx, 'user_id');
    ownedBy(ctx, user, 'sessions');
    return ok({ deleted: await ctx.deps.sessions.deleteAllForUser(user) });
  }, 'write:own')
  .add('GET', '/sessions/:session_id', 'a session (its TTL slides)', async (ctx) => {
    const id = param(ctx, 'session_id');
    const owner = await ctx.deps.sessions.owner(id);
    if (owner === undefined) throw notFound('no such session (expired or deleted)');
    ownedBy(ctx, owner, 'sessions');
    const s = await ctx.deps.sessions.get(id);
    if (s === undefined) throw notFound('no such session (expired or deleted)');
    return ok(s);
  }, 'read:own')
  .add('DELETE', '/sessions/:session_id', 'deletes a session', async (ctx) => {
    const id = param(ctx, 'session_id');
    const owner = await ctx.deps.sessions.owner(id);
    if (owner === undefined) throw notFound('no such session (expired or deleted)');
    ownedBy(ctx, owner, 'sessions');
    if (!(await ctx.deps.sessions.delete(id))) throw notFound('no such session (expired or deleted)');
    return ok({ deleted: true });
  }, 'write:own')

  // ── analytics ───────────────────────────────────────────────────────────────
  .add('GET', '/analytics/:key', 'an analytics value', async (ctx) => {
    const key = param(ctx, 'key');
    const hit = await getOr404(ctx.deps.cache, NS.analytics, { key }, `no cached analytics ${key}`);
    return ok(hit.value, origin(hit));
  })
  .add('POST', '/analytics/:key', 'stores an analytics value (?ttl= seconds)', async (ctx) => {
    const c = ctx.deps.cache;
    const key = param(ctx, 'key');
    const ttlText = ctx.req.query.get('ttl');
    const ttlSeconds = ttlText === null ? undefined : parse(S.query.ttl, ttlText, 'query.ttl');
    const value = body(ctx, S.analytics);
    await c.set(NS.analytics, { key }, value, { ttlSeconds });
    return ok(value, { ttl: ttlSeconds ?? c.ttlSeconds(NS.analytics) }, 201);
  })

  // ── market status, market data, prices ──────────────────────────────────────
  .add('GET', '/market-status', 'the market status', async (ctx) => {
    const c = ctx.deps.cache;
    const hit = await getOr404(c, NS.marketStatus, {}, 'no market status cached');
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.marketStatus), origin(hit));
  })
  .add('POST', '/market-status', 'stores the market status', async (ctx) => {
    const value = { ...body(ctx, S.marketStatus), updated_at: new Date().toISOString() };
    await ctx.deps.cache.set(NS.marketStatus, {}, value);
    return ok(value, {}, 201);
  })
  .add('GET', '/market-data/:symbol', "a streamed symbol's latest book", async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const hit = await getOr404(c, NS.marketData, { symbol }, `no market data for ${symbol}: GET /api/v1/cache/symbols lists them`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.marketData), origin(hit));
  })
  .add('GET', '/price/:symbol', "a streamed symbol's price, spread and volume", async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const hit = await getOr404(c, NS.price, { symbol }, `no price for ${symbol}: GET /api/v1/cache/symbols lists them`);
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.price), origin(hit));
  })
  .add('GET', '/price-change/:symbol', `a streamed symbol's price change over ?minutes= (1-${S.PRICE_CHANGE_MAX_MINUTES.toLocaleString('en')}, default ${S.PRICE_CHANGE_DEFAULT_MINUTES})`, async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const minutes = queryParam(ctx, 'minutes', S.query.minutes, String(S.PRICE_CHANGE_DEFAULT_MINUTES));
    const hit = await getOr404(c, NS.priceChange, { symbol, minutes }, notStreamed(symbol));
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.priceChange), origin(hit));
  })
  .add('GET', '/price-history/:symbol', `a streamed symbol's 1m closes from ?since= (default 24 h ago), oldest first, at most ?limit= (default ${S.PRICE_HISTORY_DEFAULT_LIMIT})`, async (ctx) => {
    const c = ctx.deps.cache;
    const symbol = param(ctx, 'symbol');
    const given = ctx.req.query.get('since');
    const sinceMs = given === null ? Date.now() - S.PRICE_HISTORY_DEFAULT_SINCE_MS : parse(S.query.since, given, 'query.since');
    const limit = queryParam(ctx, 'limit', S.query.historyLimit, String(S.PRICE_HISTORY_DEFAULT_LIMIT));
    // Points are whole minutes: every `since` within one minute asks for the same points, under one key.
    const since = Math.ceil(sinceMs / 60_000) * 60_000;
    const hit = await getOr404(c, NS.priceHistory, { symbol, since, limit }, notStreamed(symbol));
    return cachedOk(ctx.req, hit.value, c.ttlSeconds(NS.priceHistory), origin(hit));
  })
  .add('GET', '/trades/:symbol', `a streamed symbol's newest ?limit= trades (default ${RECENT_TRADES_DEFAULT_LIMIT}), oldest first`, async (ctx) => {
    const symbol = param(ctx, 'symbol');
    const limit = queryParam(ctx, 'limit', S.query.tradesLimit, String(RECENT_TRADES_DEFAULT_LIMIT));
    // Straight from the trade ring (Redis after a restart): fresher than any cached copy, and as cheap.
    const recent = await ctx.deps.recentTrades?.(symbol, limit);
    if (recent === undefined) throw notFound(notStreamed(symbol));
    return ok({ symbol, ...recent });
  })
  // ── price alerts ───────────────────────────────────────────────────────────
  .add('POST', '/price-alert', 'a price alert of the caller\'s: {symbol, condition: above|below|crosses_above|crosses_below, target_price, ttl_seconds?, webhook_url?} → {alert_id}', async (ctx) =>
    alertReply(await alertsOf(ctx).create(ctx.req.identity ?? ANONYMOUS_READER, jsonBody(ctx.req.body, ctx.req.header('content-type')))))
  .add('GET', '/price-alerts', 'the caller\'s price alerts (an admin: everyone\'s), ?status=active|triggered|expired|deleted', async (ctx) =>
    alertReply(await alertsOf(ctx).list(ctx.req.identity ?? ANONYMOUS_READER, ctx.req.query.get('status'))))
  .add('DELETE', '/price-alert/:alert_id', 'deletes an active price alert of the caller\'s (an admin: anyone\'s)', async (ctx) =>
    alertReply(await alertsOf(ctx).remove(ctx.req.identity ?? ANONYMOUS_READER, ctx.params.alert_id)))
  .add('GET', '/symbols', 'the streamed symbols', (ctx) => {
    const symbols = ctx.deps.runtimeSymbols();
    return ok({ symbols, symbol_count: symbols.length });
  })

  // ── management ──────────────────────────────────────────────────────────────
  .add('GET', '/health', 'cache health: Redis and PostgreSQL state', async (ctx) => json(200, await ctx.deps.health()))
  .add('GET', '/stats', 'hits, misses, entries and bytes per namespace', (ctx) => ok(ctx.deps.cache.stats()))
  .add('POST', '/invalidate', 'drops keys by glob pattern or namespace on every node', async (ctx) => {
    const c = ctx.deps.cache;
    const b = body(ctx, S.invalidate);
    const deleted = b.namespace !== undefined ? await c.invalidateNamespace(b.namespace) : await c.invalidate(b.pattern!);
    return ok({ deleted, ...b });
  }, 'admin')
  .add('POST', '/cleanup', 'drops expired entries and sessions now', async (ctx) => ok(await ctx.deps.cache.cleanup()), 'admin')
  .add('DELETE', '/clear', 'empties every cache on every node (?confirm=true)', async (ctx) => {
    parse(S.query.confirm, ctx.req.query.get('confirm') ?? '', 'query.confirm');
    return ok({ deleted: await ctx.deps.cache.clear() });
  }, 'admin');

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
export async function dispatch(router: Router<CacheApiDeps>, method: string, path: string, req: HttpRequest, deps: CacheApiDeps): Promise<HttpReply> {
  const m = router.match(method, path);
  if ('status' in m) {
    return m.status === 405
      ? json(405, { success: false, error: { code: 'method_not_allowed', message: `${method} ${path}: allowed ${m.allowed.join(', ')}` } }, { allow: m.allowed.join(', ') })
      : json(404, { success: false, error: { code: 'not_found', message: `no route ${method} /api/v1/cache${path}` } });
  }
  return m.handler({ req, params: m.params, deps });
}
