// The real exchange connectors run by FEEDS, against local servers that speak each exchange's
// wire format: the registry finds each connector and gives it its endpoints, books reach
// subscribers gap-free, a fault (a cut connection, a wrong checksum) shows as `resyncing`, then
// `live` and a `"reset":true` update at the next seq, and a Binance connection rotated at
// BINANCE_ROTATE_MS shows nothing at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedActorStatus } from '../../src/actors/supervisor/messages.js';
import { type BinanceServer, startBinanceServer } from '../helpers/exchanges/binance-server.js';
import { type CoinbaseServer, startCoinbaseServer } from '../helpers/exchanges/coinbase-server.js';
import { type KrakenServer, startKrakenServer } from '../helpers/exchanges/kraken-server.js';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient, sequenceProblems } from '../helpers/ws-client.js';

let rt: Runtime;
let cb: CoinbaseServer;
let kraken: KrakenServer;
let binance: BinanceServer;
let pump: NodeJS.Timeout;
const ROTATE_MS = 1500;

beforeAll(async () => {
  cb = await startCoinbaseServer({ products: ['BTC-USD'], seed: 3, tickMs: 5, heartbeatMs: 100 });
  kraken = await startKrakenServer({ pairs: [{ symbol: 'BTC/USD', pricePrecision: 1, qtyPrecision: 8, mid: 450_000 }], seed: 5, heartbeatMs: 100 });
  binance = await startBinanceServer({ symbols: ['BTCUSDT'], seed: 7, pingIntervalMs: 100 });
  pump = setInterval(() => kraken.step('BTC/USD'), 5); // the Kraken server's market moves when told
  rt = await startRuntime({
    feeds: 'coinbase:BTC-USD;kraken:BTC/USD;binance:BTCUSDT', coinbaseWsUrl: cb.url, krakenWsUrl: kraken.url,
    binanceWsUrl: binance.wsUrl, binanceRestUrl: binance.restUrl, binanceRotateMs: ROTATE_MS,
    shards: 2, depth: 10, staleAfterMs: 60_000,
  });
}, 60_000);

afterAll(async () => {
  clearInterval(pump);
  await rt?.stop();
  await cb?.close();
  await kraken?.close();
  await binance?.close();
});

/** Subscribes (no history) and waits for `n` updates after the snapshot. */
async function subscriber(symbol: string, n: number): Promise<TestClient> {
  const c = await TestClient.connect(rt.ws);
  c.send({ action: 'subscribe', symbol, resolution: 'none' });
  await c.waitFor((m) => m.type === 'orderbook_snapshot' && m.symbol === symbol, 20_000);
  await c.waitFor(() => c.messages.filter((m) => m.type === 'orderbook_update').length >= n, 20_000);
  return c;
}

/** After `from`: resyncing (with `reason`), then live, then an update with reset at the next seq. */
async function expectResync(c: TestClient, symbol: string, from: number, reason: string): Promise<void> {
  const reset = await c.waitFor((m) => m.type === 'orderbook_update' && m.reset === true, 20_000, from);
  const after = c.messages.slice(from, c.messages.indexOf(reset) + 1).filter((m) => m.symbol === symbol);
  const statuses = after.filter((m) => m.type === 'status');
  expect(statuses.map((m) => m.status)).toEqual(['resyncing', 'live']);
  expect(statuses[0].reason).toBe(reason);
  expect(after[after.length - 2]).toMatchObject({ type: 'status', status: 'live' }); // right before the reset update
  expect(sequenceProblems(c.stream(symbol))).toEqual([]);
}

describe('FEEDS with the Coinbase, Kraken and Binance connectors', () => {
  it('serves COINBASE.BTC-USD and KRAKEN.BTC-USD from their feed actors', async () => {
    const [coinbase, krakenClient] = await Promise.all([subscriber('COINBASE.BTC-USD', 20), subscriber('KRAKEN.BTC-USD', 20)]);
    for (const [c, symbol] of [[coinbase, 'COINBASE.BTC-USD'], [krakenClient, 'KRAKEN.BTC-USD']] as const) {
      const u = c.messages.find((m) => m.type === 'orderbook_update')!;
      expect(u.symbol).toBe(symbol);
      expect((u.data as { bid_levels: unknown[] }).bid_levels.length).toBeGreaterThan(0);
      expect(sequenceProblems(c.stream(symbol))).toEqual([]);
    }

    let from = coinbase.messages.length;
    cb.disconnect();
    await expectResync(coinbase, 'COINBASE.BTC-USD', from, 'reconnect');

    from = krakenClient.messages.length;
    kraken.corruptChecksum('BTC/USD');
    await expectResync(krakenClient, 'KRAKEN.BTC-USD', from, 'checksum');

    const feeds = (await rt.get<{ feeds: FeedActorStatus[] }>('/stats')).body.feeds;
    expect(feeds.map((f) => [f.exchange, f.status, f.symbols])).toEqual([
      ['coinbase', 'running', ['COINBASE.BTC-USD']], ['kraken', 'running', ['KRAKEN.BTC-USD']], ['binance', 'running', ['BINANCE.BTCUSDT']],
    ]);
    for (const f of feeds.slice(0, 2)) {
      expect(f.stats!.books).toBeGreaterThan(20);
      expect(f.stats!.resets).toBeGreaterThanOrEqual(2); // the first sync, and the one after the fault
      expect(f.stats!.connector.connections.every((k) => k.connected)).toBe(true);
    }
    coinbase.close();
    krakenClient.close();
    await sleep(10);
  });

  it('serves BINANCE.BTCUSDT through a rotation (no status, no gap) and a cut connection (resyncing, live, reset)', async () => {
    const c = await subscriber('BINANCE.BTCUSDT', 20);
    const from = c.messages.length;
    const opened = binance.connections.length;
    // BINANCE_ROTATE_MS reached the connector: a new connection replaces the old one, unnoticed.
    await until(() => binance.connections.length > opened && c.messages.length > from + 20, 'a rotated Binance connection', 20_000);
    await sleep(200);
    expect(c.messages.slice(from).filter((m) => m.type !== 'orderbook_update')).toEqual([]);
    expect(sequenceProblems(c.stream('BINANCE.BTCUSDT'))).toEqual([]);

    const cut = c.messages.length;
    binance.disconnectAll();
    await expectResync(c, 'BINANCE.BTCUSDT', cut, 'reconnect');
    const f = (await rt.get<{ feeds: FeedActorStatus[] }>('/stats')).body.feeds.find((x) => x.exchange === 'binance')!;
    expect(f.stats!.connector.symbols['BINANCE.BTCUSDT'].snapshotRequests).toBeGreaterThanOrEqual(2);
    c.close();
  });
});

async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
