// The Coinbase state machine against a model exchange: random updates, drops, garbage, repeats and reconnects; every handed-over book is the truth at its sequence_num.
//
// The model speaks Coinbase's JSON (through the real decoder), numbers every message of a
// connection from 0, answers a re-subscription with fresh snapshots only when the test lets it
// ("serve", so old updates keep arriving meanwhile), and keeps the true book per product.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnectorSink, Trade } from '../../src/feeds/connector.js';
import { CoinbaseSync, RESUBSCRIBE_BOOKS, RESUBSCRIBE_TRADES } from '../../src/feeds/coinbase/sync.js';
import { TradeWindow } from '../../src/feeds/trade-window.js';
import { createBookUpdate, type BookUpdate } from '../../src/feeds/types.js';

type Level = [number, number];
interface Top { bids: Level[]; asks: Level[] }

const ALL_PRODUCTS = ['AAA-USD', 'BBB-USD', 'CCC-EUR'];

const levelArb = fc.record({ bid: fc.boolean(), price: fc.integer({ min: 1, max: 12 }), qty: fc.integer({ min: 0, max: 3 }) });
const opArb = fc.oneof(
  { weight: 10, arbitrary: fc.record({ t: fc.constant('update' as const), events: fc.array(fc.record({ p: fc.nat(2), levels: fc.array(levelArb, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('trade' as const), p: fc.nat(2), buy: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'heartbeat' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'drop' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'garbage' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('badLevel' as const), level: levelArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('repeat' as const), back: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reconnect' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'serve' as const }) },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

const priceText = (p: number): string => `${p}.5`;
const qtyText = (q: number): string => (q === 0 ? '0' : `${q}.25`);

function run(productCount: number, depth: number, makerSide: boolean, ops: Op[]): void {
  const products = ALL_PRODUCTS.slice(0, productCount);
  const truth = new Map(products.map((p) => [p, { bids: new Map<number, number>(), asks: new Map<number, number>() }]));
  const trades = new Map(products.map((p) => [p, [] as { id: string; takerBuys: boolean; price: number; size: number; ts: number }[]]));
  const topOf = (p: string): Top => {
    const b = truth.get(p)!;
    const side = (m: Map<number, number>, desc: boolean): Level[] =>
      [...m].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0])).slice(0, depth);
    return { bids: side(b.bids, true), asks: side(b.asks, false) };
  };

  // The exchange side: one connection at a time.
  let conn = 0;
  let seq = 0;
  let dropNext = false;
  let sentOnConn: string[] = []; // delivered texts of the current connection, for repeats
  let pending = 0;
  const truthAt = new Map<string, Map<string, Top>>(); // `${conn}:${seq}` → product → top
  let nextTradeId = 1;

  // What the sink saw.
  const events: ({ kind: 'book'; symbol: string; reset: boolean } | { kind: 'resyncing'; symbol: string })[] = [];
  const lastBook = new Map<string, Top>();
  const delivered: Trade[] = [];
  const sink: ConnectorSink = {
    book(u: BookUpdate, reset: boolean, sourceSeq: number): boolean {
      const product = u.symbol.replace(/^COINBASE\./, '');
      const got: Top = {
        bids: Array.from({ length: u.bidCount }, (_, i) => [u.bidPx[i], u.bidSz[i]] as Level),
        asks: Array.from({ length: u.askCount }, (_, i) => [u.askPx[i], u.askSz[i]] as Level),
      };
      expect({ product, sourceSeq, got }).toEqual({ product, sourceSeq, got: truthAt.get(`${conn}:${sourceSeq}`)?.get(product) });
      lastBook.set(product, got);
      events.push({ kind: 'book', symbol: u.symbol, reset });
      return true;
    },
    trade(t: Trade): boolean {
      delivered.push(t);
      return true;
    },
    resyncing(symbol: string): void {
      events.push({ kind: 'resyncing', symbol });
    },
    malformed: () => undefined,
  };
  const sync = new CoinbaseSync({ products, depth, tradeSideIs: makerSide ? 'maker' : 'taker', tradeWindow: 10_000 }, sink, createBookUpdate(depth));

  /** `fresh`: the next numbered message; after a repeat or garbage a drop may still be unnoticed. */
  const deliver = (text: string, fresh = true): void => {
    if (fresh) sentOnConn.push(text);
    pending |= sync.onText(text);
    // While the machine calls a symbol live, the last book it handed over is the exchange's now.
    if (fresh) for (const p of products) if (sync.isLive(p)) expect({ p, book: lastBook.get(p) }).toEqual({ p, book: topOf(p) });
  };
  /** Numbers a message and delivers it, unless a drop was scheduled. */
  const send = (channel: string, evs: unknown[], record?: Map<string, Top>): void => {
    const n = seq++;
    if (record) truthAt.set(`${conn}:${n}`, record);
    if (dropNext) {
      dropNext = false;
      return;
    }
    deliver(JSON.stringify({ channel, client_id: '', timestamp: '2024-05-01T12:00:00.123456789Z', sequence_num: n, events: evs }));
  };
  const snapshot = (p: string): void => {
    const b = truth.get(p)!;
    const updates = [
      ...[...b.bids].map(([px, q]) => ({ side: 'bid', event_time: '', price_level: String(px), new_quantity: String(q) })),
      ...[...b.asks].map(([px, q]) => ({ side: 'offer', event_time: '', price_level: String(px), new_quantity: String(q) })),
    ];
    send('l2_data', [{ type: 'snapshot', product_id: p, updates }], new Map([[p, topOf(p)]]));
  };
  const wireTrade = (p: string, t: { id: string; takerBuys: boolean; price: number; size: number; ts: number }): unknown => ({
    trade_id: t.id, product_id: p, price: String(t.price), size: String(t.size),
    side: t.takerBuys !== makerSide ? 'BUY' : 'SELL', time: new Date(t.ts).toISOString(),
  });
  const tradesSnapshot = (): void => {
    // Newest first, as Coinbase lists them; the whole history, so nothing lost stays lost.
    const all = products.flatMap((p) => trades.get(p)!.map((t) => wireTrade(p, t))).reverse();
    send('market_trades', [{ type: 'snapshot', trades: all }]);
  };
  const serve = (): void => {
    const asked = pending;
    pending = 0;
    if (asked & RESUBSCRIBE_BOOKS) for (const p of products) snapshot(p);
    if (asked & RESUBSCRIBE_TRADES) tradesSnapshot();
  };
  const connect = (): void => {
    conn++;
    seq = 0;
    dropNext = false;
    sentOnConn = []; // an old connection's message cannot arrive on the new one
    pending = 0;
    sync.opened();
    send('subscriptions', [{ subscriptions: { level2: products, market_trades: products } }]);
    for (const p of products) snapshot(p);
    tradesSnapshot();
  };

  connect();
  for (const op of ops) {
    switch (op.t) {
      case 'update': {
        const record = new Map<string, Top>();
        const evs = op.events.filter((e) => e.p < productCount).map((e) => {
          const p = products[e.p];
          const b = truth.get(p)!;
          for (const l of e.levels) {
            const m = l.bid ? b.bids : b.asks;
            if (l.qty === 0) m.delete(Number(priceText(l.price)));
            else m.set(Number(priceText(l.price)), Number(qtyText(l.qty)));
          }
          return { type: 'update', product_id: p, updates: e.levels.map((l) => ({ side: l.bid ? 'bid' : 'offer', event_time: '', price_level: priceText(l.price), new_quantity: qtyText(l.qty) })) };
        });
        if (evs.length === 0) break;
        for (const e of evs) record.set(e.product_id, topOf(e.product_id)); // after the whole message
        send('l2_data', evs, record);
        break;
      }
      case 'trade': {
        if (op.p >= productCount) break;
        const p = products[op.p];
        const t = { id: String(nextTradeId++), takerBuys: op.buy, price: 10 + op.p, size: 0.5, ts: 1_714_564_800_000 + nextTradeId };
        trades.get(p)!.push(t);
        send('market_trades', [{ type: 'update', trades: [wireTrade(p, t)] }]);
        break;
      }
      case 'heartbeat':
        send('heartbeats', [{ current_time: '', heartbeat_counter: seq }]);
        break;
      case 'drop':
        dropNext = true;
        break;
      case 'garbage':
        seq++;
        if (dropNext) dropNext = false;
        else deliver('{"channel":"l2_data","sequence_num":', false);
        break;
      case 'badLevel': {
        // A real change the connector cannot read: the book it holds is no longer the exchange's.
        const l = op.level;
        const m = l.bid ? truth.get(products[0])!.bids : truth.get(products[0])!.asks;
        if (l.qty === 0) m.delete(Number(priceText(l.price)));
        else m.set(Number(priceText(l.price)), Number(qtyText(l.qty)));
        send('l2_data', [{ type: 'update', product_id: products[0], updates: [
          { side: l.bid ? 'bid' : 'offer', event_time: '', price_level: priceText(l.price), new_quantity: qtyText(l.qty) },
          { side: 'middle', event_time: '', price_level: '1', new_quantity: '1' },
        ] }]);
        break;
      }
      case 'repeat':
        if (sentOnConn.length > 0) deliver(sentOnConn[Math.max(0, sentOnConn.length - 1 - op.back)], false);
        break;
      case 'reconnect':
        sync.lost('reconnect');
        connect();
        break;
      case 'serve':
        serve();
        break;
    }
  }
  // No more faults: a heartbeat shows any last gap, and the exchange answers what was asked.
  dropNext = false;
  send('heartbeats', [{ current_time: '', heartbeat_counter: seq }]);
  serve();

  for (const p of products) expect({ p, live: sync.isLive(p) }).toEqual({ p, live: true });
  // Resyncing said once; reset exactly on the first book after it (and on the very first).
  for (const p of products) {
    let prev = 'start';
    for (const e of events.filter((x) => x.symbol === `COINBASE.${p}`)) {
      if (e.kind === 'book') expect(e.reset).toBe(prev !== 'book');
      else expect(prev).not.toBe('resyncing');
      prev = e.kind;
    }
  }
  // Every trade exactly once, with the taker's side.
  for (const p of products) {
    const got = delivered.filter((t) => t.symbol === `COINBASE.${p}`);
    expect(got.map((t) => t.tradeId).sort()).toEqual(trades.get(p)!.map((t) => t.id).sort());
    for (const t of got) expect(t.side).toBe(trades.get(p)!.find((x) => x.id === t.tradeId)!.takerBuys ? 'buy' : 'sell');
  }
}

describe('CoinbaseSync', () => {
  it('hands over only the exchange\'s top N at each sequence_num, whatever is dropped, broken, repeated or cut', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.array(opArb, { maxLength: 120 }),
      (productCount, depth, makerSide, ops) => run(productCount, depth, makerSide, ops),
    ), { numRuns: 300 });
  });

  it('a message whose snapshot repeats recent trades delivers only the new ones, in the order they happened', () => {
    const got: Trade[] = [];
    const sink: ConnectorSink = { book: () => true, trade: (t) => got.push(t) > 0, resyncing: () => undefined, malformed: () => undefined };
    const sync = new CoinbaseSync({ products: ['BTC-USD'], depth: 1, tradeSideIs: 'maker', tradeWindow: 10 }, sink, createBookUpdate(1));
    const msg = (seq: number, ids: number[]): string => JSON.stringify({
      channel: 'market_trades', timestamp: '2024-05-01T12:00:00Z', sequence_num: seq,
      events: [{ type: 'snapshot', trades: ids.map((id) => ({ trade_id: String(id), product_id: 'BTC-USD', price: '1', size: '1', side: 'SELL', time: new Date(1_714_564_800_000 + id).toISOString() })) }],
    });
    sync.onText(msg(0, [9, 10, 8]));
    sync.onText(msg(1, [11, 10, 9]));
    expect(got.map((t) => [t.tradeId, t.side, t.symbol])).toEqual([['8', 'buy', 'COINBASE.BTC-USD'], ['9', 'buy', 'COINBASE.BTC-USD'], ['10', 'buy', 'COINBASE.BTC-USD'], ['11', 'buy', 'COINBASE.BTC-USD']]);
  });
});

describe('TradeWindow', () => {
  it('remembers exactly the last `capacity` distinct ids', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (capacity, ids) => {
      const w = new TradeWindow(capacity);
      const model: string[] = [];
      for (const n of ids) {
        const id = String(n);
        expect(w.add(id)).toBe(!model.includes(id));
        if (!model.includes(id)) {
          model.push(id);
          if (model.length > capacity) model.shift();
        }
      }
    }));
  });
});
