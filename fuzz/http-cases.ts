// HTTP fuzz cases: every route of `GET /` with random parameters, queries, headers and bodies, random paths, and malformed requests.
//
// Well-formed requests go through fetch (the server must answer them all with a status below
// 500); requests no HTTP client would send are written as raw bytes, and for those a closed
// connection without an answer is acceptable, a 5xx still is not.
import { signedToken } from './jwt.js';
import type { Rng } from './rng.js';
import type { SymbolInfo } from './ws-cases.js';
import * as v from './values.js';

export interface Route {
  method: string;
  path: string;
}

export interface HttpContext {
  routes: readonly Route[];
  symbols: readonly SymbolInfo[];
  apiKey?: string;
  jwtSecret?: string;
  maxBodyBytes: number;
}

export interface HttpCase {
  label: string;
  method: string;
  /** Path and query as sent. */
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** Written as bytes instead of through fetch; `raw` replaces the whole request when set. */
  transport: 'fetch' | 'raw';
  raw?: Buffer[];
  halfClose?: boolean;
  timeoutMs: number;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const ODD_METHODS = ['TRACE', 'CONNECT', 'PROPFIND', 'get', 'G3T', 'X'.repeat(300), 'PRI', 'SEARCH', 'QUERY', ''];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const USERS = ['user1', 'user2', 'trader.7', 'a@b.c'];
const TAGS = ['price', 'prediction', 'chart', 'ws_history', 'stock_price', 'options', 'options_summary', 'signal', 'session', 'analytics', 'market_status', 'market_data', 'market_price', 'sessions_by_user'];
const NAMESPACES = ['prices', 'predictions', 'chart_data', 'ws_history', 'stock_prices', 'options_chains', 'options_summary', 'signals', 'sessions', 'analytics', 'market_status', 'market_data', 'price'];

// ── values ─────────────────────────────────────────────────────────────────────

const iso = (rng: Rng) => new Date(Date.now() + rng.int(-86_400_000, 86_400_000 * 30)).toISOString();
const date = (rng: Rng) => `${rng.int(2020, 2030)}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
const idChars = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.pick([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'])).join('');

/** A value for a `{placeholder}`: valid for its kind most of the time, garbage otherwise. */
function paramValue(rng: Rng, name: string, ctx: HttpContext, orderbook: boolean): string {
  if (rng.chance(0.25)) {
    return rng.weighted<() => string>([
      [4, () => v.uriEncode(v.string(rng, 40))],
      [2, () => v.uriEncode(v.mutateString(rng, 'AAPL'))],
      [1, () => rng.pick(['%00', '%ff', '%zz', '%', '..', '.', '%2e%2e', '%2F', 'a%2Fb', '*', '%2A', '%3F', '%5B%5D', 'price%3Astock%3A*', '__proto__', 'constructor'])],
      [1, () => 'Z'.repeat(rng.pick([33, 65, 129, 1000, 9000]))],
    ])();
  }
  switch (name) {
    case 'symbol': {
      const known = ctx.symbols.length > 0 ? rng.pick(ctx.symbols).symbol : 'US.AAPL';
      return v.uriEncode(orderbook || rng.chance(0.3) ? known : rng.pick(['AAPL', 'MSFT', 'BTC-USD', 'ETH-USD', known.replace(/[^A-Za-z0-9._-]/g, '')]));
    }
    case 'expiry': return rng.chance(0.9) ? date(rng) : rng.pick(['2026-02-30', '2026-13-01', '26-01-01', '2026-1-1', '2026-01-01T00:00:00Z']);
    case 'signal_id': return `sig-${rng.int(0, 20)}`;
    case 'session_id': return idChars(rng, rng.pick([16, 24, 32, 128, 15, 129]));
    case 'user_id': return v.uriEncode(rng.pick(USERS));
    case 'key': return `k-${rng.int(0, 20)}`;
    case 'client_id': return `c${rng.int(0, 100)}`;
    default: return rng.chance(0.5) ? `${name}-${rng.int(0, 20)}` : v.uriEncode(v.string(rng, 20));
  }
}

function fillPath(rng: Rng, path: string, ctx: HttpContext): string {
  const orderbook = path.startsWith('/orderbook/');
  return path.replace(/\{([a-z_]+)\}/g, (_, name: string) => paramValue(rng, name, ctx, orderbook));
}

const QUERY_NAMES = ['resolution', 'hours', 'symbols', 'symbol', 'ttl', 'confirm', 'limit', 'token', 'api_key', 'from', 'to', 'namespace', 'pattern', ''];

function queryValue(rng: Rng, name: string, ctx: HttpContext): string {
  const sym = () => (ctx.symbols.length > 0 ? rng.pick(ctx.symbols).symbol : 'AAPL');
  if (rng.chance(0.3)) return v.uriEncode(rng.chance(0.5) ? v.numberText(rng) : v.string(rng, 30));
  switch (name) {
    case 'resolution': return rng.pick(['1s', '5s', '1m', '1h', '60', '3600', 'none', '0', '3601', '1d', '']);
    case 'hours': return rng.pick(['1', '24', '720', '721', '0', '-1', '1.5', '1e2', '99999999999999999999']);
    case 'symbols': return Array.from({ length: rng.pick([1, 3, 100, 101]) }, () => rng.pick(['AAPL', 'MSFT', 'BTC-USD', sym().replace(/[^A-Za-z0-9._-]/g, '')])).join(',');
    case 'symbol': return v.uriEncode(rng.pick(['AAPL', sym()]));
    case 'ttl': return rng.pick(['1', '60', '900', '2592000', '2592001', '0', '-5', '1.5', 'abc']);
    case 'confirm': return rng.pick(['true', 'false', 'TRUE', '1', '']);
    default: return v.uriEncode(v.string(rng, 20));
  }
}

function query(rng: Rng, ctx: HttpContext): string {
  if (rng.chance(0.5)) return '';
  const n = rng.skewed(rng.chance(0.05) ? 500 : 6) + 1;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = rng.chance(0.8) ? rng.pick(QUERY_NAMES) : v.uriEncode(v.string(rng, 10));
    parts.push(rng.chance(0.05) ? name : `${name}=${queryValue(rng, name, ctx)}`);
  }
  return `?${parts.join(rng.chance(0.05) ? ';' : '&')}`;
}

// ── bodies ─────────────────────────────────────────────────────────────────────

const price = (rng: Rng) => (rng.chance(0.9) ? Math.round(rng.float() * 100_000) / 100 : v.number(rng));

function stockPrice(rng: Rng): Record<string, unknown> {
  const o: Record<string, unknown> = { close_price: price(rng) };
  if (rng.chance(0.5)) Object.assign(o, { open_price: price(rng), high_price: price(rng), low_price: price(rng) });
  if (rng.chance(0.5)) o.volume = rng.int(0, 1e9);
  if (rng.chance(0.3)) o.change_percent = rng.float() * 20 - 10;
  if (rng.chance(0.3)) o.timestamp = iso(rng);
  return o;
}

/** A glob for POST /invalidate: a namespace tag, then literal text, `*`, `?` and `[…]` classes (ranges in any order). */
function glob(rng: Rng): string {
  let g = rng.chance(0.8) ? rng.pick(TAGS) + ':' : '';
  for (let i = rng.int(1, 5); i > 0; i--) {
    g += rng.weighted<() => string>([
      [3, () => rng.pick(['AAPL', 'BTC', 'stock', 'US.AAPL', '1D', 'x'])],
      [2, () => '*'],
      [1, () => '?'],
      [1, () => ':'],
      [2, () => {
        const a = rng.pick([...'azAZ09_.:-']);
        const b = rng.pick([...'azAZ09_.:-']);
        return `[${rng.chance(0.2) ? '^' : ''}${rng.chance(0.6) ? `${a}-${b}` : a + b}]`;
      }],
      [1, () => rng.pick(['[', ']', '\\', '[]', '[^]', ' ', '{', 'é'])],
    ])();
  }
  return g;
}

/** A plausible body for a route of the REST API, chosen by its path. */
function plausibleBody(rng: Rng, path: string): unknown {
  if (path.endsWith('/stock-prices/bulk')) {
    return Array.from({ length: rng.pick([1, 2, 10, 1000, 1001]) }, () => ({ symbol: rng.pick(['AAPL', 'MSFT', 'BTC-USD']), ...stockPrice(rng) }));
  }
  if (path.includes('/stock-prices/')) return stockPrice(rng);
  if (path.includes('/options/')) {
    return Array.from({ length: rng.skewed(40) + 1 }, () => ({
      option_symbol: `AAPL${rng.int(100000, 999999)}C${rng.int(10000000, 99999999)}`, strike_price: price(rng), option_type: rng.pick(['CALL', 'PUT']),
      ...(rng.chance(0.5) ? { bid_price: price(rng), ask_price: price(rng), volume: rng.int(0, 1e6), open_interest: rng.int(0, 1e6) } : {}),
      ...(rng.chance(0.3) ? { implied_volatility: rng.float(), delta: rng.float(), gamma: rng.float(), theta: -rng.float(), vega: rng.float() } : {}),
    }));
  }
  if (path.includes('/signals/')) {
    return {
      symbol: rng.pick(['AAPL', 'MSFT', 'BTC-USD']), signal_type: rng.pick(['BUY', 'SELL', 'HOLD']), confidence: rng.float(),
      ...(rng.chance(0.5) ? { target_price: price(rng), stop_loss: price(rng), reasoning: v.string(rng, 200) } : {}),
      ...(rng.chance(0.5) ? { expires_at: iso(rng) } : {}),
    };
  }
  if (path.endsWith('/sessions')) {
    return { user_id: rng.pick(USERS), role: rng.pick(['trader', 'user', 'admin']), permissions: ['read'], ...(rng.chance(0.5) ? { data: v.json(rng, 3) } : {}) };
  }
  if (path.includes('/analytics/')) return { metric: rng.pick(['pnl', 'portfolio_performance']), value: v.number(rng), nested: v.json(rng, 3) };
  if (path.endsWith('/market-status')) return { is_open: rng.chance(0.5), session: rng.pick(['pre', 'regular', 'post', 'closed']), next_open: iso(rng), market: 'NYSE' };
  if (path.endsWith('/invalidate')) return rng.chance(0.7) ? { pattern: glob(rng) } : { namespace: rng.chance(0.8) ? rng.pick(NAMESPACES) : v.string(rng, 20) };
  return v.json(rng, 3);
}

/** A body: plausible, plausible with one thing wrong, or not what the route takes at all. */
function body(rng: Rng, path: string): Buffer {
  const good = plausibleBody(rng, path);
  const text = rng.weighted<() => string>([
    [8, () => JSON.stringify(good)],
    [6, () => {
      const o = (good !== null && typeof good === 'object' ? good : {}) as Record<string, unknown>;
      const first: unknown = Array.isArray(o) ? o[0] : undefined;
      const target = first !== null && typeof first === 'object' ? (first as Record<string, unknown>) : o;
      const keys = Object.keys(target);
      switch (rng.int(0, 3)) {
        case 0: if (keys.length) target[rng.pick(keys)] = v.json(rng, 2); break;
        case 1: if (keys.length) delete target[rng.pick(keys)]; break;
        case 2: target[v.string(rng, 12)] = v.json(rng, 2); break;
        default: if (keys.length) target[rng.pick(keys)] = rng.pick([1e308, -1, 2 ** 64, '1e400', null, true, [], {}]);
      }
      return JSON.stringify(o);
    }],
    [2, () => JSON.stringify(good).replace(/(-?\d+\.?\d*(e[+-]?\d+)?)/i, v.numberText(rng))],
    [2, () => JSON.stringify(v.json(rng, 4)) ?? 'null'],
    [1, () => v.deepJsonText(rng, rng.pick([63, 64, 65, 100, 10_000]))],
    [1, () => v.wideJsonText(rng, rng.int(100, 5000), '')],
    [1, () => rng.pick(['', 'null', '[]', '{}', '"x"', '{"a":', '{"a":1}{"b":2}', '\ufeff{}', 'NaN', '[1,]'])],
    [1, () => v.string(rng, 200)],
  ])();
  return rng.chance(0.03) ? v.invalidUtf8(rng, text) : Buffer.from(text, 'utf8');
}

// ── headers ────────────────────────────────────────────────────────────────────

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/json5', 'APPLICATION/JSON', 'json', '*/*', ''];

function headers(rng: Rng, ctx: HttpContext, withBody: boolean): [string, string][] {
  const h: [string, string][] = [];
  if (withBody && rng.chance(0.95)) h.push(['Content-Type', rng.chance(0.75) ? 'application/json' : rng.pick(CONTENT_TYPES)]);
  if (ctx.apiKey && rng.chance(0.4)) h.push(rng.chance(0.7) ? ['X-API-Key', ctx.apiKey] : ['Authorization', `Bearer ${ctx.apiKey}`]);
  else if (ctx.jwtSecret && rng.chance(0.2)) h.push(['Authorization', `Bearer ${signedToken(rng, ctx.jwtSecret, ctx.symbols.map((s) => s.symbol))}`]);
  else if (rng.chance(0.15)) h.push(['X-API-Key', v.garbageToken(rng, ctx.apiKey).replace(/[^\x20-\x7e]/g, '')]);
  if (rng.chance(0.15)) {
    const token = v.garbageToken(rng, ctx.apiKey).replace(/[^\x20-\x7e]/g, '');
    h.push(['Authorization', rng.pick([`Bearer ${token}`, `Basic ${Buffer.from(token).toString('base64')}`, token, 'Bearer', 'Bearer  ', `bearer ${token}`, `Digest ${token}`])]);
  }
  if (rng.chance(0.1)) h.push(['Origin', rng.pick(['http://evil.example', 'null', 'http://localhost:3000', 'https://app.example.com', 'file://', v.string(rng, 30).replace(/[^\x20-\x7e]/g, '')])]);
  if (rng.chance(0.05)) h.push(['If-None-Match', rng.pick(['*', 'W/"x"', '"abc"', 'W/""', v.string(rng, 40).replace(/[^\x20-\x7e]/g, '')])]);
  if (rng.chance(0.05)) h.push(['Accept-Encoding', rng.pick(['gzip', 'br', 'deflate', 'identity;q=0', '*;q=0'])]);
  if (rng.chance(0.03)) h.push(['X-Forwarded-For', rng.pick(['1.2.3.4', '::1', 'garbage', '1.2.3.4, 5.6.7.8'])]);
  if (rng.chance(0.03)) h.push(['Cookie', `session=${v.garbageToken(rng).replace(/[^\x21-\x7e]/g, '')}`]);
  if (rng.chance(0.02)) h.push([`X-Fuzz-${rng.int(0, 99)}`, 'v'.repeat(rng.pick([10, 4000, 16_000]))]);
  return h;
}

// ── raw requests ───────────────────────────────────────────────────────────────

function rawRequest(method: string, target: string, hdrs: [string, string][], body: Buffer | undefined, contentLength = true): Buffer {
  let head = `${method} ${target} HTTP/1.1\r\nHost: fuzz\r\n`;
  for (const [k, val] of hdrs) head += `${k}: ${val}\r\n`;
  if (body && contentLength) head += `Content-Length: ${body.length}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
}

/** Requests with broken framing or syntax; the server may answer 4xx or close, never 5xx. */
function malformed(rng: Rng, ctx: HttpContext): HttpCase {
  const route = rng.pick(ctx.routes);
  const target = fillPath(rng, route.path, ctx);
  const json = Buffer.from(JSON.stringify(plausibleBody(rng, route.path)));
  const c = (label: string, raw: Buffer[], o: Partial<HttpCase> = {}): HttpCase => ({
    label, method: route.method, target, headers: [], transport: 'raw', raw, timeoutMs: 1000, ...o,
  });
  const b = (s: string) => Buffer.from(s, 'latin1');
  return rng.weighted<() => HttpCase>([
    [2, () => c('odd request line', [b(rng.pick([
      `GET ${target}\r\n\r\n`, `GET ${target} HTTP/2.0\r\nHost: x\r\n\r\n`, `GET ${target} HTTP/1.1 extra\r\nHost: x\r\n\r\n`,
      `get ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, `GET  ${target}  HTTP/1.1\r\nHost: x\r\n\r\n`, `GET http://fuzz${target} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 'CONNECT fuzz:80 HTTP/1.1\r\nHost: x\r\n\r\n', `\r\n\r\nGET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET ${target}#frag HTTP/1.1\r\nHost: x\r\n\r\n`, `GET /a b/c HTTP/1.1\r\nHost: x\r\n\r\n`, `GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET ${target} HTTP/1.1\nHost: x\n\n`, `GET ${target} HTTP/9.9\r\n\r\n`, 'HTTP/1.1 200 OK\r\n\r\n', `${'X'.repeat(5000)} / HTTP/1.1\r\n\r\n`,
    ]))])],
    [1, () => c('long path', [b(`GET /${rng.pick(['a', '%41', '/', '../'])!.repeat(rng.pick([2000, 9000, 70_000]))} HTTP/1.1\r\nHost: x\r\n\r\n`)])],
    [2, () => c('odd headers', [b(`${route.method} ${target} HTTP/1.1\r\n${rng.pick([
      'Host: x\r\nNoColon\r\n', 'Host : x\r\n', 'Host: x\r\nX-A: 1\r\n  folded\r\n', 'Host: x\r\nX-A: a\0b\r\n', 'Host: x\r\nHost: y\r\n',
      '', `Host: x\r\n${'X-Many: 1\r\n'.repeat(rng.pick([100, 1000]))}`, `Host: x\r\nX-Big: ${'b'.repeat(rng.pick([8000, 70_000]))}\r\n`,
      'Host: x\r\n\u00e9: 1\r\n', 'Host: x\r\n: empty-name\r\n', 'Host: x\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\n',
    ])}\r\n`)])],
    [3, () => {
      const cl = rng.pick(['-1', 'abc', '1, 2', ' 5', '+5', '5.0', '18446744073709551616', '99999999999999999999999', '0x10', '']);
      return c(`Content-Length: ${JSON.stringify(cl)}`, [b(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${cl}\r\n\r\n`), json], { halfClose: rng.chance(0.5), timeoutMs: 1000 });
    }],
    [2, () => c('two different Content-Lengths', [b(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nContent-Length: ${rng.int(0, 10)}\r\n\r\n`), json], { timeoutMs: 1000 })],
    [3, () => c('body shorter than Content-Length', [b(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${json.length + rng.int(1, 5000)}\r\n\r\n`), json], { halfClose: rng.chance(0.6), timeoutMs: 1000 })],
    [3, () => c('body longer than Content-Length (pipelined junk)', [b(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${rng.int(0, json.length)}\r\n\r\n`), json, b(rng.chance(0.5) ? 'GET / HTTP/1.1\r\n\r\n' : v.string(rng, 100))])],
    [3, () => {
      const chunked = rng.pick([
        `${json.length.toString(16)}\r\n${json.toString('latin1')}\r\n0\r\n\r\n`, `zz\r\n${json.toString('latin1')}\r\n0\r\n\r\n`, `-1\r\nx\r\n0\r\n\r\n`,
        `ffffffffffffffffff\r\nx\r\n`, `${json.length.toString(16)}\r\n${json.toString('latin1')}\r\n`, `5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n`,
        `3\r\nabcdef\r\n0\r\n\r\n`,
      ]);
      const te = rng.pick(['chunked', 'gzip, chunked', 'chunked, identity', 'identity', 'xchunked', 'Chunked', ' chunked']);
      const cl = rng.chance(0.4) ? `Content-Length: ${rng.int(0, 50)}\r\n` : '';
      return c(`Transfer-Encoding: ${te}${cl ? ' with Content-Length' : ''}`, [b(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: ${te}\r\n${cl}\r\n${chunked}`)], { timeoutMs: 1000, halfClose: rng.chance(0.3) });
    }],
    [1, () => c('pipelined requests', [b(`GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n${route.method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`)])],
    [1, () => c('request cut short', [b(`${route.method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: appl`)], { halfClose: true, timeoutMs: 1000 })],
    [1, () => c('request in tiny pieces', [...b(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`)].map((byte) => Buffer.from([byte])))],
    [1, () => c('binary garbage', [Buffer.concat([rng.bytes(rng.int(1, 2000)), b('\r\n\r\n')])], { timeoutMs: 1000, halfClose: rng.chance(0.5) })],
  ])();
}

/** A body over HTTP_MAX_BODY_BYTES: announced (refused from the header) or actually sent. */
function oversize(rng: Rng, ctx: HttpContext): HttpCase {
  const writes = ctx.routes.filter((r) => BODY_METHODS.has(r.method));
  const route = writes.length > 0 && rng.chance(0.8) ? rng.pick(writes) : rng.pick(ctx.routes);
  const target = fillPath(rng, route.path, ctx);
  const method = BODY_METHODS.has(route.method) ? route.method : rng.pick(['POST', 'PUT']);
  const max = ctx.maxBodyBytes;
  const head = (extra: string) => Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`, 'latin1');
  const c = (label: string, raw: Buffer[], halfClose = false): HttpCase => ({ label, method, target, headers: [], transport: 'raw', raw, timeoutMs: 5000, halfClose });
  return rng.weighted<() => HttpCase>([
    [3, () => c('body over the limit, announced', [head(`Content-Length: ${max + rng.int(1, 10 * max)}\r\n`), Buffer.from('{"a":')], rng.chance(0.5))],
    [2, () => {
      const n = max + rng.int(1, 65_536);
      return c('body over the limit, sent', [head(`Content-Length: ${n}\r\n`), Buffer.alloc(n, 0x20)]);
    }],
    [1, () => {
      const chunk = Buffer.alloc(65_536, 0x20);
      const parts = [head('Transfer-Encoding: chunked\r\n')];
      for (let sent = 0; sent <= max; sent += chunk.length) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
      parts.push(Buffer.from('0\r\n\r\n'));
      return c('chunked body over the limit', parts);
    }],
    [1, () => c('body over the limit, announced too small', [head('Content-Length: 10\r\n'), Buffer.alloc(max + 1, 0x20)])],
  ])();
}

/** One HTTP case. */
export function httpCase(rng: Rng, ctx: HttpContext): HttpCase {
  const kind = rng.weighted<string>([[62, 'route'], [10, 'random path'], [20, 'malformed'], [2, 'oversize'], [6, 'odd method']]);
  if (kind === 'malformed') return malformed(rng, ctx);
  if (kind === 'oversize') return oversize(rng, ctx);
  const route = rng.pick(ctx.routes);
  let path = fillPath(rng, route.path, ctx);
  let label = `${route.method} ${route.path}`;
  let method = rng.chance(0.85) ? route.method : rng.pick(METHODS);
  if (kind === 'odd method') {
    method = rng.pick(ODD_METHODS);
    label = 'odd method';
  } else if (kind === 'random path') {
    path = rng.weighted<() => string>([
      [3, () => `/${Array.from({ length: rng.int(1, 6) }, () => v.uriEncode(v.string(rng, 12))).join('/')}`],
      [2, () => `/api/v1/cache/${Array.from({ length: rng.int(0, 4) }, () => rng.pick(['stock-prices', 'options', 'sessions', 'user', 'signals', 'active', 'x', '', '..', '%2e%2e'])).join('/')}`],
      [2, () => rng.pick(['//', '/./', '/health/', '/health//detailed', '/symbols/', '/orderbook', '/orderbook/', '/orderbook//latest', '/api', '/api/', '/api/v1', '/API/v1/cache/stats', '/ws/', '/metrics?x', '/%2e%2e/etc/passwd', '/stats%00', '/?' + 'q'.repeat(9000)])],
      [1, () => path + rng.pick(['/', '//', '/x', '.json', '%20', '%00', '/..'])],
    ])();
    label = 'random path';
  }
  const withBody = BODY_METHODS.has(method) ? rng.chance(0.9) : rng.chance(0.05);
  const bodyBytes = withBody ? body(rng, route.path) : undefined;
  const target = path + query(rng, ctx);
  const hdrs = headers(rng, ctx, withBody);
  // fetch refuses what is not a well-formed request: those go out as bytes, equally valid cases.
  const fetchable = /^[A-Z]+$/.test(method) && !['CONNECT', 'TRACE', 'TRACK'].includes(method) && !(bodyBytes && (method === 'GET' || method === 'HEAD'))
    && !/[^\x21-\x7e]/.test(target) && hdrs.every(([, val]) => /^[\x20-\x7e]*$/.test(val));
  if (fetchable) return { label, method, target, headers: hdrs, body: bodyBytes, transport: 'fetch', timeoutMs: 10_000 };
  return { label, method, target, headers: hdrs, body: bodyBytes, transport: 'raw', raw: [rawRequest(method || 'GET', target, hdrs, bodyBytes)], timeoutMs: 3000 };
}
