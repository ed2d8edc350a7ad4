// HTTP routes of the front actor: health, symbols, stats, latest book, today's history.

import type { Config } from '../../config.js';
import { parseResolution } from '../../protocol/client-message.js';
import { TYPE_SNAPSHOT } from '../../protocol/encode.js';
import type { ComponentHealth } from './messages.js';
import type { HistoryResult } from './sessions.js';
import type { FrontSymbol } from './symbols.js';
import type { HttpReply, HttpRequest } from './uws.js';

export interface HttpDeps {
  cfg: Config;
  symbols(): FrontSymbol[];
  symbol(name: string): FrontSymbol | undefined;
  history(sym: FrontSymbol, resolutionMs: number, fromMs?: number): Promise<HistoryResult>;
  stats(): Promise<unknown>;
  health(): Promise<Record<string, ComponentHealth>>;
}

const json = (status: number, body: unknown): HttpReply => ({ status, body: JSON.stringify(body) });
const error = (status: number, code: string, message: string): HttpReply => json(status, { error: { code, message } });

/** An error reply in the shape of the route at `url` (for replies built before a route ran). */
export function errorReply(_url: string, status: number, code: string, message: string): HttpReply {
  return error(status, code, message);
}

const ORDERBOOK = /^\/orderbook\/([^/]+)\/(latest|today|history)$/;
/** `?hours=` of /history: 1 hour to 30 days. */
const MAX_HOURS = 720;
/** Points one response may hold; a longer range is served at a coarser resolution. */
const MAX_POINTS = 100_000;
const MINUTE_MS = 60_000;

export function handleHttp(req: HttpRequest, d: HttpDeps): HttpReply | Promise<HttpReply> {
  if (req.method !== 'GET') return error(405, 'method_not_allowed', `${req.method} is not served; use GET`);
  switch (req.url) {
    case '/health':
      return health(d);
    case '/symbols':
      return json(200, {
        symbols: d.symbols().map((s) => ({ symbol: s.name, shard: s.shard, epoch: s.epoch, seq: s.lastSeq, stale: s.stale })),
      });
    case '/stats':
      return d.stats().then((s) => json(200, s));
  }
  const m = ORDERBOOK.exec(req.url);
  if (!m) return error(404, 'not_found', `no route ${req.url}: see /health, /symbols, /stats, /orderbook/{symbol}/latest|today|history`);
  const name = decodeURIComponent(m[1]);
  const sym = d.symbol(name);
  if (!sym) return error(404, 'unknown_symbol', `unknown symbol ${name}: GET /symbols lists the symbols served`);
  if (m[2] === 'latest') return latest(sym);
  const resolution = req.query.get('resolution');
  let resolutionMs = d.cfg.historyResolutionMs;
  if (resolution !== null) {
    const r = parseResolution(resolution);
    if (!r.ok || r.ms === 0) return error(400, 'invalid_parameter', `resolution: ${r.ok ? 'expected a duration, not "none"' : r.message}`);
    resolutionMs = r.ms;
  }
  if (m[2] === 'today') return d.history(sym, resolutionMs).then((h) => ({ status: 200, body: h.bytes }));

  const hoursText = req.query.get('hours') ?? '24';
  const hours = Number(hoursText);
  if (!/^\d+$/.test(hoursText) || hours < 1 || hours > MAX_HOURS) {
    return error(400, 'invalid_parameter', `hours: expected a whole number of hours from 1 to ${MAX_HOURS}, got "${hoursText.slice(0, 20)}"`);
  }
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
