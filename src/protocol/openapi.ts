// The OpenAPI 3.1 document of every HTTP route, served at GET /openapi.json: parameters and bodies are the zod schemas that validate them.
//
// Built from the route index (GET /: the front's routes and the REST API's route table), so every
// route answered is in it; one this file has no entry for (or a path parameter without a schema)
// is marked `x-undescribed` with what is missing, which the tests refuse. Query parameters and request
// bodies are JSON Schemas of the zod schemas' input (draft 2020-12, OpenAPI 3.1's dialect);
// responses are described by the shapes below, documentation only. The WebSocket messages have
// JSON Schemas of their own (docs/protocol/); the two WebSocket paths are documented as the GET
// that upgrades.

import { z } from 'zod';
import type { Access } from '../auth/policy.js';
import { API_PREFIX } from '../cache/api/api.js';
import type { RouteInfo } from '../cache/api/router.js';
import * as S from '../cache/api/schemas.js';
import { CONDITIONS } from '../analytics/alert-book.js';
import { INTERVALS } from '../analytics/intervals.js';
import * as P from './http-params.js';

const PROTOCOL_SCHEMAS = 'docs/protocol/';

/** A zod schema as an OpenAPI 3.1 Schema Object (JSON Schema 2020-12, without `$schema`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

// ── response shapes (documentation only) ────────────────────────────────────────

const isoTime = z.string().meta({ format: 'date-time' });
const count = z.number().int().min(0);
const metric = z.number().nullable();
const health = z.enum(['ok', 'degraded', 'down']);
const component = z.object({ status: health, detail: z.string().optional() });
const bookData = z.object({
  best_bid: metric, best_ask: metric, mid_price: metric, spread: metric, spread_percentage: metric,
  bid_volume: metric, ask_volume: metric, total_volume: metric, imbalance: metric, microprice: metric,
  bid_levels: z.array(z.tuple([z.number(), z.number()])), ask_levels: z.array(z.tuple([z.number(), z.number()])),
});
const candle = z.object({
  time: isoTime, open: z.number(), high: z.number(), low: z.number(), close: z.number(),
  volume: z.number(), trades: count, vwap: z.number().nullable(), closed: z.boolean(),
});
const trade = z.object({ seq: count, epoch: count, trade_id: z.string(), price: z.number(), size: z.number(), side: z.enum(['buy', 'sell']), time: isoTime });
const ticker = z.object({
  symbol: z.string(), epoch: count, seq: count,
  ticker: z.object({
    window_start: isoTime, open: metric, high: metric, low: metric, last: metric, volume: z.number(),
    quote_volume: z.number(), change: metric, change_percent: metric, trades: count,
  }).nullable(),
});

const RESPONSES: Record<string, z.ZodType> = {
  RouteIndex: z.object({ routes: z.array(z.object({ method: z.string(), path: z.string(), description: z.string(), access: z.string() })) }),
  Health: z.object({ status: health, components: z.record(z.string(), component) }),
  DetailedHealth: z.looseObject({ status: health, components: z.record(z.string(), component), details: z.string().optional() }),
  Symbols: z.object({
    symbols: z.array(z.object({
      symbol: z.string(), shard: count, epoch: count, seq: count, stale: z.boolean(),
      status: z.enum(['live', 'stale', 'resyncing', 'no_data']), trades: z.object({ epoch: count, seq: count }),
    })),
  }),
  Stats: z.looseObject({}).meta({ description: 'shard, front, writer and history-tier counters; feed→publish latency percentiles' }),
  OrderbookSnapshot: z.object({
    type: z.literal('orderbook_snapshot'), symbol: z.string(), epoch: count, seq: count, reset: z.literal(true).optional(),
    timestamp: isoTime, data: bookData,
  }).meta({ description: `the WebSocket orderbook_snapshot message (${PROTOCOL_SCHEMAS}server/orderbook_snapshot.schema.json)` }),
  HistoricalData: z.object({
    type: z.literal('historical_data'), symbol: z.string(), epoch: count, seq: count, from: isoTime,
    resolution_ms: z.number().int().min(1), points: count, sources: z.object({ memory: count, database: count }),
    incomplete: z.string().optional(),
    data: z.array(z.object({ time: isoTime, seq: count, count, ...bookData.omit({ bid_levels: true, ask_levels: true }).shape })),
  }).meta({ description: `the WebSocket historical_data message (${PROTOCOL_SCHEMAS}server/historical_data.schema.json)` }),
  Candles: z.object({
    symbol: z.string(), interval: z.enum(INTERVALS), candles: z.array(candle),
    through: z.object({ epoch: count, seq: count }).optional(), incomplete: z.string().optional(),
  }),
  Indicators: z.object({
    symbol: z.string(), interval: z.enum(INTERVALS), names: z.array(z.string()), history_from: isoTime.nullable(),
    points: z.array(z.object({ time: isoTime, values: z.record(z.string(), z.union([z.number(), z.record(z.string(), z.number().nullable())]).nullable()) })),
  }),
  Ticker: ticker,
  Tickers: z.object({ tickers: z.array(ticker) }),
  Trades: z.object({ symbol: z.string(), source: z.enum(['memory', 'redis', 'database']), trades: z.array(trade), incomplete: z.string().optional() }),
  OpenApi: z.looseObject({ openapi: z.string() }).meta({ description: 'this document' }),
  FrontError: z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
  ApiSuccess: z.looseObject({
    success: z.literal(true), data: z.unknown(), timestamp: isoTime,
    cached: z.boolean().optional().meta({ description: 'a cache tier held the value (false: its source just loaded it)' }),
    tier: z.string().optional().meta({ description: 'the tier that answered: memory, redis or source' }),
  }),
  ApiError: z.object({ success: z.literal(false), error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }) }),
  CacheHealth: z.looseObject({}).meta({ description: 'the cache service: Redis and PostgreSQL state (not in the envelope)' }),
};

const ref = (name: keyof typeof RESPONSES & string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: unknown) => ({ 'application/json': { schema } });

const STATUS: Record<number, string> = {
  304: 'Not Modified: If-None-Match holds the current ETag',
  400: 'a parameter or body field is invalid: the message names it',
  401: 'a credential is needed, or the one sent is unknown, revoked, expired or malformed',
  403: 'the credential lacks the scope, the resource is another user\'s, or the browser origin is not allowed',
  404: 'no such symbol, value or route',
  413: 'the request body is over HTTP_MAX_BODY_BYTES',
  415: 'the body is not application/json',
  426: 'a plain GET of a WebSocket endpoint: connect with Upgrade: websocket',
  429: 'over a rate or connection limit: Retry-After says when to try again',
  500: 'the server failed: internal error; the server log has the details',
  503: 'a store the answer needs is unavailable, the runtime is down, or credentials cannot be checked yet',
};

// ── inputs of each route ────────────────────────────────────────────────────────

interface Inputs {
  /** Each property is one query parameter; required unless optional. */
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The answer: a response shape (JSON) and other media types it may come as; `statuses` default [200]. */
  ok?: { statuses?: number[]; schema?: keyof typeof RESPONSES & string; media?: string[]; description: string };
  /** Error statuses besides those of access control. */
  errors?: number[];
}

const SYMBOL_ERRORS = [404, 503];
const FRONT: Record<string, Inputs> = {
  'GET /': { ok: { schema: 'RouteIndex', media: ['text/html; charset=utf-8'], description: 'every route; a browser (Accept: text/html) gets the chart page when it is built' } },
  'GET /assets/{file}': { ok: { media: ['text/javascript; charset=utf-8', 'text/css; charset=utf-8'], description: 'an asset of the chart page (immutable)' }, errors: [404] },
  'GET /health': { ok: { statuses: [200, 503], schema: 'Health', description: 'runtime health: 503 when a component is down' } },
  'GET /health/detailed': { ok: { statuses: [200, 503], schema: 'DetailedHealth', description: 'health, with details for an admin credential, else each component\'s status; 503 when down' } },
  'GET /symbols': { ok: { schema: 'Symbols', description: 'the symbols served' } },
  'GET /stats': { ok: { schema: 'Stats', description: 'counters and latency' } },
  'GET /metrics': { ok: { media: ['text/plain; version=0.0.4; charset=utf-8'], description: 'Prometheus metrics, text format' } },
  'GET /openapi.json': { ok: { schema: 'OpenApi', description: 'this OpenAPI document' } },
  'GET /orderbook/{symbol}/latest': { ok: { schema: 'OrderbookSnapshot', description: 'the latest book' }, errors: SYMBOL_ERRORS },
  'GET /orderbook/{symbol}/today': { query: P.orderbookTodayQuery, ok: { schema: 'HistoricalData', description: "today's history" }, errors: [400, ...SYMBOL_ERRORS] },
  'GET /orderbook/{symbol}/history': { query: P.orderbookHistoryQuery, ok: { schema: 'HistoricalData', description: 'the last hours of history' }, errors: [400, ...SYMBOL_ERRORS] },
  'GET /candles/{symbol}': { query: P.candlesQuery, ok: { schema: 'Candles', description: 'candles, oldest first' }, errors: [400, ...SYMBOL_ERRORS] },
  'GET /indicators/{symbol}': { query: P.indicatorsQuery, ok: { schema: 'Indicators', description: 'indicator points, oldest first' }, errors: [400, ...SYMBOL_ERRORS] },
  'GET /ticker': { ok: { schema: 'Tickers', description: 'every symbol\'s ticker' } },
  'GET /ticker/{symbol}': { ok: { schema: 'Ticker', description: 'the rolling 24 h ticker' }, errors: [404] },
  'GET /trades/{symbol}': { query: P.tradesQuery, ok: { schema: 'Trades', description: 'trades, oldest first' }, errors: [400, ...SYMBOL_ERRORS] },
};

/** The body of POST /price-alert, as the cache actor's AlertHub checks it (it validates by hand, field by field, in this order). */
const priceAlert = z.object({
  symbol: z.string().meta({ description: 'a symbol served here (GET /symbols)' }),
  condition: z.enum(CONDITIONS),
  target_price: z.number().gt(0).lt(1e14),
  ttl_seconds: z.number().int().min(1).max(30 * 86_400).optional(),
  webhook_url: z.url({ protocol: /^https?$/ }).max(2048).optional().meta({ description: 'needs ALERT_WEBHOOK_SECRET on the server' }),
});

const CACHE: Record<string, Inputs> = {
  'GET /stock-prices/latest': { query: z.object({ symbols: S.query.symbols.meta({ description: 'comma-separated symbols, 1-100' }) }) },
  'POST /stock-prices/bulk': { body: S.bulkPrices },
  'POST /stock-prices/{symbol}': { body: S.stockPrice },
  'POST /options/{symbol}/{expiry}': { body: S.optionsChain },
  'GET /signals/active': { query: z.object({ symbol: S.params.symbol }) },
  'POST /signals/{signal_id}': { body: S.signal },
  'POST /sessions': { body: S.sessionCreate },
  'POST /analytics/{key}': { query: z.object({ ttl: S.query.ttl.optional().meta({ description: 'seconds; default the namespace TTL' }) }), body: S.analytics },
  'POST /market-status': { body: S.marketStatus },
  'GET /price-change/{symbol}': { query: z.object({ minutes: S.query.minutes.optional().meta({ description: `the period in whole minutes, 1-${S.PRICE_CHANGE_MAX_MINUTES} (default ${S.PRICE_CHANGE_DEFAULT_MINUTES})` }) }) },
  'GET /price-history/{symbol}': {
    query: z.object({
      since: S.query.since.optional().meta({ description: 'ISO 8601 date-time with Z or an offset, or ms since the epoch (default 24 h ago)' }),
      limit: S.query.historyLimit.optional().meta({ description: `points, 1-${S.PRICE_HISTORY_MAX_LIMIT} (default ${S.PRICE_HISTORY_DEFAULT_LIMIT})` }),
    }),
  },
  'GET /trades/{symbol}': { query: z.object({ limit: S.query.tradesLimit.optional().meta({ description: `trades, 1-${P.TRADES_MAX_LIMIT} (default ${P.TRADES_DEFAULT_LIMIT})` }) }) },
  'POST /price-alert': { body: priceAlert },
  'GET /price-alerts': { query: z.object({ status: z.enum(['active', 'triggered', 'expired', 'deleted']).optional() }) },
  'POST /invalidate': { body: S.invalidate },
  'DELETE /clear': { query: z.object({ confirm: S.query.confirm }) },
  'GET /health': { ok: { schema: 'CacheHealth', description: 'Redis and PostgreSQL state' } },
};

/** Routes answering 200 with the HTTP validators of http-cache.ts (ETag, Cache-Control; 304 on a match). */
const CACHE_VALIDATED = new Set([
  'GET /stock-prices/latest', 'GET /stock-prices/{symbol}', 'GET /options/{symbol}/summary', 'GET /options/{symbol}/{expiry}',
  'GET /market-status', 'GET /market-data/{symbol}', 'GET /price/{symbol}', 'GET /price-change/{symbol}', 'GET /price-history/{symbol}',
]);
/** POSTs that change something without storing a value: 200, not 201. */
const CACHE_POST_OK = new Set(['POST /invalidate', 'POST /cleanup']);
/** POSTs that take no body (every other one has its schema in CACHE). */
const CACHE_NO_BODY = new Set(['POST /cleanup']);

const PATH_PARAMS: Record<string, z.ZodType> = { ...P.pathParams };
const CACHE_PATH_PARAMS: Record<string, z.ZodType> = {
  ...S.params,
  alert_id: z.string().regex(/^\d{1,15}$/).meta({ description: 'as POST /price-alert returned it' }),
};

// ── the document ────────────────────────────────────────────────────────────────

const SECURITY_SCHEMES = {
  apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'an API key (npm run keys)' },
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a JWT (scopes in `scopes` or `scope`), or an API key' },
  wsToken: { type: 'apiKey', in: 'query', name: 'token', description: 'WebSocket only: an API key or JWT (or send {"action":"auth","token"} first)' },
};

/**
 * Who may call: `public` anyone; `read` anyone unless AUTH=all (the empty requirement), else a
 * credential with that scope; `write`, `admin` and `:own` always a credential (roles are scopes).
 */
function security(access: Access, ws: boolean): Record<string, string[]>[] {
  const [scope, own] = access.split(':');
  const schemes = ws ? ['apiKey', 'bearer', 'wsToken'] : ['apiKey', 'bearer'];
  const needed = schemes.map((s) => ({ [s]: [scope] }));
  if (access === 'public') return ws ? [{}, ...needed] : [];
  return scope === 'read' && own === undefined ? [{}, ...needed] : needed;
}

const ACCESS_NOTE: Record<string, string> = {
  public: 'Access: public (no credential, in every AUTH mode).',
  read: 'Access: read (anonymous unless AUTH=all).',
  write: 'Access: write.',
  admin: 'Access: admin.',
  'read:own': 'Access: read, the resource\'s own user or an admin.',
  'write:own': 'Access: write, the resource\'s own user or an admin.',
};

const operationId = (method: string, path: string): string =>
  method.toLowerCase() + (path === '/' ? 'Index' : path.replace(/[{}]/g, '').split(/[/._-]/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(''));

/**
 * The parameters of `route`. A path parameter without a schema is documented as a string and
 * `gaps` says so (the document marks the operation `x-undescribed`; the tests refuse that).
 */
function parameters(route: RouteInfo, inputs: Inputs, pathSchemas: Record<string, z.ZodType>, gaps: string[]): unknown[] {
  const out: unknown[] = [];
  for (const [, name] of route.path.matchAll(/\{([^}]+)\}/g)) {
    const s = pathSchemas[name];
    if (!s) gaps.push(`path parameter {${name}} has no schema`);
    out.push({ name, in: 'path', required: true, schema: s ? jsonSchema(s) : { type: 'string' } });
  }
  for (const [name, s] of Object.entries(inputs.query?.shape ?? {})) {
    const schema = jsonSchema(s as z.ZodType);
    const { description, ...rest } = schema;
    out.push({ name, in: 'query', required: !(s as z.ZodType).isOptional(), ...(description ? { description } : {}), schema: rest });
  }
  return out;
}

/** What the operation leaves undescribed, if anything: a route added without its entry here. */
const undescribed = (gaps: string[]) => (gaps.length > 0 ? { 'x-undescribed': gaps.join('; ') } : {});

function errorResponses(statuses: number[], envelope: 'FrontError' | 'ApiError'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of [...new Set(statuses)].sort()) out[s] = s === 304 ? { description: STATUS[s] } : { description: STATUS[s], content: jsonContent(ref(envelope)) };
  return out;
}

/**
 * What the gate may answer before any route: 401 for a bad credential (even on a public route),
 * 403 for a missing scope or a browser origin not allowed, 503 while credentials cannot be checked.
 */
const GATE_ERRORS = [401, 403, 503];

function frontOperation(route: RouteInfo): Record<string, unknown> {
  const key = `${route.method} ${route.path}`;
  if (route.path === '/ws' || route.path.startsWith('/ws/')) return webSocketOperation(route);
  const gaps: string[] = [];
  const inputs = FRONT[key] ?? (gaps.push('no entry in FRONT (src/protocol/openapi.ts)'), {});
  const ok = inputs.ok ?? { description: route.description };
  const content = {
    ...(ok.schema ? jsonContent(ref(ok.schema)) : {}),
    ...Object.fromEntries((ok.media ?? []).map((m) => [m, { schema: { type: 'string' } }])),
  };
  return {
    operationId: operationId(route.method, route.path), tags: ['runtime'], summary: route.description,
    description: ACCESS_NOTE[route.access], 'x-access': route.access, security: security(route.access, false),
    parameters: parameters(route, inputs, PATH_PARAMS, gaps), ...undescribed(gaps),
    responses: {
      ...errorResponses([...(inputs.errors ?? []), ...GATE_ERRORS, 500], 'FrontError'),
      ...Object.fromEntries((ok.statuses ?? [200]).map((status) => [status, { description: ok.description, ...(Object.keys(content).length > 0 ? { content } : {}) }])),
    },
  };
}

function webSocketOperation(route: RouteInfo): Record<string, unknown> {
  const gaps: string[] = [];
  return {
    operationId: operationId(route.method, route.path), tags: ['websocket'], summary: route.description,
    description: `${ACCESS_NOTE[route.access]} A credential may come as ?token=, a header, or an auth message; with AUTH=all one is needed ` +
      `within WS_AUTH_TIMEOUT_MS (else close 4401). Every message is JSON text; each type has a JSON Schema in ${PROTOCOL_SCHEMAS} ` +
      '(client/ what the client sends, server/ what it receives).',
    'x-access': route.access, security: security(route.access, true),
    parameters: [
      ...parameters(route, {}, PATH_PARAMS, gaps),
      { name: 'Upgrade', in: 'header', required: true, schema: { type: 'string', const: 'websocket' } },
    ],
    ...undescribed(gaps),
    'x-websocket-messages': {
      client: ['subscribe', 'unsubscribe', 'ping', 'auth'],
      server: ['historical_data', 'orderbook_snapshot', 'orderbook_update', 'resync', 'status', 'error', 'pong', 'authenticated',
        'token_expired', 'unsubscribed', 'trades_snapshot', 'trade', 'candles_snapshot', 'candle', 'ticker', 'alert'],
    },
    responses: {
      101: { description: 'Switching Protocols: the WebSocket protocol (README, "WebSocket protocol")' },
      ...errorResponses([403, 426, 429, 503], 'FrontError'),
    },
  };
}

function cacheOperation(route: RouteInfo): Record<string, unknown> {
  const rel = `${route.method} ${route.path.slice(API_PREFIX.length)}`;
  const inputs = CACHE[rel] ?? {};
  const gaps: string[] = [];
  if (route.method === 'POST' && !inputs.body && !CACHE_NO_BODY.has(rel)) gaps.push('no body schema in CACHE (src/protocol/openapi.ts)');
  const validated = CACHE_VALIDATED.has(rel);
  const status = route.method === 'POST' && !CACHE_POST_OK.has(rel) ? 201 : 200;
  const rateHeaders = Object.fromEntries(['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']
    .map((h) => [h, { description: 'while RATE_LIMIT_ENABLED: the caller\'s limit, what is left of it, seconds until it resets', schema: { type: 'integer' } }]));
  const okHeaders = validated
    ? { ...rateHeaders, ETag: { description: 'weak validator of `data`', schema: { type: 'string' } }, 'Cache-Control': { schema: { type: 'string' } } }
    : rateHeaders;
  const errors = [400, 404, 429, 500, ...GATE_ERRORS, ...(validated ? [304] : []), ...(inputs.body ? [413, 415] : [])];
  return {
    operationId: operationId(route.method, route.path), tags: ['cache'], summary: route.description,
    description: ACCESS_NOTE[route.access], 'x-access': route.access, security: security(route.access, false),
    parameters: parameters(route, inputs, CACHE_PATH_PARAMS, gaps), ...undescribed(gaps),
    ...(inputs.body ? { requestBody: { required: true, content: jsonContent(jsonSchema(inputs.body)) } } : {}),
    responses: {
      [status]: { description: inputs.ok?.description ?? 'the answer in the API\'s envelope', headers: okHeaders, content: jsonContent(ref(inputs.ok?.schema ?? 'ApiSuccess')) },
      ...errorResponses(errors, 'ApiError'),
    },
  };
}

/** The OpenAPI 3.1 document of `routes` (GET /'s list: paths as served, the REST API's under its prefix). */
export function openApiDocument(routes: readonly RouteInfo[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const ids = new Set<string>();
  for (const r of routes) {
    const op = r.path.startsWith(`${API_PREFIX}/`) ? cacheOperation(r) : frontOperation(r);
    // operationIds must be unique; two paths differing only in separators (/a-b, /a/b) would share one.
    while (ids.has(op.operationId as string)) op.operationId = `${String(op.operationId)}2`;
    ids.add(op.operationId as string);
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'tickplant',
      version: '1.0.0',
      summary: 'Real-time market data: books, trades, candles, tickers and indicators; a cache service under /api/v1/cache.',
      description: 'Errors are {"error":{"code","message"}}, under /api/ the envelope {"success":false,"error":{"code","message","field"?}}. ' +
        'AUTH=writes (the default) opens reads to anyone; AUTH=all needs a credential everywhere but /health; AUTH=off opens everything.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'runtime', description: 'market data and operations of the runtime' },
      { name: 'websocket', description: `the streaming protocol; message schemas in ${PROTOCOL_SCHEMAS}` },
      { name: 'cache', description: `the REST API of the cache service under ${API_PREFIX}` },
    ],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(RESPONSES).map(([name, s]) => [name, jsonSchema(s, 'output')])),
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}
