// The Binance connector against a local Binance: every book handed over is the exchange's top-N at its update id, through gaps, stale snapshots, rate limits, cuts, malformed messages and 24 h rotation; trades arrive once.
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorSink, Trade } from '../../src/feeds/connector.js';
import { createBinanceConnector, type BinanceConnector, type BinanceConnectorOptions } from '../../src/feeds/binance/connector.js';
import type { Logger } from '../../src/log.js';
import type { BookUpdate } from '../../src/feeds/types.js';
import { KIND_SNAPSHOT } from '../../src/feeds/types.js';
import { startBinanceServer, type BinanceServer, type BinanceServerOptions, type Levels } from '../helpers/exchanges/binance-server.js';

const DEPTH = 5;

type Event =
  | { type: 'book'; symbol: string; reset: boolean; seq: number; at: number }
  | { type: 'resyncing'; symbol: string; reason: string; at: number }
  | { type: 'trade'; trade: Trade }
  | { type: 'malformed'; kind: string; detail: string };

/** A sink that checks each book against the server's truth the moment it is handed over. */
class Recorder implements ConnectorSink {
  readonly events: Event[] = [];
  readonly wrong: string[] = [];
  constructor(private readonly ex: BinanceServer) {}

  book(u: BookUpdate, reset: boolean, seq: number): boolean {
    const native = u.symbol.replace(/^BINANCE\./, '');
    const truth = this.ex.topAt(native, seq, DEPTH);
    const got = { bids: levels(u.bidPx, u.bidSz, u.bidCount), asks: levels(u.askPx, u.askSz, u.askCount) };
    if (u.kind !== KIND_SNAPSHOT) this.wrong.push(`${u.symbol}@${seq}: kind ${u.kind}`);
    if (!truth) this.wrong.push(`${u.symbol}@${seq}: not an update id of the book`);
    else if (JSON.stringify(got) !== JSON.stringify(truth)) this.wrong.push(`${u.symbol}@${seq}: ${JSON.stringify(got)} ≠ ${JSON.stringify(truth)}`);
    this.events.push({ type: 'book', symbol: u.symbol, reset, seq, at: Date.now() });
    return true;
  }
  trade(trade: Trade): boolean {
    this.events.push({ type: 'trade', trade });
    return true;
  }
  resyncing(symbol: string, reason: string): void {
    this.events.push({ type: 'resyncing', symbol, reason, at: Date.now() });
  }
  malformed(kind: string, detail: string): void {
    this.events.push({ type: 'malformed', kind, detail });
  }

  books(symbol: string): Extract<Event, { type: 'book' }>[] {
    return this.events.filter((e): e is Extract<Event, { type: 'book' }> => e.type === 'book' && e.symbol === symbol);
  }
  resyncs(symbol: string): Extract<Event, { type: 'resyncing' }>[] {
    return this.events.filter((e): e is Extract<Event, { type: 'resyncing' }> => e.type === 'resyncing' && e.symbol === symbol);
  }
  trades(symbol: string): Trade[] {
    return this.events.flatMap((e) => (e.type === 'trade' && e.trade.symbol === symbol ? [e.trade] : []));
  }
  malformedKinds(): string[] {
    return this.events.flatMap((e) => (e.type === 'malformed' ? [e.kind] : []));
  }

  /**
   * The contract, per symbol: `resyncing` first (start), said once per loss and only while live;
   * the first book after it is a reset, later ones are not and their update ids rise.
   */
  checkSequence(symbol: string): void {
    let live = false;
    let lastSeq = -1;
    type Marked = Extract<Event, { type: 'book' | 'resyncing' }>;
    const mine = this.events.filter((e): e is Marked => (e.type === 'book' || e.type === 'resyncing') && e.symbol === symbol);
    expect(mine[0], symbol).toMatchObject({ type: 'resyncing', reason: 'start' });
    for (const e of mine.slice(1)) {
      if (e.type === 'resyncing') {
        expect(live, `${symbol}: resyncing(${e.reason}) said twice`).toBe(true);
        live = false;
      } else {
        expect(e.reset, `${symbol}@${e.seq}: reset`).toBe(!live);
        if (live) expect(e.seq, `${symbol}: update ids rise`).toBeGreaterThan(lastSeq);
        live = true;
        lastSeq = e.seq;
      }
    }
  }
}

function levels(px: Float64Array, sz: Float64Array, n: number): Levels {
  return Array.from({ length: n }, (_, i) => [px[i], sz[i]] as [number, number]);
}

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

let ex: BinanceServer | null = null;
let conn: BinanceConnector | null = null;

afterEach(async () => {
  await conn?.stop();
  await ex?.close();
  conn = null;
  ex = null;
});

async function setup(symbols: string[], server: Partial<BinanceServerOptions> = {}, options: Partial<BinanceConnectorOptions> = {}): Promise<{ ex: BinanceServer; c: BinanceConnector; rec: Recorder }> {
  ex = await startBinanceServer({ symbols, pingIntervalMs: 50, ...server });
  conn = createBinanceConnector({ symbols, depth: DEPTH, wsUrl: ex.wsUrl, restUrl: ex.restUrl, log: quiet, reconnectMinMs: 100, ...options });
  const rec = new Recorder(ex);
  conn.start(rec);
  return { ex, c: conn, rec };
}

/** Until the symbol resynced for `reason` and came back with a reset book. */
async function throughResync(rec: Recorder, symbol: string, reason: string): Promise<void> {
  await waitFor(`${symbol} resyncing(${reason}) and back`, () => {
    const i = rec.events.findIndex((e) => e.type === 'resyncing' && e.symbol === symbol && e.reason === reason);
    return i >= 0 && rec.events.slice(i).some((e) => e.type === 'book' && e.symbol === symbol && e.reset);
  });
}

/** Trades handed over equal, once each, those the exchange wrote to the connector's connections. */
async function expectTradesOnce(ex: BinanceServer, rec: Recorder, native: string): Promise<void> {
  ex.pause();
  await sleep(60); // let what is on the wire arrive
  const got = rec.trades(`BINANCE.${native}`).map((t) => Number(t.tradeId));
  expect(new Set(got).size, 'no trade twice').toBe(got.length);
  expect(new Set(got)).toEqual(ex.tradesSent(native));
  expect(got.length).toBeGreaterThan(0);
}

describe('Binance connector against a local Binance', () => {
  it('syncs every symbol on as many connections as the stream limit needs; every book is the exchange top-N at its update id; trades map faithfully', async () => {
    const { ex, c, rec } = await setup(['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], { maxStreams: 4 }, { maxStreamsPerConnection: 4, snapshotLimit: 500 });
    await waitFor('30 books per symbol', () => ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].every((s) => rec.books(`BINANCE.${s}`).length >= 30));

    expect(rec.wrong).toEqual([]);
    for (const s of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) rec.checkSequence(`BINANCE.${s}`);
    // Two symbols (four streams) on one connection, the third on another: lower-case combined streams.
    expect(ex.connections.map((k) => k.streams)).toEqual([
      ['btcusdt@depth@100ms', 'btcusdt@trade', 'ethusdt@depth@100ms', 'ethusdt@trade'],
      ['solusdt@depth@100ms', 'solusdt@trade'],
    ]);
    expect(new Set(ex.snapshotRequests.map((r) => r.limit))).toEqual(new Set([500]));
    // ws answers Binance's pings with the same payload.
    for (const k of ex.connections) expect(k.pongsMatched).toBeGreaterThan(0);

    const st = c.stats();
    expect(st.exchange).toBe('binance');
    expect(st.connections).toHaveLength(2);
    expect(st.connections.every((k) => k.connected && k.messages > 0 && k.bytes > 0 && k.lastMessageAgeMs >= 0)).toBe(true);
    expect(st.symbols['BINANCE.BTCUSDT']).toMatchObject({ state: 'live', resyncs: {}, snapshotRequests: 1, rateLimitWaits: 0 });
    expect(st.symbols['BINANCE.BTCUSDT'].books).toBe(rec.books('BINANCE.BTCUSDT').length);

    await expectTradesOnce(ex, rec, 'ETHUSDT');
    const byId = new Map(ex.trades('ETHUSDT').map((t) => [t.id, t]));
    for (const t of rec.trades('BINANCE.ETHUSDT')) {
      const truth = byId.get(Number(t.tradeId))!;
      expect(t).toEqual({ symbol: 'BINANCE.ETHUSDT', tradeId: String(truth.id), price: truth.price, size: truth.size, side: truth.side, exchangeTs: truth.time });
    }
  });

  it('a dropped diff: the symbol resyncs (gap) from a new snapshot; the other symbol is untouched', async () => {
    const { ex, rec } = await setup(['BTCUSDT', 'ETHUSDT']);
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 5 && rec.books('BINANCE.ETHUSDT').length >= 5);
    ex.dropNextDiff('BTCUSDT');
    await throughResync(rec, 'BINANCE.BTCUSDT', 'gap');
    await waitFor('more books', () => rec.books('BINANCE.BTCUSDT').filter((b) => !b.reset).length >= 10);
    expect(rec.wrong).toEqual([]);
    rec.checkSequence('BINANCE.BTCUSDT');
    expect(rec.resyncs('BINANCE.ETHUSDT').map((r) => r.reason)).toEqual(['start']);
    expect(conn!.stats().symbols['BINANCE.BTCUSDT'].resyncs).toEqual({ gap: 1 });
  });

  it('two diffs swapped: the first one out of order is a gap; nothing wrong is handed over', async () => {
    const { ex, rec } = await setup(['BTCUSDT']);
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 5);
    ex.reorderNextDiffs('BTCUSDT');
    await throughResync(rec, 'BINANCE.BTCUSDT', 'gap');
    await sleep(100);
    expect(rec.wrong).toEqual([]);
    rec.checkSequence('BINANCE.BTCUSDT');
  });

  it('a snapshot older than the first buffered diff is never applied: another is fetched', async () => {
    const { ex, c, rec } = await setup(['BTCUSDT'], {}, {});
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 3);
    // A gap makes the connector re-sync while diffs are buffered: the next snapshot served is stale.
    ex.staleNextSnapshot('BTCUSDT');
    const before = rec.books('BINANCE.BTCUSDT').length;
    ex.dropNextDiff('BTCUSDT');
    await throughResync(rec, 'BINANCE.BTCUSDT', 'gap');
    await waitFor('live again', () => rec.books('BINANCE.BTCUSDT').length >= before + 10);
    const reqs = ex.snapshotRequests.filter((r) => r.symbol === 'BTCUSDT');
    const stale = reqs.findIndex((r) => r.stale);
    expect(stale).toBeGreaterThan(0);
    expect(reqs.length).toBeGreaterThan(stale + 1);
    expect(c.stats().symbols['BINANCE.BTCUSDT'].snapshotRequests).toBe(reqs.length);
    // The first book after the resync is the later snapshot's (or an event on it), never the stale one's.
    const resumed = rec.books('BINANCE.BTCUSDT').find((b, i) => i >= before && b.reset);
    expect(resumed!.seq).toBeGreaterThanOrEqual(reqs[stale + 1].lastUpdateId!);
    expect(rec.wrong).toEqual([]);
    rec.checkSequence('BINANCE.BTCUSDT');
  });

  it('429 and 418 with Retry-After: no snapshot request at all until the wait is over', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    const { ex, c, rec } = await setup(symbols, {}, { snapshotConcurrency: 1 });
    ex.rateLimitNextSnapshots(1, 1, 429);
    await waitFor('all live', () => symbols.every((s) => rec.books(`BINANCE.${s}`).length > 0));
    const afterLimit = (status: number): number => {
      const i = ex.snapshotRequests.findIndex((r) => r.status === status);
      expect(i).toBeGreaterThanOrEqual(0);
      return ex.snapshotRequests[i + 1].at - ex.snapshotRequests[i].at;
    };
    expect(afterLimit(429)).toBeGreaterThanOrEqual(990);

    ex.rateLimitNextSnapshots(1, 1, 418);
    ex.dropNextDiff('ETHUSDT');
    await throughResync(rec, 'BINANCE.ETHUSDT', 'gap');
    expect(afterLimit(418)).toBeGreaterThanOrEqual(990);

    const waits = Object.values(c.stats().symbols).reduce((n, s) => n + s.rateLimitWaits, 0);
    expect(waits).toBe(2);
    expect(rec.wrong).toEqual([]);
    for (const s of symbols) rec.checkSequence(`BINANCE.${s}`);
  });

  it('a connection cut mid-stream: its symbols resync (reconnect) on a new connection opened within a second; trades stay once each', async () => {
    const { ex, c, rec } = await setup(['BTCUSDT', 'ETHUSDT'], {}, { reconnectMinMs: undefined }); // the default first delay
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 5 && rec.books('BINANCE.ETHUSDT').length >= 5);
    const cutAt = Date.now();
    ex.disconnectAll();
    await throughResync(rec, 'BINANCE.BTCUSDT', 'reconnect');
    await throughResync(rec, 'BINANCE.ETHUSDT', 'reconnect');
    expect(ex.connections).toHaveLength(2);
    expect(ex.connections[1].openedAt - cutAt).toBeLessThan(1000);
    expect(c.stats().connections[0].reconnects).toBe(1);
    await waitFor('more trades', () => rec.trades('BINANCE.BTCUSDT').length > 20);
    expect(rec.wrong).toEqual([]);
    for (const s of ['BTCUSDT', 'ETHUSDT']) rec.checkSequence(`BINANCE.${s}`);
    await expectTradesOnce(ex, rec, 'BTCUSDT');
    await expectTradesOnce(ex, rec, 'ETHUSDT');
    // Binance does not replay trades: those made while no connection was open are lost, and counted.
    let lost = 0;
    for (const s of ['BTCUSDT', 'ETHUSDT']) {
      const got = new Set(rec.trades(`BINANCE.${s}`).map((t) => Number(t.tradeId)));
      const lo = Math.min(...got);
      const hi = Math.max(...got);
      lost += ex.trades(s).filter((t) => t.id > lo && t.id < hi && !got.has(t.id)).length;
    }
    expect(lost).toBeGreaterThan(0);
    expect(c.tradesMissed).toBe(lost);
  });

  it('24 h rotation (accelerated): the connection is replaced again and again with no resync, no wrong book, no trade lost or repeated', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT'];
    // The server cuts connections at 2 s, as Binance does at 24 h; the connector replaces them every
    // 300 ms. Slow snapshots keep each successor syncing for a while, so old and new overlap.
    const { ex, c, rec } = await setup(symbols, { maxConnectionAgeMs: 2000, snapshotDelayMs: 60 }, { rotateMs: 300 });
    await waitFor('five connections', () => ex.connections.length >= 5 && ex.connections.filter((k) => k.closedAt === 0).length === 1, 8000);

    expect(rec.wrong).toEqual([]);
    for (const s of symbols) {
      expect(rec.resyncs(`BINANCE.${s}`).map((r) => r.reason)).toEqual(['start']);
      rec.checkSequence(`BINANCE.${s}`);
    }
    // Each replacement opened while its predecessor served, which the connector closed itself.
    const closed = ex.connections.filter((k) => k.closedAt > 0);
    expect(closed.every((k) => k.closedBy === 'client')).toBe(true);
    for (let i = 1; i < ex.connections.length; i++) expect(ex.connections[i].openedAt).toBeLessThanOrEqual(ex.connections[i - 1].closedAt || Infinity);
    // No moment with three connections.
    for (let i = 2; i < ex.connections.length; i++) expect(ex.connections[i - 2].closedAt).toBeLessThanOrEqual(ex.connections[i].openedAt);
    expect(c.stats().connections[0].reconnects).toBe(0);
    // Books kept coming across the switches: no silence longer than a few diff periods.
    const times = rec.books('BINANCE.BTCUSDT').map((b) => b.at);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeLessThan(250);
    await expectTradesOnce(ex, rec, 'BTCUSDT');
    await expectTradesOnce(ex, rec, 'ETHUSDT');
    expect(c.tradeRepeats).toBeGreaterThan(0); // the overlaps did deliver trades twice: the window dropped them
  });

  it("Binance's 24 h cut when the connector has not rotated: the symbols resync (reconnect) on a new connection", async () => {
    const { ex, rec } = await setup(['BTCUSDT'], { maxConnectionAgeMs: 400 });
    await throughResync(rec, 'BINANCE.BTCUSDT', 'reconnect');
    expect(ex.connections[0].closedBy).toBe('age');
    expect(rec.wrong).toEqual([]);
    rec.checkSequence('BINANCE.BTCUSDT');
  });

  it('a serverShutdown notice: the replacement connection is opened at once and takes over without a resync', async () => {
    const { ex, rec } = await setup(['BTCUSDT']);
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 5);
    ex.sendServerShutdown();
    await waitFor('replaced', () => ex.connections.length === 2 && ex.connections[0].closedAt > 0);
    const switchedAt = ex.connections[0].closedAt;
    await waitFor('books after the switch', () => rec.books('BINANCE.BTCUSDT').filter((b) => b.at > switchedAt).length >= 5);
    expect(rec.resyncs('BINANCE.BTCUSDT').map((r) => r.reason)).toEqual(['start']);
    expect(rec.wrong).toEqual([]);
    rec.checkSequence('BINANCE.BTCUSDT');
  });

  it('malformed messages are reported by kind and never thrown; a corrupted diff makes its symbol resync', async () => {
    const { ex, c, rec } = await setup(['BTCUSDT']);
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 5);
    for (const kind of ['json', 'unexpected', 'unknown-stream', 'binary'] as const) ex.sendMalformed(kind);
    ex.corruptNextDiff('BTCUSDT');
    await throughResync(rec, 'BINANCE.BTCUSDT', 'gap');
    expect(rec.malformedKinds().sort()).toEqual(['binary', 'depth', 'json', 'unexpected', 'unknown-stream']);
    expect(c.stats().malformed).toEqual({ binary: 1, depth: 1, json: 1, unexpected: 1, 'unknown-stream': 1 });
    expect(rec.wrong).toEqual([]);
    rec.checkSequence('BINANCE.BTCUSDT');
    expect(ex.connections).toHaveLength(1); // none of it cost the connection
  });

  it('stop(): connections closed, and no sink call after it resolves', async () => {
    const { ex, c, rec } = await setup(['BTCUSDT']);
    await waitFor('live', () => rec.books('BINANCE.BTCUSDT').length >= 3);
    await c.stop();
    const n = rec.events.length;
    await sleep(100);
    expect(rec.events.length).toBe(n);
    expect(ex.connections.every((k) => k.closedAt > 0)).toBe(true);
  });

  it('refuses options it cannot serve, naming the option', () => {
    const base = { depth: 10, wsUrl: 'ws://127.0.0.1:1', log: quiet };
    expect(() => createBinanceConnector({ ...base, symbols: ['BTC-USD'] })).toThrow(/symbols/);
    expect(() => createBinanceConnector({ ...base, symbols: ['BTCUSDT', 'btcusdt'] })).toThrow(/twice/);
    expect(() => createBinanceConnector({ ...base, symbols: ['BTCUSDT'], snapshotLimit: 5 })).toThrow(/snapshotLimit/);
    expect(() => createBinanceConnector({ ...base, symbols: ['BTCUSDT'], maxStreamsPerConnection: 2000 })).toThrow(/maxStreamsPerConnection/);
    expect(() => createBinanceConnector({ ...base, symbols: ['BTCUSDT'], rotateMs: 0 })).toThrow(/rotateMs/);
  });
});
