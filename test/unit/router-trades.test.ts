// The router's trades (simulator, replay): queued in their symbol's shard queue, validated, refused for exchange-fed symbols and when the queue is full.
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { Router } from '../../src/actors/supervisor/router.js';
import type { SymbolRegistration } from '../../src/actors/registry.js';
import type { TradeUpdate } from '../../src/feeds/types.js';
import { logger } from '../../src/log.js';
import {
  IN_KIND, IN_SYMBOL, IN_TRADE_ID, IN_TRADE_ID_LENGTH, IN_TRADE_PRICE, IN_TRADE_SIDE, IN_TRADE_SIZE, KIND_TRADE, TRADE_SELL,
} from '../../src/ring/layout.js';
import { QueueConsumer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';

const cfg = { shards: 1, maxSymbols: 8, depth: 5, rawCapacity: 64, historyCapacity: 64, tradeCapacity: 64, candleCapacity: 2048 } as unknown as Config;

function rig() {
  const input = createQueueBuffer(1024);
  const router = new Router(cfg, [input], [createDoorbellBuffer()], logger('router-test'));
  const registered: SymbolRegistration[] = [];
  router.onRegister = (r) => registered.push(r);
  const q = new QueueConsumer(input);
  /** Every record queued, decoded per layout.ts; drains the queue. */
  const drain = () => {
    const out: { symbol: number; kind: number; id: string; price: number; size: number; sell: boolean }[] = [];
    for (let at = q.peek(); at >= 0; at = q.peek()) {
      const w = at >> 2;
      const b = at >> 3;
      out.push({
        symbol: q.u32[w + IN_SYMBOL], kind: q.u32[w + IN_KIND],
        id: String.fromCharCode(...q.bytes.subarray(at + IN_TRADE_ID, at + IN_TRADE_ID + q.u32[w + IN_TRADE_ID_LENGTH])),
        price: q.f64[b + IN_TRADE_PRICE], size: q.f64[b + IN_TRADE_SIZE], sell: q.u32[w + IN_TRADE_SIDE] === TRADE_SELL,
      });
      q.release();
    }
    return out;
  };
  return { router, registered, drain };
}

const trade = (symbol: string, tradeId: string, over: Partial<TradeUpdate> = {}): TradeUpdate =>
  ({ symbol, tradeId, price: 101.5, size: 2, side: 'sell', exchangeTs: 1_700_000_000_000, ...over });

describe('Router.trade', () => {
  it('registers a new symbol and queues its trade in the symbol\'s shard queue', () => {
    const { router, registered, drain } = rig();
    expect(router.trade(trade('SIM.A', 'r1-1'))).toBe(true);
    expect(registered.map((r) => r.name)).toEqual(['SIM.A']);
    expect(drain()).toEqual([{ symbol: registered[0].id, kind: KIND_TRADE, id: 'r1-1', price: 101.5, size: 2, sell: true }]);
    expect(router.counters).toMatchObject({ tradesOffered: 1, tradeQueueFullDrops: 0, malformed: 0 });
  });

  it('refuses trades of a symbol its exchange feed actor feeds: every symbol has one queue', () => {
    const { router, drain } = rig();
    router.register('BINANCE.BTCUSDT', true);
    expect(router.trade(trade('BINANCE.BTCUSDT', '123'))).toBe(true); // consumed, not queued
    expect(drain()).toEqual([]);
    expect(router.counters).toMatchObject({ tradesOffered: 0, malformed: 1 });
    expect(router.counters.lastMalformed).toMatch(/BINANCE\.BTCUSDT is fed by its exchange feed/);
  });

  it('counts a trade the record cannot carry as malformed and queues nothing', () => {
    const { router, drain } = rig();
    expect(router.trade(trade('SIM.A', 'not an id'))).toBe(true);
    expect(router.trade(trade('SIM.A', 'x', { price: -1 }))).toBe(true);
    expect(router.trade(trade('bad symbol!', 'x'))).toBe(true);
    expect(drain()).toEqual([]);
    expect(router.counters).toMatchObject({ tradesOffered: 0, malformed: 3 });
  });

  it('says false when the queue is full, and counts it', () => {
    const { router, drain } = rig();
    let n = 0;
    while (router.trade(trade('SIM.A', `t-${n}`))) n++;
    expect(router.counters).toMatchObject({ tradesOffered: n, tradeQueueFullDrops: 1 });
    expect(drain().map((r) => r.id)).toEqual(Array.from({ length: n }, (_, i) => `t-${i}`));
  });
});
