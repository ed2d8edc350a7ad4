// Coinbase's and Kraken's trades through their connectors: every trade the local exchange makes
// from the subscriber's first one on reaches the `trades` channel exactly once, in a gap-free
// sequence, and is stored once — across a cut connection, whose missed trades come back in the
// re-subscription's trade snapshot (its repeats of trades already delivered are dropped).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CoinbaseServer, startCoinbaseServer } from '../helpers/exchanges/coinbase-server.js';
import { type KrakenServer, startKrakenServer } from '../helpers/exchanges/kraken-server.js';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient, tradeSequenceProblems } from '../helpers/ws-client.js';

let rt: Runtime;
let cb: CoinbaseServer;
let kraken: KrakenServer;
let pump: NodeJS.Timeout;

beforeAll(async () => {
  cb = await startCoinbaseServer({ products: ['ETH-USD'], seed: 13, tickMs: 5, heartbeatMs: 100 });
  kraken = await startKrakenServer({ pairs: [{ symbol: 'ETH/USD', pricePrecision: 2, qtyPrecision: 8, mid: 300_000 }], seed: 17, heartbeatMs: 100 });
  let k = 0;
  pump = setInterval(() => {
    kraken.step('ETH/USD');
    if (++k % 4 === 0) kraken.trade('ETH/USD', 1 + (k % 3));
  }, 5);
  rt = await startRuntime({ feeds: 'coinbase:ETH-USD;kraken:ETH/USD', coinbaseWsUrl: cb.url, krakenWsUrl: kraken.url, shards: 2, depth: 10, staleAfterMs: 60_000 });
}, 60_000);

afterAll(async () => {
  clearInterval(pump);
  await rt?.stop();
  await cb?.close();
  await kraken?.close();
});

interface Item { seq: number; trade_id: string; price: number; size: number; side: string }
const received = (c: TestClient, symbol: string): Item[] => c.messages.filter((m) => m.symbol === symbol)
  .flatMap((m) => (m.type === 'trade' ? [m as unknown as Item] : m.type === 'trades_snapshot' ? (m.trades as Item[]) : []));

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await sleep(50);
  }
}

describe('exchange trades on the trades channel', () => {
  it('every Coinbase and Kraken trade from the first one received on arrives once, gap-free, across a cut connection, and is stored once', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'COINBASE.ETH-USD', channels: ['trades'] });
    c.send({ action: 'subscribe', symbol: 'KRAKEN.ETH-USD', channels: ['trades'] });
    await until('trades of both', () => received(c, 'COINBASE.ETH-USD').length >= 30 && received(c, 'KRAKEN.ETH-USD').length >= 30);
    const counts = [received(c, 'COINBASE.ETH-USD').length, received(c, 'KRAKEN.ETH-USD').length];
    cb.disconnect();
    kraken.disconnect();
    await until('trades after the reconnects', () => received(c, 'COINBASE.ETH-USD').length >= counts[0] + 30 && received(c, 'KRAKEN.ETH-USD').length >= counts[1] + 30);
    cb.pause();
    clearInterval(pump);
    await sleep(500); // the last trades arrive

    const truths: [string, { id: string; side: string; price: number; size: number }[]][] = [
      ['COINBASE.ETH-USD', cb.trades('ETH-USD').map((t) => ({ id: t.tradeId, side: t.takerSide, price: t.price, size: t.size }))],
      ['KRAKEN.ETH-USD', kraken.tradeLog('ETH/USD').map((t) => ({ id: String(t.trade_id), side: t.side, price: t.price, size: t.qty }))],
    ];
    for (const [symbol, truth] of truths) {
      const got = received(c, symbol);
      const ids = got.map((t) => t.trade_id);
      expect(new Set(ids).size).toBe(ids.length); // none twice
      // From the first trade received to the last made, the exchange's trades in order: none missing.
      const first = truth.findIndex((t) => t.id === ids[0]);
      expect(first).toBeGreaterThanOrEqual(0);
      const expected = truth.slice(first);
      expect(ids).toEqual(expected.map((t) => t.id));
      for (let i = 0; i < got.length; i++) expect([got[i].side, got[i].price, got[i].size]).toEqual([expected[i].side, expected[i].price, expected[i].size]);
      expect(tradeSequenceProblems(c.messages, symbol)).toEqual([]);
      await until(`${symbol} trades stored`, async () => Number((await rt.db.query('select count(*) as n from trades where symbol = $1', [symbol])).rows[0].n) >= truth.length - first);
      const stored = (await rt.db.query<{ trade_id: string; n: string }>('select trade_id, count(*) as n from trades where symbol = $1 group by trade_id', [symbol])).rows;
      expect(stored.every((r) => r.n === '1')).toBe(true);
      expect(new Set(stored.map((r) => r.trade_id))).toEqual(new Set(truth.slice(Math.max(0, truth.length - stored.length)).map((t) => t.id)));
    }
    c.close();
  }, 60_000);
});
