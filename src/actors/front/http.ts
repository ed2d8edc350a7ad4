// HTTP routes of the front actor: the route index, the OpenAPI document, health, symbols, stats, latest book, history, trades, indicators; the error shape of every path.

import { API_PREFIX } from '../../cache/api/api.js';
import { ApiError, errorReply as apiErrorReply } from '../../cache/api/replies.js';
import { cacheRoutes } from '../../cache/api/routes.js';
import type { RouteInfo } from '../../cache/api/router.js';
import type { Config } from '../../config.js';
import { TYPE_SNAPSHOT } from '../../protocol/encode.js';
import type { ComponentHealth } from '../supervisor/messages.js';
import type { HistoryResult } from './sessions.js';
import type { FrontSymbol } from './symbols.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import { openApiDocument } from '../../protocol/openapi.js';
import { HISTORY_DEFAULT_HOURS, orderbookHistoryQuery, orderbookTodayQuery, parseQuery } from '../../protocol/http-params.js';
import { type TradesSources, tradesReply } from './trades-http.js';
import { type StoredCandles, candlesReply, tickerJson } from './analytics-http.js';
import { type IndicatorCache, indicatorsReply } from './indicators-http.js';
import { ASSETS_PREFIX, type Page } from './page.js';

export interface HttpDeps {
  cfg: Config;
  symbols(): FrontSymbol[];
  symbol(name: string): FrontSymbol | undefined;
  history(sym: FrontSymbol, resolutionMs: number, fromMs?: number): Promise<HistoryResult>;
  stats(): Promise<unknown>;
  health(): Promise<Record<string, ComponentHealth>>;
  trades: TradesSources;
  /** Stored candles (PostgreSQL); undefined without it. */
  candles?: StoredCandles;
  /** Indicator series kept between GET /indicators requests. */
  indicators: IndicatorCache;
  /** The chart page (dist/web); undefined when it is not built. */
  page?: Page;
}

const json = (status: number, body: unknown): HttpReply => ({ status, body: JSON.stringify(body) });
const error = (status: number, code: string, message: string): HttpReply => json(status, { error: { code, message } });

/** Paths of the REST API: their errors take its `{"success":false,"error":{…}}` envelope. */
const isApi = (url: string) => url === '/api' || url.startsWith('/api/');

/**
 * An error reply in the shape of the path at `url`: the REST API's envelope under /api/, else
 * `{"error":{code,message}}`. Also used by uws.ts for replies built before a route ran (413) or
 * after its handler failed (500).
 */
export function errorReply(url: string, status: number, code: string, message: string): HttpReply {
  return isApi(url) ? apiErrorReply(new ApiError(status, code, message)) : error(status, code, message);
}

/**
 * Routes served beside the REST API (ops-http.ts serves /health/detailed and /metrics, uws.ts the
 * WebSockets); their access levels are gate.ts's.
 */
const FRONT_ROUTES: readonly RouteInfo[] = [
  { method: 'GET', path: '/', description: 'this index of every route; a browser (Accept: text/html) gets the chart page', access: 'read' },
  { method: 'GET', path: '/assets/{file}', description: "the chart page's script and stylesheet (content-hashed names, cached as immutable)", access: 'public' },
  { method: 'GET', path: '/health', description: 'runtime health: ok, degraded or down (503) per component', access: 'public' },
  { method: 'GET', path: '/health/detailed', description: 'runtime and cache health, WebSocket counts, feed→publish latency (the details with an admin credential)', access: 'read' },
  { method: 'GET', path: '/symbols', description: 'symbols served, with shard, epoch, last seq and status (live, stale, resyncing, no_data)', access: 'read' },
  { method: 'GET', path: '/stats', description: 'shard, front, writer and history-tier counters; feed→publish latency percentiles', access: 'read' },
  { method: 'GET', path: '/metrics', description: 'Prometheus metrics (text format)', access: 'read' },
  { method: 'GET', path: '/openapi.json', description: 'this API as an OpenAPI 3.1 document: parameters and bodies from the schemas that validate them', access: 'public' },
  { method: 'GET', path: '/orderbook/{symbol}/latest', description: "the symbol's latest orderbook_snapshot", access: 'read' },
  { method: 'GET', path: '/orderbook/{symbol}/today', description: "today's historical_data (?resolution=1m)", access: 'read' },
  { method: 'GET', path: '/orderbook/{symbol}/history', description: 'historical_data of the last ?hours=24 (1-720; ?resolution=1m)', access: 'read' },
  { method: 'GET', path: '/candles/{symbol}', description: 'candles ?interval=1m (1s, 1m, 5m, 15m, 1h, 4h, 1d) &from=&to=&limit=; today by default; oldest first', access: 'read' },
  { method: 'GET', path: '/indicators/{symbol}', description: 'indicators over closed candles ?interval=1m&names=sma20,ema20,rsi14,macd,bb20,vwap&limit=100 (1-1000); oldest first', access: 'read' },
  { method: 'GET', path: '/ticker', description: 'the rolling 24 h ticker of every symbol', access: 'read' },
  { method: 'GET', path: '/ticker/{symbol}', description: 'the rolling 24 h ticker of one symbol', access: 'read' },
  { method: 'GET', path: '/trades/{symbol}', description: 'recent trades (?limit=100, from memory or Redis), or ?from=&to= (ISO or ms) from PostgreSQL; oldest first', access: 'read' },
  { method: 'GET', path: '/ws', description: 'WebSocket: auth, subscribe, unsubscribe, ping; history, then live updates', access: 'public' },
  { method: 'GET', path: '/ws/{client_id}', description: 'WebSocket under a client id of the caller\'s choosing', access: 'public' },
];

/** Every route: ours, then the REST API's from its route table. */
const allRoutes = (): RouteInfo[] => [...FRONT_ROUTES, ...cacheRoutes.list().map((r) => ({ ...r, path: API_PREFIX + r.path }))];

/** GET / and GET /openapi.json, each built once: the tables are fixed. */
let index: string | undefined;
let openApi: string | undefined;
function routeIndex(): HttpReply {
  index ??= JSON.stringify({ routes: allRoutes() });
  return { status: 200, body: index };
}
function openApiReply(): HttpReply {
  openApi ??= JSON.stringify(openApiDocument(allRoutes()));
  return { status: 200, body: openApi };
}

const ORDERBOOK = /^\/orderbook\/([^/]+)\/(latest|today|history)$/;
const TRADES = /^\/trades\/([^/]+)$/;
const ANALYTICS = /^\/(candles|ticker|indicators)\/([^/]+)$/;

/** The symbol a path segment names, or the 400/404 reply saying why not. */
function symbolOf(segment: string, d: HttpDeps): FrontSymbol | HttpReply {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return error(400, 'invalid_parameter', 'symbol: malformed %-escape in the path');
  }
  return d.symbol(name) ?? error(404, 'unknown_symbol', `unknown symbol ${name}: GET /symbols lists the symbols served`);
}
/** Points one response may hold; a longer range is served at a coarser resolution. */
const MAX_POINTS = 100_000;
const MINUTE_MS = 60_000;

export function handleHttp(req: HttpRequest, d: HttpDeps): HttpReply | Promise<HttpReply> {
  // /api/v1/cache is the REST API's (forwarded to the cache actor); any other /api/ path is no route, in its envelope.
  if (isApi(req.url)) return errorReply(req.url, 404, 'not_found', `no route ${req.method} ${req.url}: GET / lists every route`);
  if (req.method !== 'GET') return error(405, 'method_not_allowed', `${req.method} is not served; use GET`);
  switch (req.url) {
    case '/':
      // One URL, two answers by Accept: caches must keep them apart.
      return d.page ? (d.page.index(req) ?? { ...routeIndex(), headers: { vary: 'accept' } }) : routeIndex();
    case '/openapi.json':
      return openApiReply();
    case '/health':
      return health(d);
    case '/symbols':
      return json(200, {
        symbols: d.symbols().map((s) => ({
          symbol: s.name, shard: s.shard, epoch: s.epoch, seq: s.lastSeq, stale: s.stale,
          status: s.lastSeq === 0 && s.status === 'live' ? 'no_data' : s.status,
          trades: { epoch: s.trades.epoch, seq: s.trades.lastSeq },
        })),
      });
    case '/stats':
      return d.stats().then((s) => json(200, s));
    case '/ticker':
      return json(200, { tickers: d.symbols().map(tickerJson) });
  }
  // uWS routes WebSocket upgrades of /ws and /ws/{client_id} itself; a plain GET lands here.
  if (req.url === '/ws' || req.url.startsWith('/ws/')) {
    return error(426, 'upgrade_required', `${req.url} is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)`);
  }
  if (req.url.startsWith(ASSETS_PREFIX)) {
    return d.page?.asset(req) ?? error(404, 'not_found', `no asset ${req.url}${d.page ? '' : ' (the chart page is not built: npm run build)'}`);
  }
  const a = ANALYTICS.exec(req.url);
  if (a) {
    const sym = symbolOf(a[2], d);
    if ('body' in sym) return sym;
    if (a[1] === 'indicators') return indicatorsReply(sym, req.query, { cache: d.indicators, timeZone: d.cfg.marketTimeZone, stored: d.candles });
    return a[1] === 'ticker' ? json(200, tickerJson(sym)) : candlesReply(sym, req.query, d.cfg.marketTimeZone, d.candles);
  }
  const t = TRADES.exec(req.url);
  if (t) {
    const sym = symbolOf(t[1], d);
    return 'body' in sym ? sym : tradesReply(sym.trades, req.query, d.trades);
  }
  const m = ORDERBOOK.exec(req.url);
  if (!m) return error(404, 'not_found', `no route ${req.url}: GET / lists every route`);
  const sym = symbolOf(m[1], d);
  if ('body' in sym) return sym;
  if (m[2] === 'latest') return latest(sym);
  if (m[2] === 'today') {
    const q = parseQuery(orderbookTodayQuery, req.query);
    if (!q.ok) return q.reply;
    return d.history(sym, q.value.resolution ?? d.cfg.historyResolutionMs).then((h) => ({ status: 200, body: h.bytes }));
  }
  const q = parseQuery(orderbookHistoryQuery, req.query);
  if (!q.ok) return q.reply;
  const resolutionMs = q.value.resolution ?? d.cfg.historyResolutionMs;
  const hours = q.value.hours ?? HISTORY_DEFAULT_HOURS;
  const spanMs = hours * 3_600_000;
  // Coarser than asked when the range would exceed MAX_POINTS (a multiple of the ring's resolution).
  const floor = Math.ceil(spanMs / MAX_POINTS / d.cfg.historyResolutionMs) * d.cfg.historyResolutionMs;
  // The start is rounded down to a minute, so repeated requests share cached hours.
  const fromMs = Math.floor((Date.now() - spanMs) / MINUTE_MS) * MINUTE_MS;
  return d.history(sym, Math.max(resolutionMs, floor), fromMs).then((h) => ({ status: 200, body: h.bytes }));
}

function latest(sym: FrontSymbol): HttpReply {
  if (sym.lastSeq === 0) return error(404, 'no_data', `no update for ${sym.name} yet`);
  const out = new Uint8Array(sym.maxFrameBytes);
  const len = sym.encode(out, TYPE_SNAPSHOT, sym.lastSeq, sym.epoch);
  if (len < 0) return error(503, 'unavailable', `latest update of ${sym.name} is being rewritten; retry`);
  return { status: 200, body: out.subarray(0, len) };
}

async function health(d: HttpDeps): Promise<HttpReply> {
  const components = await d.health();
  const states = Object.values(components).map((c) => c.status);
  const status = states.includes('down') ? 'down' : states.includes('degraded') ? 'degraded' : 'ok';
  return json(status === 'down' ? 503 : 200, { status, components });
}
