// FEEDS end to end with a scripted exchange: its feed actor's books reach subscribers gap-free,
// `resyncing` (from the connector, and while a killed feed actor restarts) reaches those
// subscribed and those who arrive meanwhile, the next book says "reset":true at seq + 1 after a
// `live` status, and /stats, /health and /metrics show the feed.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import type { FeedActorStatus } from '../../src/actors/supervisor/messages.js';
import { registerExchange, servedName, unregisterExchange } from '../../src/feeds/exchanges.js';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { type Msg, TestClient, sequenceProblems } from '../helpers/ws-client.js';

let rt: Runtime;
let server: WebSocketServer;
/** The scripted connector's current connection (a restarted feed actor opens a new one). */
let exchange: WebSocket | undefined;
let connections = 0;

const send = (op: Record<string, unknown>) => exchange!.send(JSON.stringify(op));
const book = (symbol: string, bid: number, extra: Record<string, unknown> = {}) =>
  send({ op: 'book', symbol, bids: [[bid, 1], [bid - 1, 2]], asks: [[bid + 1, 3], [bid + 2, 4]], ...extra });

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms; last: ${JSON.stringify(v).slice(0, 500)}`);
    await sleep(50);
  }
}
const symbols = () => rt.get<{ symbols: { symbol: string; seq: number; shard: number }[] }>('/symbols').then((r) => r.body.symbols);
const seqOf = (name: string) => symbols().then((s) => s.find((x) => x.symbol === name)?.seq ?? -1);
const feedStats = () => rt.get<{ feeds: FeedActorStatus[]; shards: { resyncs?: number; resets?: number }[]; front: { resyncingSymbols: string[]; statusesPublished: number } }>('/stats').then((r) => r.body);
const types = (c: TestClient, symbol: string, from = 0) =>
  c.messages.slice(from).filter((m) => m.symbol === symbol).map((m) => (m.type === 'status' ? `status:${m.status}` : `${m.type}:${m.seq}${m.reset ? ':reset' : ''}`));

beforeAll(async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  server.on('connection', (ws) => {
    exchange = ws;
    connections++;
  });
  const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
  registerExchange('test', {
    module: new URL('../fixtures/scripted-connector.ts', import.meta.url).href,
    factory: 'createScriptedConnector',
    served: (s) => servedName('test', s),
    symbol: /^[A-Z]{3}$/,
    example: 'AAA',
    options: () => ({ wsUrl: url }),
  });
  // Two shards: the symbols' shards differ, so the feed actor writes into two queues.
  rt = await startRuntime({ feeds: 'test:AAA,BBB,CCC;simulator:US.AAPL', shards: 2, staleAfterMs: 60_000, simUpdatesPerSecond: 20 });
  await until('the scripted exchange connected', async () => connections, (n) => n === 1);
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  unregisterExchange('test');
  await new Promise((r) => server?.close(r));
});

describe('an exchange feed (FEEDS=test:…) in a feed actor', () => {
  it('registers the exchange symbols at start, beside the simulator\'s, over both shards', async () => {
    const list = await symbols();
    expect(list.map((s) => s.symbol).sort()).toEqual(['TEST.AAA', 'TEST.BBB', 'TEST.CCC', 'US.AAPL']);
    expect(new Set(list.filter((s) => s.symbol.startsWith('TEST.')).map((s) => s.shard)).size).toBe(2);
  });

  it('books, resyncing, a reset book and trades: subscribers see the books, resyncing then live, reset at seq + 1, no gap', async () => {
    book('AAA', 100, { reset: true, seq: 1 }); // a connector's first book after its first sync
    book('AAA', 101, { seq: 2 });
    book('BBB', 50, { reset: true });
    book('AAA', 102, { seq: 3 });
    await until('AAA at seq 3', () => seqOf('TEST.AAA'), (s) => s === 3);

    const early = await TestClient.connect(rt.ws);
    early.send({ action: 'subscribe', symbol: 'TEST.AAA' });
    const snap = await early.waitFor((m) => m.type === 'orderbook_snapshot' && m.symbol === 'TEST.AAA');
    expect(snap.seq).toBe(3);
    expect(snap.data).toMatchObject({ best_bid: 102, best_ask: 103 });

    book('AAA', 103);
    await early.waitFor((m) => m.type === 'orderbook_update' && m.seq === 4);
    send({ op: 'resyncing', symbol: 'AAA', reason: 'gap' });
    const resyncing = await early.waitFor((m) => m.type === 'status' && m.symbol === 'TEST.AAA');
    expect(resyncing).toMatchObject({ status: 'resyncing', reason: 'gap' });
    expect(Date.parse(resyncing.since as string)).toBeGreaterThan(Date.now() - 10_000);

    // Someone subscribing meanwhile gets the status right after its snapshot.
    const late = await TestClient.connect(rt.ws);
    late.send({ action: 'subscribe', symbol: 'TEST.AAA' });
    await late.waitFor((m) => m.type === 'status' && m.symbol === 'TEST.AAA');
    expect(types(late, 'TEST.AAA')).toEqual(['historical_data:4', 'orderbook_snapshot:4', 'status:resyncing']);
    expect(late.messages.find((m) => m.type === 'status')).toMatchObject({ reason: 'gap' });
    expect((await feedStats()).front.resyncingSymbols).toEqual(['TEST.AAA']);
    const health = await rt.get<{ components: Record<string, { status: string; detail?: string }> }>('/health');
    expect(health.body.components.symbols.detail).toMatch(/resyncing: TEST\.AAA/);

    book('AAA', 99, { reset: true, seq: 10 });
    for (const c of [early, late]) await c.waitFor((m) => m.type === 'orderbook_update' && m.seq === 5);
    for (let i = 0; i < 3; i++) send({ op: 'trade', symbol: 'AAA', id: String(i), price: 99.5, size: 1, side: 'buy' });
    book('AAA', 98);
    for (const c of [early, late]) await c.waitFor((m) => m.type === 'orderbook_update' && m.seq === 6);

    expect(types(early, 'TEST.AAA')).toEqual([
      'historical_data:3', 'orderbook_snapshot:3', 'orderbook_update:4', 'status:resyncing', 'status:live', 'orderbook_update:5:reset', 'orderbook_update:6',
    ]);
    expect(types(late, 'TEST.AAA')).toEqual([
      'historical_data:4', 'orderbook_snapshot:4', 'status:resyncing', 'status:live', 'orderbook_update:5:reset', 'orderbook_update:6',
    ]);
    const reset = early.messages.find((m) => m.seq === 5 && m.type === 'orderbook_update') as Msg;
    expect(reset.data).toMatchObject({ best_bid: 99, best_ask: 100, bid_levels: [[99, 1], [98, 2]] });
    for (const c of [early, late]) expect(sequenceProblems(c.stream('TEST.AAA'))).toEqual([]);

    // A resume over the reset update re-encodes it: the flag is part of the stored record.
    const resumed = await TestClient.connect(rt.ws);
    resumed.send({ action: 'subscribe', symbol: 'TEST.AAA', resume: { seq: 4, epoch: snap.epoch } });
    await resumed.waitFor((m) => m.type === 'orderbook_update' && m.seq === 6);
    expect(types(resumed, 'TEST.AAA')).toEqual(['orderbook_update:5:reset', 'orderbook_update:6']);

    const s = await until('the feed\'s stats', feedStats, (x) => x.feeds[0]?.stats?.trades === 3);
    const f = s.feeds[0];
    expect(f).toMatchObject({ exchange: 'test', status: 'running', restarts: 0, symbols: ['TEST.AAA', 'TEST.BBB', 'TEST.CCC'] });
    expect(f.stats).toMatchObject({ books: 7, resets: 3, resyncing: 1, trades: 3, queueFullDrops: 0, unknownSymbols: 0 });
    expect(f.stats!.connector.connections[0]).toMatchObject({ connected: true, reconnects: 0 });
    expect(f.stats!.connector.symbols['TEST.AAA']).toMatchObject({ state: 'live', books: 6, trades: 3, resyncs: { gap: 1 } });
    expect(s.shards.reduce((n, x) => n + (x.resyncs ?? 0), 0)).toBe(1);
    expect(s.shards.reduce((n, x) => n + (x.resets ?? 0), 0)).toBe(3);
    expect(s.front.resyncingSymbols).toEqual([]);
    for (const c of [early, late, resumed]) c.close();
  });

  it('shows the feed in /health and /metrics', async () => {
    book('CCC', 10, { reset: true });
    const health = await until('feed-test healthy',
      () => rt.get<{ status: string; components: Record<string, { status: string; detail?: string }> }>('/health').then((r) => r.body),
      (h) => h.components['feed-test']?.status === 'ok');
    expect(health.components['feed-test'].detail).toMatch(/3 symbol\(s\) live over 1 connection/);
    expect(health.components.feed).toMatchObject({ status: 'ok', detail: 'simulator' });

    send({ op: 'malformed', kind: 'book', detail: 'levels missing' });
    const text = await (await fetch(`${rt.http}/metrics`, { headers: rt.admin })).text();
    const families = new Map(parsePrometheusTextFormat(text).map((m) => [m.name, m]));
    const value = (name: string, labels: Record<string, string>) => {
      const fam = families.get(name);
      const sample = fam?.metrics.find((m) => Object.entries(labels).every(([k, v]) => (m as { labels?: Record<string, string> }).labels?.[k] === v));
      return sample ? Number((sample as { value: string }).value) : undefined;
    };
    expect(value('tickplant_exchange_connected', { exchange: 'test', connection: '0' })).toBe(1);
    expect(value('tickplant_exchange_feed_up', { exchange: 'test' })).toBe(1);
    expect(value('tickplant_exchange_messages_total', { exchange: 'test', connection: '0' })).toBeGreaterThanOrEqual(12);
    expect(value('tickplant_exchange_received_bytes_total', { exchange: 'test', connection: '0' })).toBeGreaterThan(500);
    expect(value('tickplant_exchange_resyncs_total', { exchange: 'test', symbol: 'TEST.AAA', reason: 'gap' })).toBe(1);
    expect(value('tickplant_exchange_trades_total', { exchange: 'test', symbol: 'TEST.AAA' })).toBe(3);
    expect(value('tickplant_exchange_books_total', { exchange: 'test', symbol: 'TEST.AAA' })).toBe(6);
    expect(value('tickplant_exchange_symbol_resyncing', { exchange: 'test', symbol: 'TEST.AAA' })).toBe(0);
    expect(value('tickplant_exchange_last_message_age_seconds', { exchange: 'test', connection: '0' })).toBeLessThan(60);
    expect(families.has('tickplant_exchange_checksum_failures_total')).toBe(true);
    expect(families.has('tickplant_exchange_snapshot_requests_total')).toBe(true);
    expect(families.has('tickplant_exchange_rate_limit_waits_total')).toBe(true);
    expect(families.has('tickplant_exchange_reconnects_total')).toBe(true);
    expect(families.has('tickplant_symbols_resyncing')).toBe(true);
  });

  it('a feed actor that dies is restarted; its symbols are resyncing meanwhile, then continue at seq + 1 with reset', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'TEST.AAA', resolution: 'none' });
    const snap = await c.waitFor((m) => m.type === 'orderbook_snapshot' && m.symbol === 'TEST.AAA');
    const from = c.messages.length;
    await rt.sup.killFeed('test');
    const status = await c.waitFor((m) => m.type === 'status' && m.symbol === 'TEST.AAA', 10_000, from);
    expect(status).toMatchObject({ status: 'resyncing', reason: 'feed_restarted' });
    await until('the restarted feed actor connected', async () => connections, (n) => n === 2);
    book('AAA', 97, { reset: true });
    await c.waitFor((m) => m.type === 'orderbook_update' && m.symbol === 'TEST.AAA', 10_000, from);
    expect(types(c, 'TEST.AAA', from)).toEqual(['status:resyncing', 'status:live', `orderbook_update:${snap.seq! + 1}:reset`]);
    expect(sequenceProblems(c.stream('TEST.AAA'))).toEqual([]);
    const s = await feedStats();
    expect(s.feeds[0]).toMatchObject({ status: 'running', restarts: 1 });
    c.close();
  });

  it('refuses an update for an exchange symbol from another feed (one input per symbol)', async () => {
    // The simulator never names TEST.*; what matters is that the router would refuse it.
    const r = rt.sup.router;
    const before = r.counters.malformed;
    const u = { symbol: 'TEST.AAA', kind: 0, exchangeTs: 0, bidCount: 1, askCount: 1, bidPx: new Float64Array([1]), bidSz: new Float64Array([1]), askPx: new Float64Array([2]), askSz: new Float64Array([1]) };
    expect(r.offer(u)).toBe(true);
    expect(r.counters.malformed).toBe(before + 1);
    expect(r.counters.lastMalformed).toMatch(/TEST\.AAA is fed by its exchange feed/);
  });
});
