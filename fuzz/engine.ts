// The fuzzing run against one server: behaving clients and the health monitor first, then WebSocket and HTTP fuzzing together.
import { FuzzSetupError } from './errors.js';
import { HealthMonitor } from './health.js';
import { Recent } from './recent.js';
import type { Death } from './server.js';
import { fuzzHttp, newHttpFuzzResult } from './http-fuzz.js';
import type { HttpContext, Route } from './http-cases.js';
import type { Report } from './report.js';
import { verdict } from './report.js';
import { Watchers } from './watch.js';
import type { SymbolInfo, WsContext } from './ws-cases.js';
import { fuzzWebSocket, newWsFuzzResult } from './ws-fuzz.js';

export interface FuzzOptions {
  /** http://host:port of a running tickplant. */
  url: string;
  seed: number;
  wsMessages: number;
  httpRequests: number;
  apiKey?: string;
  /** The server's JWT_SECRET, when known: some tokens are then validly signed. */
  jwtSecret?: string;
  startedByFuzzer?: boolean;
  /** Concurrent fuzzing WebSocket connections, and each one's messages per second. */
  wsConcurrency?: number;
  wsRatePerS?: number;
  httpConcurrency?: number;
  watchers?: number;
  symbolsPerWatcher?: number;
  /** The server's WS_MAX_MESSAGE_BYTES and HTTP_MAX_BODY_BYTES (defaults: tickplant's). */
  wsMaxMessageBytes?: number;
  httpMaxBodyBytes?: number;
  /** When the fuzzer started the process: why and when it exited, once it has. */
  died?: () => Death | undefined;
  /** When the fuzzer reads the server's log: when it first logged an actor crash. */
  crashLoggedAt?: () => number | undefined;
  /** Send only these cases (`--case ws:N`, `--case http:N`): reproducing a finding. */
  only?: { ws: number[]; http: number[] };
  /** Progress lines (every ~10 s). */
  log?: (line: string) => void;
}

async function getJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new FuzzSetupError(`GET ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}; is tickplant running there?`);
  }
  if (res.status !== 200) throw new FuzzSetupError(`GET ${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

/**
 * When the crash happened, as near as known: the log line of the crash is the closest; polling
 * sees it up to a couple of seconds late. A little slack after it keeps the case whose
 * processing crashed the actor even if it was noted a moment after the log line arrived.
 */
function crashAnchor(seen: number | undefined, logged: number | undefined): number {
  return Math.min(seen ?? Infinity, logged ?? Infinity, Date.now()) + 50;
}

interface SymbolsBody {
  symbols: { symbol: string; epoch: number; seq: number; status?: string }[];
}

export async function runFuzz(o: FuzzOptions): Promise<Report> {
  const t0 = performance.now();
  const base = o.url.replace(/\/+$/, '');
  const u = new URL(base);
  const log = o.log ?? (() => undefined);

  const { routes } = await getJson<{ routes: Route[] }>(`${base}/`);
  let symbols: SymbolInfo[] = (await getJson<SymbolsBody>(`${base}/symbols`)).symbols.map((s) => ({ symbol: s.symbol, epoch: s.epoch, seq: s.seq }));
  const refresh = setInterval(() => {
    getJson<SymbolsBody>(`${base}/symbols`).then(
      (b) => (symbols = b.symbols.map((s) => ({ symbol: s.symbol, epoch: s.epoch, seq: s.seq }))),
      () => undefined, // the monitor reports an unresponsive server; the cases keep the last list
    );
  }, 2000);

  const monitor = new HealthMonitor({ base, died: o.died });
  await monitor.start();
  const live = symbols.filter((s) => s.seq > 0).map((s) => s.symbol);
  const watchers = new Watchers(`ws://${u.host}/ws`, live.length > 0 ? live : symbols.map((s) => s.symbol), o.watchers ?? 3, o.symbolsPerWatcher ?? 3);
  await watchers.start();

  const wsCtx: WsContext = { symbols, apiKey: o.apiKey, jwtSecret: o.jwtSecret, maxMessageBytes: o.wsMaxMessageBytes ?? 4096 };
  const httpCtx: HttpContext = { routes, symbols, apiKey: o.apiKey, jwtSecret: o.jwtSecret, maxBodyBytes: o.httpMaxBodyBytes ?? 1 << 20 };
  const stopped = () => monitor.gone;
  const recent = new Recent();
  const wsLive = newWsFuzzResult();
  const httpLive = newHttpFuzzResult();
  const ws = fuzzWebSocket({
    host: u.hostname, port: Number(u.port || 80), seed: o.seed, messages: o.wsMessages,
    concurrency: o.wsConcurrency ?? 32, ratePerS: o.wsRatePerS ?? 40, stopped, result: wsLive, recent, only: o.only?.ws,
    ctx: () => ((wsCtx.symbols = symbols), wsCtx),
  });
  const http = fuzzHttp({
    base, seed: o.seed, requests: o.httpRequests, concurrency: o.httpConcurrency ?? 12, stopped, result: httpLive, recent, only: o.only?.http,
    ctx: () => ((httpCtx.symbols = symbols), httpCtx),
  });
  const ticker = setInterval(() => {
    const w = watchers.result;
    log(`${((performance.now() - t0) / 1000).toFixed(0)} s: ${wsLive.messages} WS messages on ${wsLive.connections} connections, `
      + `${httpLive.requests} HTTP requests (${httpLive.fiveXx} 5xx); behaving clients ${w.updates} updates, ${w.gaps} gaps${monitor.gone ? '; SERVER GONE' : ''}`);
  }, 10_000);
  const [wsResult, httpResult] = await Promise.all([ws, http]);
  clearInterval(ticker);
  clearInterval(refresh);

  // The last cases' effects (a worker dying a moment after its input) must land before the verdict.
  await new Promise((r) => setTimeout(r, 1500));
  const health = await monitor.stop();
  const watch = watchers.stop();
  const partial = {
    seed: o.seed, target: base, startedByFuzzer: o.startedByFuzzer ?? false,
    credentials: [...(o.apiKey ? ['API key'] : []), ...(o.jwtSecret ? ['signed JWTs'] : [])].join(' and ') || 'none',
    wallS: (performance.now() - t0) / 1000, ws: wsResult, http: httpResult, health, watch, serverErrors: [],
    suspects: health.crashes > 0 ? recent.before(crashAnchor(health.crashSeenAt, o.crashLoggedAt?.()), 3000, 40) : [],
  };
  return { ...partial, failures: verdict(partial) };
}
