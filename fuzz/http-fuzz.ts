// Sends the HTTP cases: a few concurrent senders, each case from its own seeded generator; counts statuses, keeps the 5xx.
import { httpCase, type HttpCase, type HttpContext } from './http-cases.js';
import { rawHttp } from './raw-http.js';
import type { Recent } from './recent.js';
import { caseRng } from './rng.js';

export interface Http5xx {
  case: number;
  label: string;
  status: number;
  request: string;
  response: string;
  /** Answers with the same status to cases of the same label (this one is the first). */
  count: number;
}

export interface HttpFuzzResult {
  requests: number;
  viaFetch: number;
  viaRaw: number;
  statuses: Record<string, number>;
  /** Raw requests, and requests with unusual methods, the server closed without answering (allowed for those). */
  noAnswer: number;
  /** Well-formed requests that failed without a status (connection reset, timeout): listed, not failures by themselves. */
  transportErrors: number;
  transportErrorSamples: string[];
  fiveXx: number;
  /** The first 5xx of each (status, case label), up to SAMPLES of them. */
  fiveXxSamples: Http5xx[];
}

export interface HttpFuzzOptions {
  base: string;
  seed: number;
  requests: number;
  concurrency: number;
  ctx(): HttpContext;
  stopped(): boolean;
  /** Filled as the run goes (progress lines read it). */
  result: HttpFuzzResult;
  /** Every request sent is noted here: the suspects of a crash. */
  recent: Recent;
  /** Send only these cases (reproducing one) instead of `requests` of them. */
  only?: number[];
}

export function newHttpFuzzResult(): HttpFuzzResult {
  return { requests: 0, viaFetch: 0, viaRaw: 0, statuses: {}, noAnswer: 0, transportErrors: 0, transportErrorSamples: [], fiveXx: 0, fiveXxSamples: [] };
}

const SAMPLES = 10;
const STANDARD_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']);

/** How a case looks in a report: enough to send it again with curl or nc. */
export function describeRequest(c: HttpCase): string {
  if (c.raw) {
    const bytes = Buffer.concat(c.raw);
    const text = bytes.subarray(0, 1500).toString('latin1');
    return `raw bytes (${bytes.length}): ${JSON.stringify(text)}${bytes.length > 1500 ? '…' : ''}`;
  }
  const body = c.body ? ` body (${c.body.length} bytes): ${JSON.stringify(c.body.subarray(0, 1500).toString('utf8'))}${c.body.length > 1500 ? '…' : ''}` : '';
  return `${c.method} ${c.target} headers ${JSON.stringify(c.headers)}${body}`;
}

export async function fuzzHttp(o: HttpFuzzOptions): Promise<HttpFuzzResult> {
  const u = new URL(o.base);
  const host = u.hostname;
  const port = Number(u.port || 80);
  const r = o.result;
  const record = (i: number, c: HttpCase, status: number | undefined, response: string) => {
    r.requests++;
    r.statuses[status ?? 'none'] = (r.statuses[status ?? 'none'] ?? 0) + 1;
    if (status !== undefined && status >= 500) {
      r.fiveXx++;
      const same = r.fiveXxSamples.find((x) => x.status === status && x.label === c.label);
      if (same) same.count++;
      else if (r.fiveXxSamples.length < SAMPLES) r.fiveXxSamples.push({ case: i, label: c.label, status, request: describeRequest(c), response: response.slice(0, 600), count: 1 });
    }
  };
  const viaFetch = async (i: number, c: HttpCase) => {
    r.viaFetch++;
    try {
      const res = await fetch(o.base + c.target, {
        method: c.method, headers: c.headers, body: c.body, redirect: 'manual', signal: AbortSignal.timeout(c.timeoutMs),
      });
      const text = res.status >= 500 ? await res.text() : (await res.arrayBuffer(), '');
      record(i, c, res.status, text);
    } catch (e) {
      if (!STANDARD_METHODS.has(c.method)) {
        // uWS drops a connection whose method it does not parse: an answer of its own kind.
        r.noAnswer++;
        record(i, c, undefined, '');
        return;
      }
      const err = e as Error & { cause?: Error };
      r.requests++;
      r.transportErrors++;
      if (r.transportErrorSamples.length < SAMPLES) r.transportErrorSamples.push(`${describeRequest(c).slice(0, 300)} → ${err.cause?.message ?? err.message}`);
    }
  };
  const viaRaw = async (i: number, c: HttpCase) => {
    r.viaRaw++;
    const res = await rawHttp(host, port, c.raw ?? [], { timeoutMs: c.timeoutMs, halfClose: c.halfClose });
    if (res.status === undefined) r.noAnswer++;
    record(i, c, res.status, res.preview);
  };
  // Two pools: fetch requests keep the server busy; raw ones mostly wait (a server may rightly
  // hold a request whose body never comes) and would leave the fetch senders idle behind them.
  const fetchSlots = new Slots(o.concurrency);
  const rawSlots = new Slots(o.concurrency * 4);
  const indexes = o.only ?? Array.from({ length: o.requests }, (_, i) => i);
  for (const i of indexes) {
    if (o.stopped()) break;
    const c = httpCase(caseRng(o.seed, 'http', i), o.ctx());
    o.recent.add(() => `http#${i} ${c.label}: ${describeRequest(c)}`);
    const slots = c.transport === 'fetch' ? fetchSlots : rawSlots;
    await slots.acquire();
    void (c.transport === 'fetch' ? viaFetch(i, c) : viaRaw(i, c)).finally(() => slots.release());
  }
  await Promise.all([fetchSlots.idle(), rawSlots.idle()]);
  return r;
}

/** A counting semaphore: at most `n` tasks at once. */
class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly drained: (() => void)[] = [];
  constructor(private readonly n: number) {}

  acquire(): Promise<void> {
    if (this.used < this.n) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else if (--this.used === 0) for (const d of this.drained.splice(0)) d();
  }

  idle(): Promise<void> {
    return this.used === 0 ? Promise.resolve() : new Promise((resolve) => this.drained.push(resolve));
  }
}
