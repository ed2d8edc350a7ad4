// The Kraken connector against a local Kraken v2 server: every book it hands over is the exchange's top-N at that message, through every fault; each trade once.
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorSink, Trade } from '../../src/feeds/connector.js';
import { createKrakenConnector, type KrakenConnectorOptions } from '../../src/feeds/kraken/connector.js';
import type { Logger } from '../../src/log.js';
import type { BookUpdate } from '../../src/feeds/types.js';
import { startKrakenServer, type KrakenServer, type PairSpec } from '../helpers/exchanges/kraken-server.js';

type Event =
  | { kind: 'book'; symbol: string; reset: boolean; n: number; ts: number; bids: [number, number][]; asks: [number, number][] }
  | { kind: 'trade'; trade: Trade }
  | { kind: 'resyncing'; symbol: string; reason: string }
  | { kind: 'malformed'; type: string; detail: string };

/** Records every sink call in order (copying the reused BookUpdate) and counts calls made after stop() resolved. */
class RecordingSink implements ConnectorSink {
  readonly events: Event[] = [];
  stopped = false;
  callsAfterStop = 0;

  book(u: BookUpdate, reset: boolean, n: number): boolean {
    this.note();
    const side = (px: Float64Array, sz: Float64Array, count: number): [number, number][] => Array.from({ length: count }, (_, i) => [px[i], sz[i]]);
    this.events.push({ kind: 'book', symbol: u.symbol, reset, n, ts: u.exchangeTs, bids: side(u.bidPx, u.bidSz, u.bidCount), asks: side(u.askPx, u.askSz, u.askCount) });
    return true;
  }

  trade(t: Trade): boolean {
    this.note();
    this.events.push({ kind: 'trade', trade: { ...t } });
    return true;
  }

  resyncing(symbol: string, reason: string): void {
    this.note();
    this.events.push({ kind: 'resyncing', symbol, reason });
  }

  malformed(type: string, detail: string): void {
    this.note();
    this.events.push({ kind: 'malformed', type, detail });
  }

  books(symbol?: string): Extract<Event, { kind: 'book' }>[] {
    return this.events.filter((e): e is Extract<Event, { kind: 'book' }> => e.kind === 'book' && (!symbol || e.symbol === symbol));
  }

  /** A resync for `symbol` (with `reason`) after event `from`, and a reset book after it. */
  resynced(symbol: string, reason: string, from: number): boolean {
    const i = this.events.findIndex((e, j) => j >= from && e.kind === 'resyncing' && e.symbol === symbol && e.reason === reason);
    return i >= 0 && this.events.some((e, j) => j > i && e.kind === 'book' && e.symbol === symbol && e.reset);
  }

  private note(): void {
    if (this.stopped) this.callsAfterStop++;
  }
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const PAIRS: PairSpec[] = [
  { symbol: 'BTC/USD', pricePrecision: 1, qtyPrecision: 8, mid: 450_000 }, // 45000.0
  { symbol: 'MATIC/USD', pricePrecision: 4, qtyPrecision: 8, mid: 5_666 }, // 0.5666: leading zeros in every price
];
const served = (pair: string): string => `KRAKEN.${pair.replace('/', '-')}`;

let server: KrakenServer | undefined;
const connectors: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of connectors.splice(0)) await c.stop();
  await server?.close();
  server = undefined;
});

function connector(sink: ConnectorSink, opts: Partial<KrakenConnectorOptions>) {
  const c = createKrakenConnector({ symbols: ['BTC/USD', 'MATIC-USD'], depth: 10, wsUrl: server!.url, log: quiet, ...opts });
  connectors.push(c);
  c.start(sink);
  return c;
}

/** Moves the market until `cond` holds: a book step on each pair per round, a trade now and then. */
async function pump(k: KrakenServer, cond: () => boolean, what: string, { trades = true, ms = 5000 } = {}): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    for (const p of PAIRS) k.step(p.symbol);
    if (trades && i % 7 === 0) k.trade(PAIRS[i % 2].symbol);
    await sleep(2);
  }
}

/** Every book handed over is the server's truth when that message was sent; order, sequence and reset rules hold. */
function checkBooks(k: KrakenServer, sink: RecordingSink, pair: string, depth: number): void {
  const symbol = served(pair);
  let lastN = 0;
  let lastStep = -1;
  let resyncSince = true; // before the first book: not in sync
  for (const e of sink.events) {
    if (e.kind === 'resyncing' && e.symbol === symbol) resyncSince = true;
    if (e.kind !== 'book' || e.symbol !== symbol) continue;
    expect({ bids: e.bids, asks: e.asks }).toEqual(k.truthAt(pair, e.ts, depth));
    expect(e.n).toBe(++lastN);
    expect(e.reset).toBe(resyncSince);
    const step = k.stepAt(pair, e.ts);
    if (!e.reset) expect(step).toBeGreaterThan(lastStep);
    lastStep = step;
    resyncSince = false;
  }
  expect(lastN).toBeGreaterThan(50);
}

describe('Kraken connector against a local Kraken v2 server', () => {
  it('hands over only the exchange book, resyncs through every fault with a reset book, and delivers each trade once', async () => {
    const k = (server = await startKrakenServer({ pairs: PAIRS, seed: 7, heartbeatMs: 100 }));
    k.trade('BTC/USD', 5); // before the connector starts: they come with the first trade snapshot
    const sink = new RecordingSink();
    const c = connector(sink, { pingAfterMs: 300, staleAfterMs: 900 });
    const [btc, matic] = PAIRS.map((p) => served(p.symbol));

    await pump(k, () => sink.books(btc).length > 30 && sink.books(matic).length > 30, 'both books live');
    expect(c.stats().symbols[btc].state).toBe('live');

    // The subscriptions, as documented: instrument for precisions, book at a Kraken depth, trades with a snapshot.
    const subs = k.requests.filter((r) => r.method === 'subscribe').map((r) => r.params as Record<string, unknown>);
    expect(subs).toEqual(expect.arrayContaining([
      expect.objectContaining({ channel: 'instrument' }),
      expect.objectContaining({ channel: 'book', symbol: ['BTC/USD', 'MATIC/USD'], depth: 10 }),
      expect.objectContaining({ channel: 'trade', symbol: ['BTC/USD', 'MATIC/USD'], snapshot: true }),
    ]));

    // A wrong checksum.
    let from = sink.events.length;
    k.corruptChecksum('BTC/USD');
    await pump(k, () => sink.resynced(btc, 'checksum', from), 'BTC resync after a wrong checksum');
    expect(k.requests).toContainEqual(expect.objectContaining({ method: 'unsubscribe', params: expect.objectContaining({ channel: 'book', symbol: ['BTC/USD'] }) }));

    // A wrong checksum on the update and again on the fresh snapshot: the second re-subscription waits for the backoff.
    from = sink.events.length;
    k.corruptChecksum('MATIC/USD');
    k.corruptSnapshot('MATIC/USD');
    await pump(k, () => sink.resynced(matic, 'checksum', from), 'MATIC resync through a bad snapshot');
    expect(c.stats().symbols[matic].rateLimitWaits).toBeGreaterThanOrEqual(1);

    // A lost update (a new quantity at the best bid), then an update of the asks only: its checksum
    // covers the best bid, which the connector has wrong.
    from = sink.events.length;
    k.dropUpdates('MATIC/USD');
    const top = k.truthAfter('MATIC/USD', k.lastStep('MATIC/USD'), 1);
    const [[bidPx, bidQty], [askPx, askQty]] = [top.bids[0], top.asks[0]];
    k.step('MATIC/USD', [{ side: 'bid', offset: 5_666 - Math.round(bidPx * 1e4), lots: Math.round(bidQty * 1e8) + 1 }]);
    k.step('MATIC/USD', [{ side: 'ask', offset: Math.round(askPx * 1e4) - 5_666, lots: Math.round(askQty * 1e8) + 1 }]);
    await until(() => sink.events.some((e, i) => i >= from && e.kind === 'resyncing' && e.symbol === matic), 'MATIC mismatch after a dropped update');
    await pump(k, () => sink.resynced(matic, 'checksum', from), 'MATIC resync after a dropped update');

    // A frame that is not JSON: reported, and nothing else happens.
    from = sink.events.length;
    k.sendMalformed();
    await pump(k, () => sink.events.some((e, i) => i >= from && e.kind === 'malformed' && e.type === 'json'), 'malformed report');
    await pump(k, () => sink.books(btc).length > 0 && sink.events.length > from + 60, 'books after the malformed frame');
    expect(sink.events.slice(from).filter((e) => e.kind === 'resyncing')).toEqual([]);

    // A book message with an unreadable level: its update is lost, so the book resyncs.
    from = sink.events.length;
    k.sendRaw('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"abc","qty":1}],"asks":[],"checksum":1,"timestamp":"2026-01-01T00:00:00Z"}]}');
    await pump(k, () => sink.resynced(btc, 'malformed', from), 'BTC resync after an unreadable level');
    expect(sink.events.some((e, i) => i >= from && e.kind === 'malformed' && e.type === 'book')).toBe(true);

    // The server's own ping is answered.
    k.ping();
    await until(() => k.pongs.length === 1, 'pong');

    // A cut connection: both pairs resync; trades made while away arrive once, through the trade snapshot.
    from = sink.events.length;
    const cutAt = Date.now();
    k.disconnect();
    k.trade('BTC/USD', 3);
    k.trade('MATIC/USD', 2);
    for (let i = 0; i < 5; i++) for (const p of PAIRS) k.step(p.symbol);
    await until(() => k.accepted === 2, 'reconnect');
    expect(Date.now() - cutAt).toBeLessThan(1000); // the first retry comes within a second
    await pump(k, () => sink.resynced(btc, 'reconnect', from) && sink.resynced(matic, 'reconnect', from), 'both pairs back after a reconnect');

    // A link that goes silent: pinged, then replaced.
    from = sink.events.length;
    k.hang();
    k.trade('BTC/USD', 2);
    await pump(k, () => k.accepted === 3, 'a new connection after silence', { trades: false });
    expect(k.requests.some((r) => r.method === 'ping')).toBe(true);
    await pump(k, () => sink.resynced(btc, 'reconnect', from) && sink.resynced(matic, 'reconnect', from), 'both pairs back after a silent link');

    // Caught up: the last book of each pair is the exchange's book now.
    await pump(k, () => true, 'one more step');
    for (const p of PAIRS) {
      await until(() => {
        const last = sink.books(served(p.symbol)).at(-1)!;
        return JSON.stringify({ bids: last.bids, asks: last.asks }) === JSON.stringify(k.truthAfter(p.symbol, k.lastStep(p.symbol), 10));
      }, `${p.symbol} caught up`);
    }

    for (const p of PAIRS) checkBooks(k, sink, p.symbol, 10);

    // Each trade exactly once, none missing, as the exchange sent it.
    for (const p of PAIRS) {
      const got = sink.events.filter((e): e is Extract<Event, { kind: 'trade' }> => e.kind === 'trade' && e.trade.symbol === served(p.symbol)).map((e) => e.trade);
      expect(got.map((t) => t.tradeId)).toEqual(k.tradeLog(p.symbol).map((t) => String(t.trade_id)));
      expect(got.map((t) => [t.price, t.size, t.side, t.exchangeTs])).toEqual(
        k.tradeLog(p.symbol).map((t) => [t.price, t.qty, t.side, Date.parse(t.timestamp)]),
      );
    }

    const stats = c.stats();
    expect(stats.connections[0]).toMatchObject({ connected: true, reconnects: 2 });
    expect(stats.connections[0].lastMessageAgeMs).toBeGreaterThanOrEqual(0);
    expect(stats.symbols[btc].checksumFailures).toBe(1);
    expect(stats.symbols[matic].checksumFailures).toBe(3);
    expect(stats.symbols[btc].resyncs).toEqual({ checksum: 1, malformed: 1, reconnect: 2 });
    expect(stats.symbols[matic].resyncs).toEqual({ checksum: 2, reconnect: 2 });
    for (const s of [btc, matic]) {
      expect(stats.symbols[s].state).toBe('live');
      expect(stats.symbols[s].books).toBe(sink.books(s).length);
    }
    expect(stats.malformed).toMatchObject({ json: 1, book: 1 });

    // After stop() resolves nothing reaches the sink, whatever the exchange sends.
    await c.stop();
    sink.stopped = true;
    for (let i = 0; i < 20; i++) {
      for (const p of PAIRS) k.step(p.symbol);
      k.trade('BTC/USD');
    }
    await sleep(100);
    expect(sink.callsAfterStop).toBe(0);
    await until(() => k.connections === 0, 'the server to see the close');
  });

  it('subscribes the smallest Kraken depth that holds BOOK_DEPTH and the 10 checksum levels, and hands over BOOK_DEPTH levels', async () => {
    const k = (server = await startKrakenServer({ pairs: PAIRS, seed: 11, heartbeatMs: 100, initialLevels: 40 }));
    const shallow = new RecordingSink();
    const deep = new RecordingSink();
    connector(shallow, { depth: 5 });
    connector(deep, { depth: 20, symbols: ['BTC/USD', 'DOGE/XYZ'] });
    await pump(k, () => shallow.books(served('BTC/USD')).length > 60 && deep.books(served('BTC/USD')).length > 60, 'books at both depths');
    const depths = k.requests.filter((r) => r.method === 'subscribe' && (r.params as { channel: string }).channel === 'book').map((r) => (r.params as { depth: number }).depth);
    expect(depths.sort()).toEqual([10, 25]);
    for (const p of PAIRS) checkBooks(k, shallow, p.symbol, 5);
    checkBooks(k, deep, 'BTC/USD', 20);
    // A pair the exchange does not list is reported, and the others run.
    expect(deep.events).toContainEqual(expect.objectContaining({ kind: 'malformed', type: 'unknown_pair' }));
  });

  it('refuses bad options naming the option', () => {
    const base = { symbols: ['BTC/USD'], depth: 10, wsUrl: 'ws://127.0.0.1:1/v2', log: quiet };
    expect(() => createKrakenConnector({ ...base, symbols: ['BTCUSD'] })).toThrow(/symbols/);
    expect(() => createKrakenConnector({ ...base, depth: 2000 })).toThrow(RangeError);
    expect(() => createKrakenConnector({ ...base, depth: 0 })).toThrow(/depth/);
    expect(() => createKrakenConnector({ ...base, wsUrl: 'http://x' })).toThrow(/wsUrl/);
    expect(() => createKrakenConnector({ ...base, tradeWindow: 10 })).toThrow(/tradeWindow/);
  });
});
