// The client SDK (client/src) against the real server on the simulator: a restart of tickplant
// mid-stream is resumed with no gap, a shard killed mid-stream is followed with no gap (and any
// resync applied), and a user's price alert reaches the SDK over its token. Every frame the SDK
// delivers is also checked here, independently of its own checker.
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { type AlertFrame, type ConnectionState, type SequencedFrame, TickplantClient, type TickplantError, channelOf } from '../../client/src/index.js';
import { shardOf } from '../../src/actors/supervisor/router.js';
import { H_VERSION } from '../../src/ring/layout.js';
import { SymbolStore } from '../../src/ring/symbol-store.js';
import { type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';

const A = 'US.AAPL';
const B = 'BTC-USD';
const ALL = ['book', 'trades', 'candles:1s', 'candles:1m', 'ticker'] as const;

/** What one SDK client delivered, in order. */
interface Seen {
  frames: SequencedFrame[];
  states: ConnectionState[];
  errors: TickplantError[];
}

function record(client: TickplantClient): Seen {
  const seen: Seen = { frames: [], states: [], errors: [] };
  client.on('book', (f) => seen.frames.push(f));
  client.on('trades', (f) => seen.frames.push(f));
  client.on('candle', (f) => seen.frames.push(f));
  client.on('ticker', (f) => seen.frames.push(f));
  client.on('state', (s) => seen.states.push(s));
  client.on('error', (e) => seen.errors.push(e));
  return seen;
}

/**
 * The frames of one channel as delivered: after each base (snapshot, resync, a ticker frame with
 * a reason, or a connection's first), every frame is +1 in its epoch (from seq 0, seq 1 starts one).
 */
function deliveredGaps(frames: SequencedFrame[], symbol: string, key: (f: SequencedFrame) => string | undefined, base: (f: SequencedFrame) => boolean): string[] {
  const problems: string[] = [];
  let last: { seq: number; epoch: number } | undefined;
  for (const f of frames) {
    if (f.symbol !== symbol || key(f) === undefined || f.type === 'historical_data') continue;
    if (!base(f) && last !== undefined && !((f.epoch === last.epoch && f.seq === last.seq + 1) || (last.seq === 0 && f.seq === 1))) {
      problems.push(`${key(f)} ${f.type} ${f.epoch}/${f.seq} after ${last.epoch}/${last.seq}`);
    }
    last = { seq: f.seq, epoch: f.epoch };
  }
  return problems;
}

function allGaps(seen: Seen, symbol: string, channels: readonly string[]): string[] {
  const problems: string[] = [];
  if (channels.includes('book')) {
    problems.push(...deliveredGaps(seen.frames, symbol, (f) => (f.type.startsWith('orderbook') || f.type === 'resync' ? 'book' : undefined),
      (f) => f.type !== 'orderbook_update'));
  }
  if (channels.includes('trades')) {
    problems.push(...deliveredGaps(seen.frames, symbol, (f) => (f.type.startsWith('trade') ? 'trades' : undefined), (f) => f.type === 'trades_snapshot'));
  }
  for (const c of channels.filter((x) => x.startsWith('candles:'))) {
    const interval = c.slice(8);
    problems.push(...deliveredGaps(seen.frames, symbol, (f) => ((f.type === 'candle' || f.type === 'candles_snapshot') && f.interval === interval ? c : undefined),
      (f) => f.type === 'candles_snapshot'));
  }
  // A ticker frame is a base when it has a reason; the first after a (re)connection without one
  // is also a base, which this outside view cannot tell apart: those are the SDK's to check.
  return problems;
}

async function until(what: string, done: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await sleep(20);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const lastOf = (seen: Seen, symbol: string, type: string) => seen.frames.filter((f) => f.symbol === symbol && f.type === type).at(-1);
const count = (seen: Seen, symbol: string, type: string, from = 0) => seen.frames.slice(from).filter((f) => f.symbol === symbol && f.type === type).length;

const clients: TickplantClient[] = [];
const runtimes: Runtime[] = [];
const deployments: Awaited<ReturnType<typeof createDeployment>>[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  for (const rt of runtimes) await rt.stop();
  for (const d of deployments) await d.drop();
});

describe('client SDK', () => {
  it('a restart of tickplant mid-stream: the SDK reconnects and resumes every channel with no gap', async () => {
    const port = await freePort();
    const dep = await createDeployment();
    deployments.push(dep);
    const overrides = { port, symbols: [A, B], shards: 2, simUpdatesPerSecond: 50, simTradesPerUpdate: 0.5, candlePublishMs: 100 };
    const first = await startRuntime(overrides, dep);
    runtimes.push(first);

    const client = new TickplantClient({ url: first.ws, WebSocket, keepState: { trades: 40 }, reconnect: { minDelayMs: 50, maxDelayMs: 400 } });
    clients.push(client);
    const seen = record(client);
    client.subscribe(A, { channels: [...ALL], resolution: '1m' });
    client.subscribe(B, { channels: ['book', 'trades'] });
    await until('updates and trades of both symbols', () =>
      count(seen, A, 'orderbook_update') >= 30 && count(seen, B, 'orderbook_update') >= 30 && count(seen, A, 'trade') >= 5 && count(seen, A, 'candle') >= 3);
    expect(seen.frames.find((f) => f.symbol === A && (f.type === 'historical_data' || f.type.startsWith('orderbook')))?.type).toBe('historical_data');

    await first.stop(); // closes every WebSocket with 1001
    await until('the SDK notices', () => client.connectionState === 'reconnecting');
    const mark = seen.frames.length;
    const bookBefore = lastOf(seen, A, 'orderbook_update')!;
    const second = await startRuntime(overrides, dep);
    runtimes.push(second);
    await until('updates and trades after the restart', () =>
      count(seen, A, 'orderbook_update', mark) >= 30 && count(seen, B, 'orderbook_update', mark) >= 30 && count(seen, A, 'trade', mark) >= 5 && count(seen, A, 'candle', mark) >= 3);

    expect(client.counters.gaps).toBe(0);
    expect(client.counters.resumes).toBeGreaterThan(0);
    expect(client.counters.reconnects).toBe(1);
    expect(seen.errors).toEqual([]);
    expect(seen.states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(allGaps(seen, A, ALL)).toEqual([]);
    expect(allGaps(seen, B, ['book', 'trades'])).toEqual([]);
    // A resumed book gets no history again and no resync: the restarted server continues the
    // stored sequence, and the SDK's resume point takes it up at the next seq.
    const bookAfter = seen.frames.slice(mark).filter((f) => f.symbol === A && f.type !== 'historical_data' && channelOf(f) === 'book');
    expect(seen.frames.slice(mark).filter((f) => f.type === 'historical_data')).toEqual([]);
    expect(bookAfter.map((f) => f.type)).not.toContain('resync');
    expect([bookAfter[0].epoch, bookAfter[0].seq]).toEqual([bookBefore.epoch, bookBefore.seq + 1]);

    // The kept state is the last frame's.
    const st = client.state(A)!;
    const book = seen.frames.filter((f) => f.symbol === A && (f.type === 'orderbook_update' || f.type === 'resync')).at(-1)!;
    expect([st.book?.epoch, st.book?.seq]).toEqual([book.epoch, book.seq]);
    expect(st.trades.length).toBeLessThanOrEqual(40);
    expect(st.trades.at(-1)?.seq).toBe(lastOf(seen, A, 'trade')!.seq);
    const candles = st.candles['1s']!;
    const times = candles.map((c) => Date.parse(c.time));
    expect(times).toEqual([...new Set(times)].sort((x, y) => x - y));
    expect(st.ticker).toEqual((lastOf(seen, A, 'ticker') as { ticker: unknown }).ticker);
  }, 90_000);

  it('a shard killed inside a header write: the SDK applies the resync of the new epoch, and follows every symbol with no gap', async () => {
    const symbols = ['US.AAPL', 'US.MSFT', 'BTC-USD', 'ETH-USD', 'US.NVDA', 'SOL-USD'];
    const rt = await startRuntime({ shards: 2, symbols, simUpdatesPerSecond: 500, simTradesPerUpdate: 0.3, candlePublishMs: 50, restartBackoffMs: 500 });
    runtimes.push(rt);
    const victims = symbols.filter((s) => shardOf(s, 2) === 0);
    const torn = victims[0];
    const client = new TickplantClient({ url: rt.ws, WebSocket, keepState: true });
    clients.push(client);
    const seen = record(client);
    for (const s of victims) client.subscribe(s, { channels: [...ALL], resolution: 'none' });
    await until('updates of every victim', () => victims.every((s) => count(seen, s, 'orderbook_update') >= 50));
    const epochBefore = lastOf(seen, torn, 'orderbook_update')!.epoch;

    const before = seen.frames.length;
    await rt.sup.killShard(0);
    // As a worker terminated inside its header write leaves it: the seqlock odd. The successor
    // cannot prove the sequence continuous and starts a new epoch; subscribers get a resync.
    expect(rt.sup.shardState(0)).toBe('restarting');
    const reg = rt.sup.router.registrations.find((r) => r.name === torn)!;
    new SymbolStore(reg.store, { depth: rt.cfg.depth, rawCapacity: rt.cfg.rawCapacity, historyCapacity: rt.cfg.historyCapacity }).beginWrite(H_VERSION);
    await until('the shard restarted', () => rt.sup.shardState(0) === 'running', 10_000);
    await until('updates after the restart', () => victims.every((s) => count(seen, s, 'orderbook_update', before) >= 300));

    expect(client.counters.gaps).toBe(0);
    expect(client.counters.discarded).toBe(0);
    expect(seen.errors).toEqual([]);
    for (const s of victims) expect(allGaps(seen, s, ALL), s).toEqual([]);
    const resync = seen.frames.slice(before).find((f) => f.type === 'resync' && f.symbol === torn);
    expect(resync).toMatchObject({ reason: 'epoch_changed' });
    expect(resync!.epoch).toBeGreaterThan(epochBefore);
    expect(client.counters.resyncs).toBeGreaterThan(0);
    expect(client.counters.resyncs).toBe(seen.frames.filter((f) => f.type === 'resync' || ('reason' in f && f.reason !== undefined && f.reason !== 'resume')).length);
    // The kept book is the last book frame's, in the new epoch.
    for (const s of victims) {
      const last = seen.frames.filter((f) => f.symbol === s && (f.type === 'orderbook_update' || f.type === 'resync')).at(-1)!;
      expect([client.state(s)!.book?.epoch, client.state(s)!.book?.seq], s).toEqual([last.epoch, last.seq]);
    }
    expect(client.state(torn)!.book!.epoch).toBe(resync!.epoch);
  }, 60_000);

  it('with AUTH=all: a token by message or by ?token= opens the channels, the user\'s alert arrives without a subscription, a bad token closes for good', async () => {
    const rt = await startRuntime({ auth: 'all', shards: 1, symbols: [A], simUpdatesPerSecond: 50, simTradesPerUpdate: 0.5 });
    runtimes.push(rt);
    const key = await rt.createKey('sdk-app', ['write'], 'sdk-user');
    const byMessage = new TickplantClient({ url: rt.ws, WebSocket, token: key });
    const byQuery = new TickplantClient({ url: rt.ws, WebSocket, token: async () => key, tokenIn: 'query' });
    clients.push(byMessage, byQuery);
    const seen = [record(byMessage), record(byQuery)];
    const alerts: AlertFrame[][] = [[], []];
    byMessage.on('alert', (a) => alerts[0].push(a));
    byQuery.on('alert', (a) => alerts[1].push(a));
    byMessage.subscribe(A, { channels: ['book'], resolution: 'none' });
    await until('book updates over the authenticated connections', () => count(seen[0], A, 'orderbook_update') >= 5 && byQuery.identity !== undefined);
    expect(byMessage.identity?.user).toBe('sdk-user');
    expect(byQuery.identity?.user).toBe('sdk-user');

    const res = await fetch(`${rt.http}/api/v1/cache/price-alert`, {
      method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: A, condition: 'above', target_price: 0.0001 }),
    });
    expect(res.status).toBe(201);
    const id = String(((await res.json()) as { data: { alert_id: unknown } }).data.alert_id);
    await until('the alert on both connections', () => alerts.every((a) => a.length === 1));
    await sleep(300);
    for (const a of alerts) expect(a).toEqual([expect.objectContaining({ type: 'alert', alert_id: id, symbol: A, condition: 'above', target_price: 0.0001 })]);
    expect(byQuery.counters.gaps + byMessage.counters.gaps).toBe(0);
    expect([...seen[0].errors, ...seen[1].errors]).toEqual([]);

    const refused = new TickplantClient({ url: rt.ws, WebSocket, token: 'not-a-key', reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
    clients.push(refused);
    const r = record(refused);
    refused.subscribe(A);
    await until('closed for good', () => refused.connectionState === 'closed');
    await sleep(200);
    expect(r.states).toEqual(['connecting', 'open', 'closed']);
    expect(r.errors.map((e) => [e.source, e.code, e.closeCode])).toEqual([['server', 'unauthorized', undefined], ['client', 'closed', 4401]]);
    expect(refused.counters.reconnects).toBe(0);
  }, 60_000);
});
