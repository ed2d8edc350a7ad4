// The feed actor's trades: queued beside their symbol's books, kept in order through a full queue, none lost up to the backlog's bound.
import { describe, expect, it } from 'vitest';
import { FeedActor, TRADE_BACKLOG } from '../../src/actors/feed/feed.js';
import type { FeedInit } from '../../src/actors/feed/messages.js';
import type { Connector } from '../../src/feeds/connector.js';
import { KIND_SNAPSHOT, createBookUpdate, createTradeUpdate } from '../../src/feeds/types.js';
import {
  IN_KIND, IN_SYMBOL, IN_TRADE_ID, IN_TRADE_ID_LENGTH, IN_TRADE_PRICE, IN_TRADE_SIDE, IN_TRADE_SIZE, KIND_TRADE, TRADE_BUY,
} from '../../src/ring/layout.js';
import { QueueConsumer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';

const QUEUE_BYTES = 1 << 16;

interface Rec { symbol: number; kind: number; id?: string; price?: number; size?: number; side?: 'buy' | 'sell' }

/** A feed actor with symbols A (id 7) and B (id 8) on shard 0 and C (id 9) on shard 1. */
function rig() {
  const inputs = [createQueueBuffer(QUEUE_BYTES), createQueueBuffer(QUEUE_BYTES)];
  const init = {
    exchange: 'test',
    symbols: [
      { native: 'A', served: 'TEST.A', id: 7, shard: 0 },
      { native: 'B', served: 'TEST.B', id: 8, shard: 0 },
      { native: 'C', served: 'TEST.C', id: 9, shard: 1 },
    ],
    inputs, doorbells: [createDoorbellBuffer(), createDoorbellBuffer()],
  } as unknown as FeedInit;
  const connector = { start: () => undefined, stop: async () => undefined, stats: () => ({}) } as unknown as Connector;
  const actor = new FeedActor(init, connector);
  const queues = inputs.map((sab) => new QueueConsumer(sab));
  // One object for every trade, as connectors may hand them over: the actor must copy.
  const t = createTradeUpdate();
  const serial = new Map<string, number>();
  /** The symbol's next trade: id `<n>`, price n, size 1 + n % 3, buys and sells alternating. */
  const trade = (symbol: string) => {
    const n = (serial.get(symbol) ?? 0) + 1;
    serial.set(symbol, n);
    t.symbol = symbol;
    t.tradeId = String(n);
    t.price = n;
    t.size = 1 + (n % 3);
    t.side = n % 2 === 0 ? 'buy' : 'sell';
    t.exchangeTs = 1_700_000_000_000 + n;
    return actor.trade(t);
  };
  const u = createBookUpdate(20);
  const book = (symbol: string) => {
    u.symbol = symbol;
    u.kind = KIND_SNAPSHOT;
    u.bidCount = 20;
    u.askCount = 20;
    for (let i = 0; i < 20; i++) {
      u.bidPx[i] = 100 - i;
      u.bidSz[i] = 1;
      u.askPx[i] = 101 + i;
      u.askSz[i] = 1;
    }
    return actor.book(u, false, 0);
  };
  /** Every record queued for `shard`, decoded per layout.ts; drains the queue. */
  const drain = (shard: number): Rec[] => {
    const q = queues[shard];
    const out: Rec[] = [];
    for (let at = q.peek(); at >= 0; at = q.peek()) {
      const w = at >> 2;
      const b = at >> 3;
      const r: Rec = { symbol: q.u32[w + IN_SYMBOL], kind: q.u32[w + IN_KIND] };
      if (r.kind === KIND_TRADE) {
        const from = at + IN_TRADE_ID;
        r.id = String.fromCharCode(...q.bytes.subarray(from, from + q.u32[w + IN_TRADE_ID_LENGTH]));
        r.price = q.f64[b + IN_TRADE_PRICE];
        r.size = q.f64[b + IN_TRADE_SIZE];
        r.side = q.u32[w + IN_TRADE_SIDE] === TRADE_BUY ? 'buy' : 'sell';
      }
      out.push(r);
      q.release();
    }
    return out;
  };
  return { actor, trade, book, drain };
}

const settle = () => new Promise((r) => setTimeout(r, 30));

/** Trade ids of `symbolId` among `recs`, as numbers, in queue order. */
const idsOf = (recs: Rec[], symbolId: number): number[] => recs.filter((r) => r.kind === KIND_TRADE && r.symbol === symbolId).map((r) => Number(r.id));
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('FeedActor trades', () => {
  it('queues a trade as a KIND_TRADE record in its symbol\'s queue, fields copied', async () => {
    const { actor, trade, drain } = rig();
    expect(trade('TEST.A')).toBe(true);
    expect(trade('TEST.C')).toBe(true);
    expect(drain(0)).toEqual([{ symbol: 7, kind: KIND_TRADE, id: '1', price: 1, size: 2, side: 'sell' }]);
    expect(drain(1)).toEqual([{ symbol: 9, kind: KIND_TRADE, id: '1', price: 1, size: 2, side: 'sell' }]);
    expect(actor.stats()).toMatchObject({ trades: 2, tradesQueued: 2, tradesPending: 0, tradesDropped: 0, malformedTrades: 0 });
    await actor.close();
  });

  it('keeps every trade, in order per symbol, through a full queue; a queue with room is not held up', async () => {
    const { actor, trade, book, drain } = rig();
    const perSymbol = 10_000; // far more than one queue holds (a trade record is 64 bytes here)
    for (let i = 0; i < perSymbol; i++) {
      expect(trade('TEST.A')).toBe(true);
      expect(trade('TEST.B')).toBe(true);
      if (i % 100 === 0) book('TEST.A'); // books refused meanwhile are held, not in the trades' way
    }
    expect(actor.stats().tradesPending).toBeGreaterThan(perSymbol);
    // Shard 1's queue has room: C's trades are queued at once, whatever waits for shard 0.
    trade('TEST.C');
    expect(idsOf(drain(1), 9)).toEqual([1]);
    const got: Rec[] = [];
    for (let round = 0; round < 1_000 && (got.length === 0 || actor.stats().tradesPending > 0); round++) {
      got.push(...drain(0));
      await settle(); // the retry refills the queue from the backlog
    }
    got.push(...drain(0));
    expect(idsOf(got, 7)).toEqual(oneTo(perSymbol));
    expect(idsOf(got, 8)).toEqual(oneTo(perSymbol));
    expect(got.filter((r) => r.kind === KIND_TRADE && r.id === '5000' && r.symbol === 7)).toEqual([
      { symbol: 7, kind: KIND_TRADE, id: '5000', price: 5000, size: 1 + (5000 % 3), side: 'buy' },
    ]);
    expect(got.at(-1)!.kind).toBe(KIND_SNAPSHOT); // the held book followed the trades
    expect(actor.stats()).toMatchObject({ trades: 2 * perSymbol + 1, tradesQueued: 2 * perSymbol + 1, tradesPending: 0, tradesDropped: 0 });
    await actor.close();
  });

  it('a later trade of a symbol goes behind its waiting ones even when the queue has room again', async () => {
    const { actor, trade, drain } = rig();
    while (actor.stats().tradesPending === 0) trade('TEST.A');
    const first = drain(0); // room now, but the backlog's trade must go first
    trade('TEST.A');
    expect(actor.stats().tradesPending).toBe(2);
    await settle();
    const all = [...first, ...drain(0)];
    expect(idsOf(all, 7)).toEqual(oneTo(all.length));
    await actor.close();
  });

  it('beyond the backlog\'s bound drops the newest trades, counts them, and loses none before them', async () => {
    const { actor, trade, drain } = rig();
    let n = 0;
    let refused = 0;
    while (actor.stats().tradesPending < TRADE_BACKLOG) {
      n++;
      if (!trade('TEST.A')) refused++;
    }
    for (let i = 0; i < 100; i++) {
      n++;
      if (!trade('TEST.A')) refused++;
    }
    const s = actor.stats();
    expect(refused).toBe(100);
    expect(s).toMatchObject({ tradesPending: TRADE_BACKLOG, tradesDropped: 100 });
    const got: Rec[] = [];
    for (let round = 0; round < 5_000 && actor.stats().tradesPending > 0; round++) {
      got.push(...drain(0));
      await settle();
    }
    got.push(...drain(0));
    expect(idsOf(got, 7)).toEqual(oneTo(n - 100));
    expect(actor.stats()).toMatchObject({ tradesQueued: n - 100, tradesPending: 0, tradesDropped: 100 });
    await actor.close();
  }, 60_000);

  it('counts a trade whose id, price, size or side the record cannot carry as malformed and queues nothing', async () => {
    const { actor, drain } = rig();
    const ok = { symbol: 'TEST.A', tradeId: '42', price: 10, size: 1, side: 'buy' as const, exchangeTs: 0 };
    expect(actor.trade({ ...ok, tradeId: 'has space' })).toBe(true);
    expect(actor.trade({ ...ok, tradeId: 'x'.repeat(41) })).toBe(true);
    expect(actor.trade({ ...ok, price: 0 })).toBe(true);
    expect(actor.trade({ ...ok, size: Number.NaN })).toBe(true);
    expect(actor.trade({ ...ok, side: 'short' as 'buy' })).toBe(true);
    expect(actor.trade({ ...ok, symbol: 'TEST.Z' })).toBe(true);
    expect(drain(0)).toEqual([]);
    const s = actor.stats();
    expect(s).toMatchObject({ trades: 6, tradesQueued: 0, malformedTrades: 5, unknownSymbols: 1 });
    expect(s.malformed).toEqual({ trade: 5 });
    await actor.close();
  });
});
