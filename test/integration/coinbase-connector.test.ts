// The Coinbase connector against a local server speaking Coinbase's format: every handed-over book is the exchange's at its sequence_num, through gaps, malformed messages, cuts and silence.
import { afterEach, describe, expect, it } from 'vitest';
import type { Connector, ConnectorSink, Trade } from '../../src/feeds/connector.js';
import { createCoinbaseConnector } from '../../src/feeds/coinbase/connector.js';
import { KIND_SNAPSHOT, type BookUpdate } from '../../src/feeds/types.js';
import type { Logger } from '../../src/log.js';
import { startCoinbaseServer, type CoinbaseServer, type Level } from '../helpers/exchanges/coinbase-server.js';

const PRODUCTS = ['BTC-USD', 'ETH-USD'];
const SYMBOLS = PRODUCTS.map((p) => `COINBASE.${p}`);
const DEPTH = 10;
const HEARTBEAT_TIMEOUT_MS = 500;

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

type Event =
  | { kind: 'book'; symbol: string; reset: boolean; seq: number; conn: number }
  | { kind: 'resyncing'; symbol: string; reason: string };

/** A ConnectorSink that checks every book against the server's truth at the moment it is handed over. */
class Recorder implements ConnectorSink {
  readonly events: Event[] = [];
  readonly trades: Trade[] = [];
  readonly malformedKinds: string[] = [];
  readonly wrong: string[] = [];
  calls = 0;

  constructor(private readonly server: CoinbaseServer) {}

  book(u: BookUpdate, reset: boolean, seq: number): boolean {
    this.calls++;
    // The connector has one socket at a time and opens the next only after the last one closed.
    const conn = this.server.latestConnection;
    const levels = (n: number, px: Float64Array, sz: Float64Array): Level[] => Array.from({ length: n }, (_, i) => [px[i], sz[i]]);
    const got = { bids: levels(u.bidCount, u.bidPx, u.bidSz), asks: levels(u.askCount, u.askPx, u.askSz) };
    const truth = this.server.truthAt(conn, seq, u.symbol.replace(/^COINBASE\./, ''), DEPTH);
    if (u.kind !== KIND_SNAPSHOT || JSON.stringify(truth) !== JSON.stringify(got)) {
      this.wrong.push(`${u.symbol} conn ${conn} seq ${seq}: got ${JSON.stringify(got)}, truth ${JSON.stringify(truth)}`);
    }
    this.events.push({ kind: 'book', symbol: u.symbol, reset, seq, conn });
    return true;
  }

  trade(t: Trade): boolean {
    this.calls++;
    this.trades.push({ ...t });
    return true;
  }

  resyncing(symbol: string, reason: string): void {
    this.calls++;
    this.events.push({ kind: 'resyncing', symbol, reason });
  }

  malformed(kind: string): void {
    this.calls++;
    this.malformedKinds.push(kind);
  }

  books(symbol?: string): Extract<Event, { kind: 'book' }>[] {
    return this.events.filter((e): e is Extract<Event, { kind: 'book' }> => e.kind === 'book' && (symbol === undefined || e.symbol === symbol));
  }

  resyncs(reason: string, symbol: string): number {
    return this.events.filter((e) => e.kind === 'resyncing' && e.reason === reason && e.symbol === symbol).length;
  }

  /** Every symbol had a resyncing(reason) followed by a book: it went out of sync and came back. */
  recovered(reason: string, after = 0): boolean {
    return SYMBOLS.every((s) => {
      const i = this.events.findIndex((e, k) => k >= after && e.kind === 'resyncing' && e.symbol === s && e.reason === reason);
      return i >= 0 && this.events.some((e, k) => k > i && e.kind === 'book' && e.symbol === s);
    });
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What must hold after any run: no wrong book, resyncing said once, reset exactly on the first book after it, trades once and right. */
function expectInvariants(rec: Recorder, server: CoinbaseServer): void {
  expect(rec.wrong).toEqual([]);
  for (const s of SYMBOLS) {
    let prev: Event['kind'] | 'start' = 'start';
    for (const e of rec.events.filter((x) => x.symbol === s)) {
      if (e.kind === 'book') expect({ symbol: s, seq: e.seq, reset: e.reset }).toEqual({ symbol: s, seq: e.seq, reset: prev !== 'book' });
      else expect(prev, `${s}: resyncing twice in a row`).not.toBe('resyncing');
      prev = e.kind;
    }
  }
  for (const p of PRODUCTS) {
    const truth = new Map(server.trades(p).map((t) => [t.tradeId, t]));
    const got = rec.trades.filter((t) => t.symbol === `COINBASE.${p}`);
    expect(new Set(got.map((t) => t.tradeId)).size, `${p}: a trade delivered twice`).toBe(got.length);
    for (const t of got) {
      const want = truth.get(t.tradeId)!;
      expect(t).toEqual({ symbol: `COINBASE.${p}`, tradeId: want.tradeId, price: want.price, size: want.size, side: want.takerSide, exchangeTs: want.timeMs });
    }
  }
}

/** Every trade from the first one delivered to the last one the exchange made reached the sink (exactly once: see expectInvariants). */
function expectAllTrades(rec: Recorder, server: CoinbaseServer): void {
  for (const p of PRODUCTS) {
    const all = server.trades(p).map((t) => t.tradeId);
    const got = rec.trades.filter((t) => t.symbol === `COINBASE.${p}`).map((t) => t.tradeId);
    expect(got.length).toBeGreaterThan(0);
    const first = Math.min(...got.map((id) => all.indexOf(id)));
    expect([...got].sort()).toEqual(all.slice(first).sort());
  }
}

let server: CoinbaseServer | null = null;
let connector: Connector | null = null;

afterEach(async () => {
  await connector?.stop();
  await server?.close();
  connector = null;
  server = null;
});

async function setup(seed: number): Promise<{ cb: CoinbaseServer; rec: Recorder; conn: Connector }> {
  const cb = await startCoinbaseServer({ products: PRODUCTS, seed, tickMs: 4, heartbeatMs: 100, tradeShare: 0.1 });
  server = cb;
  cb.step(300); // a market with history: the first market_trades snapshot has trades in it
  const rec = new Recorder(cb);
  const conn = createCoinbaseConnector({
    symbols: PRODUCTS, depth: DEPTH, wsUrl: cb.url, log: quiet,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, reconnectMinMs: 300, reconnectMaxMs: 2000,
  });
  connector = conn;
  conn.start(rec);
  await until('both books live', () => SYMBOLS.every((s) => rec.books(s).length > 0));
  return { cb, rec, conn };
}

/** Stops the market, lets the last messages arrive, and stops the connector: nothing is in flight when the checks run. */
async function settle(cb: CoinbaseServer, conn: Connector): Promise<void> {
  cb.pause();
  await new Promise((r) => setTimeout(r, 150));
  await conn.stop();
}

describe('Coinbase connector against a local Coinbase server', () => {
  it('hands over the exchange\'s true top N at every sequence_num, reset first, and every trade once with the taker\'s side', async () => {
    const { cb, rec, conn } = await setup(1);
    await until('300 books', () => rec.books().length >= 300);
    await settle(cb, conn);
    expectInvariants(rec, cb);
    expectAllTrades(rec, cb);
    for (const s of SYMBOLS) expect(rec.books(s)[0].reset).toBe(true);
    const st = conn.stats();
    expect(st.exchange).toBe('coinbase');
    expect(st.connections).toHaveLength(1);
    expect(st.connections[0]).toMatchObject({ url: cb.url, reconnects: 0 });
    expect(st.connections[0].messages).toBeGreaterThan(300);
    expect(st.connections[0].bytes).toBeGreaterThan(st.connections[0].messages * 50);
    for (const s of SYMBOLS) {
      expect(st.symbols[s]).toMatchObject({ resyncs: {}, checksumFailures: 0, snapshotRequests: 1, rateLimitWaits: 0, books: rec.books(s).length });
      expect(st.symbols[s].trades).toBe(rec.trades.filter((t) => t.symbol === s).length);
    }
    expect(st.malformed).toEqual({});
    // One subscribe per channel, as Coinbase requires.
    expect(cb.connections()[0].received).toEqual([
      { type: 'subscribe', product_ids: PRODUCTS, channel: 'heartbeats' },
      { type: 'subscribe', product_ids: PRODUCTS, channel: 'level2' },
      { type: 'subscribe', product_ids: PRODUCTS, channel: 'market_trades' },
    ]);
  });

  it('a dropped message (sequence_num gap) resyncs every symbol of the connection by re-subscribing level2, and trades lost in it come back once', async () => {
    const { cb, rec, conn } = await setup(2);
    await until('some books', () => rec.books().length >= 50);
    let mark = rec.events.length;
    cb.dropNext('l2_data');
    await until('resync after an l2 gap', () => rec.recovered('gap', mark));
    expect(cb.latestConnection).toBe(1); // recovered on the same connection
    const asked = cb.connections()[0].received.slice(3);
    expect(asked).toEqual(expect.arrayContaining([
      { type: 'unsubscribe', product_ids: PRODUCTS, channel: 'level2' },
      { type: 'subscribe', product_ids: PRODUCTS, channel: 'level2' },
    ]));
    expect(asked.findIndex((r) => r.type === 'unsubscribe' && r.channel === 'level2'))
      .toBeLessThan(asked.findIndex((r) => r.type === 'subscribe' && r.channel === 'level2'));

    mark = rec.events.length;
    cb.dropNext('market_trades'); // the trades in it are delivered from the next market_trades snapshot
    await until('resync after a trades gap', () => rec.recovered('gap', mark));
    await settle(cb, conn);
    expectInvariants(rec, cb);
    expectAllTrades(rec, cb);
    const st = conn.stats();
    for (const s of SYMBOLS) expect(st.symbols[s]).toMatchObject({ state: 'live', resyncs: { gap: 2 }, snapshotRequests: 3 });
  });

  it('a malformed message is reported, never thrown; the book it may have changed is resynced', async () => {
    const { cb, rec, conn } = await setup(3);
    await until('some books', () => rec.books().length >= 50);
    let mark = rec.events.length;
    cb.corruptNext('json'); // no sequence_num to read: the next message shows the gap
    await until('resync after broken JSON', () => rec.recovered('gap', mark));
    expect(rec.malformedKinds).toContain('json');
    mark = rec.events.length;
    cb.corruptNext('content'); // numbered, but a level cannot be read: its update is lost
    await until('resync after a bad level', () => rec.recovered('malformed', mark));
    expect(rec.malformedKinds).toContain('l2_data');
    await until('more books', () => rec.books().length > mark + 20);
    await settle(cb, conn);
    expectInvariants(rec, cb);
    expect(conn.stats().malformed).toMatchObject({ json: 1, l2_data: 1 });
    expect(cb.latestConnection).toBe(1);
  });

  it('a connection cut mid-stream reconnects within a second, resyncs with reason reconnect, and delivers every trade exactly once across it', async () => {
    const { cb, rec, conn } = await setup(4);
    await until('some books and trades', () => rec.books().length >= 50 && rec.trades.length > 60);
    const mark = rec.events.length;
    const cutAt = Date.now();
    cb.disconnect();
    await until('a second connection', () => cb.latestConnection === 2);
    expect(Date.now() - cutAt).toBeLessThan(1000);
    await until('resync after the cut', () => rec.recovered('reconnect', mark));
    const tradesAtCut = rec.trades.length;
    await until('trades on the new connection', () => rec.trades.length > tradesAtCut + 10);
    await settle(cb, conn);
    expectInvariants(rec, cb);
    expectAllTrades(rec, cb);
    // Books after the cut come from the new connection only.
    expect(rec.books().filter((b) => b.conn === 2).length).toBeGreaterThan(0);
    expect(conn.stats().connections[0].reconnects).toBe(1);
  });

  it('a silent connection (no heartbeat, no data) is declared dead after heartbeatTimeoutMs and replaced', async () => {
    const { cb, rec, conn } = await setup(5);
    await until('some books', () => rec.books().length >= 20);
    cb.pause();
    cb.stopHeartbeats();
    const quietFrom = Date.now();
    const mark = rec.events.length;
    await until('a second connection', () => cb.latestConnection === 2, 3000);
    const waited = Date.now() - quietFrom;
    expect(waited).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS - 50);
    expect(waited).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 1000);
    cb.resume();
    await until('resync after silence', () => rec.recovered('reconnect', mark));
    await until('more books', () => rec.books().length > mark + 20);
    await settle(cb, conn);
    expectInvariants(rec, cb);
    expect(cb.connections()[0].closed).toBe(true);
  });

  it('after stop() resolves no sink call follows', async () => {
    const { rec, conn } = await setup(6);
    await conn.stop();
    const calls = rec.calls;
    await new Promise((r) => setTimeout(r, 150)); // the market keeps going
    expect(rec.calls).toBe(calls);
    expect(conn.stats().connections[0].connected).toBe(false);
  });

  it('refuses options it cannot run with, naming the option', () => {
    const base = { depth: 5, wsUrl: 'ws://127.0.0.1:1', log: quiet };
    expect(() => createCoinbaseConnector({ ...base, symbols: [] })).toThrow(/symbols/);
    expect(() => createCoinbaseConnector({ ...base, symbols: ['btcusd'] })).toThrow(/symbols.*btcusd/);
    expect(() => createCoinbaseConnector({ ...base, symbols: ['BTC-USD'], depth: 0 })).toThrow(/depth/);
    expect(() => createCoinbaseConnector({ ...base, symbols: ['BTC-USD'], wsUrl: 'http://x' })).toThrow(/wsUrl/);
    expect(() => createCoinbaseConnector({ ...base, symbols: ['BTC-USD'], heartbeatTimeoutMs: -1 })).toThrow(/heartbeatTimeoutMs/);
  });
});
