// The book and sequence state machine of one Coinbase connection: pure (no sockets, no timers), fed one message at a time.
//
// Coinbase numbers every message of a connection, whatever its channel, with `sequence_num`, one
// more than the message before; the docs' examples number a connection from 0. A number above the
// expected one means messages were dropped, and since the number is per connection, not per
// product, nobody can tell which product lost an update: every live symbol of the connection is
// resyncing('gap') and the caller re-subscribes level2 (unsubscribe + subscribe), which answers
// with a fresh snapshot per product. Updates still in flight from the old subscription arrive
// before that snapshot and are dropped, because the symbol is not live. A number below the expected
// one is a late or repeated message; the docs say it can be ignored.
//
// After a snapshot, and after every message whose updates change a live symbol's top `depth`, the
// top N go to the sink as one KIND_SNAPSHOT BookUpdate stamped with the message's sequence_num.

import { TradeWindow } from '../trade-window.js';
import type { ConnectorSink, Trade } from '../connector.js';
import { ExchangeBook } from '../exchange-book.js';
import { KIND_SNAPSHOT, type BookUpdate } from '../types.js';
import { CH_L2, CH_TRADES, CoinbaseDecoder, servedName, SIDE_BID, type Decoded, type L2Event, type LevelBuffer, type WireTrade } from './messages.js';

/** Action bits returned by `onMessage`: what the connection must re-subscribe. */
export const RESUBSCRIBE_BOOKS = 1;
export const RESUBSCRIBE_TRADES = 2;

export interface CoinbaseSyncOptions {
  /** Coinbase product ids of this connection: `BTC-USD`. */
  products: readonly string[];
  /** Levels per side handed over. */
  depth: number;
  /**
   * Which party Coinbase's market_trades `side` names. Trade.side is always the taker's, so
   * 'maker' inverts it (see connector.ts for why that is the default).
   */
  tradeSideIs: 'maker' | 'taker';
  /** Trade ids remembered per symbol to drop repeats: at least a market_trades snapshot's length. */
  tradeWindow: number;
}

export interface SymbolCounters {
  resyncs: Record<string, number>;
  snapshotRequests: number;
  books: number;
  trades: number;
}

class ProductState {
  readonly served: string;
  readonly book = new ExchangeBook();
  readonly seen: TradeWindow<string>;
  readonly counters: SymbolCounters = { resyncs: {}, snapshotRequests: 0, books: 0, trades: 0 };
  live = false;
  /** The next hand-over is the first after a (re)sync. */
  reset = true;
  /** Nothing handed over yet, or the sink refused the last book: the next one goes even if unchanged. */
  owed = true;
  touched = false;
  // The last top N the sink took, to skip messages that change only levels below it.
  readonly bidPx: Float64Array;
  readonly bidSz: Float64Array;
  readonly askPx: Float64Array;
  readonly askSz: Float64Array;
  bidN = 0;
  askN = 0;

  constructor(readonly productId: string, depth: number, tradeWindow: number) {
    this.served = servedName(productId);
    this.seen = new TradeWindow(tradeWindow);
    this.bidPx = new Float64Array(depth);
    this.bidSz = new Float64Array(depth);
    this.askPx = new Float64Array(depth);
    this.askSz = new Float64Array(depth);
  }
}

function sameLevels(n: number, px: Float64Array, sz: Float64Array, m: number, qx: Float64Array, qz: Float64Array): boolean {
  if (n !== m) return false;
  for (let i = 0; i < n; i++) if (px[i] !== qx[i] || sz[i] !== qz[i]) return false;
  return true;
}

/** Trade ids are decimal strings on Coinbase: compare them as numbers without losing digits. */
function compareTrades(a: WireTrade, b: WireTrade): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const x = a.tradeId;
  const y = b.tradeId;
  if (x.length !== y.length && /^\d+$/.test(x) && /^\d+$/.test(y)) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

export class CoinbaseSync {
  private readonly products: ProductState[];
  private readonly byId = new Map<string, ProductState>();
  private readonly touched: ProductState[] = [];
  private readonly decoder = new CoinbaseDecoder();
  private readonly malformedCounts: Record<string, number> = {};
  private nextSeq = 0;

  /** `update` may be shared with other connections of the connector: the sink copies it before returning. */
  constructor(private readonly opts: CoinbaseSyncOptions, private readonly sink: ConnectorSink, private readonly update: BookUpdate) {
    this.products = opts.products.map((p) => new ProductState(p, opts.depth, opts.tradeWindow));
    for (const p of this.products) this.byId.set(p.productId, p);
  }

  /** A new connection: its messages are numbered from 0 again. */
  opened(): void {
    this.nextSeq = 0;
  }

  /** The connection is gone: nothing it said about the books holds any more. */
  lost(reason = 'reconnect'): void {
    this.resyncAll(reason);
  }

  /** The caller sent a level2 subscribe for every product: each asked for a snapshot. */
  snapshotsRequested(): void {
    for (const p of this.products) p.counters.snapshotRequests++;
  }

  /** One raw message; returns RESUBSCRIBE_* bits. Never throws on what the exchange sends. */
  onText(text: string): number {
    return this.onMessage(this.decoder.decode(text));
  }

  onMessage(msg: Decoded): number {
    switch (msg.kind) {
      case 'error':
        this.report('exchange_error', msg.message);
        return 0;
      case 'malformed': {
        this.report(msg.what, msg.detail);
        if (msg.seq < 0) return 0; // the next sequence_num shows the hole
        const action = this.sequence(msg.seq);
        if (action < 0) return 0;
        // It took its number, so no gap will show: what it may have carried is lost here.
        if (msg.channel === CH_L2) {
          this.resyncAll('malformed');
          return action | RESUBSCRIBE_BOOKS;
        }
        return msg.channel === CH_TRADES ? action | RESUBSCRIBE_TRADES : action;
      }
      default: {
        const action = this.sequence(msg.seq);
        if (action < 0) return 0;
        if (msg.kind === 'l2') this.l2(msg.events, msg.levels, msg.seq, msg.ts);
        else if (msg.kind === 'trades') this.trades(msg.trades);
        return action;
      }
    }
  }

  anyLive(): boolean {
    return this.products.some((p) => p.live);
  }

  isLive(productId: string): boolean {
    return this.byId.get(productId)?.live ?? false;
  }

  *symbols(): IterableIterator<{ served: string; live: boolean; counters: SymbolCounters }> {
    for (const p of this.products) yield { served: p.served, live: p.live, counters: p.counters };
  }

  get malformed(): Readonly<Record<string, number>> {
    return this.malformedCounts;
  }

  /** -1: a late or repeated number, to ignore; else the re-subscriptions a gap calls for. */
  private sequence(seq: number): number {
    if (seq < this.nextSeq) {
      this.report('out_of_order', `sequence_num ${seq} after ${this.nextSeq - 1}`);
      return -1;
    }
    const gap = seq > this.nextSeq;
    this.nextSeq = seq + 1;
    if (!gap) return 0;
    this.resyncAll('gap');
    // The lost message may as well have been trades: a fresh market_trades snapshot brings recent
    // ones back, and the trade window drops those already delivered.
    return RESUBSCRIBE_BOOKS | RESUBSCRIBE_TRADES;
  }

  private l2(events: readonly L2Event[], levels: LevelBuffer, seq: number, ts: number): void {
    for (const e of events) {
      const p = this.byId.get(e.productId);
      if (p === undefined) {
        this.report('unknown_product', e.productId);
        continue;
      }
      if (e.snapshot) {
        p.book.clear();
        if (!p.live) {
          p.live = true;
          p.reset = true;
        }
        // A snapshot while live (a second re-subscription's) is the truth too: no reset needed.
      } else if (!p.live) {
        continue; // an update from before the fresh snapshot
      }
      for (let i = e.from; i < e.to; i++) {
        (levels.side[i] === SIDE_BID ? p.book.bids : p.book.asks).set(levels.px[i], levels.sz[i]);
      }
      if (!p.touched) {
        p.touched = true;
        this.touched.push(p);
      }
    }
    // After the whole message: the exchange's book at `seq` includes all of its events.
    for (const p of this.touched) {
      p.touched = false;
      this.handOver(p, seq, ts);
    }
    this.touched.length = 0;
  }

  private handOver(p: ProductState, seq: number, ts: number): void {
    const u = this.update;
    const depth = this.opts.depth;
    p.book.fill(u, depth);
    if (!p.owed && !p.reset
      && sameLevels(u.bidCount, u.bidPx, u.bidSz, p.bidN, p.bidPx, p.bidSz)
      && sameLevels(u.askCount, u.askPx, u.askSz, p.askN, p.askPx, p.askSz)) {
      return; // only levels below the top N changed: nothing a subscriber sees
    }
    u.symbol = p.served;
    u.kind = KIND_SNAPSHOT;
    u.exchangeTs = ts;
    if (!this.sink.book(u, p.reset, seq)) {
      p.owed = true; // keep `reset`: the sink never saw the first book after the sync
      return;
    }
    p.reset = false;
    p.owed = false;
    p.counters.books++;
    p.bidN = u.bidCount;
    p.askN = u.askCount;
    p.bidPx.set(u.bidPx.subarray(0, u.bidCount));
    p.bidSz.set(u.bidSz.subarray(0, u.bidCount));
    p.askPx.set(u.askPx.subarray(0, u.askCount));
    p.askSz.set(u.askSz.subarray(0, u.askCount));
  }

  private trades(trades: WireTrade[]): void {
    // Coinbase lists a batch newest first; subscribers want them in the order they happened.
    if (trades.length > 1) trades.sort(compareTrades);
    const invert = this.opts.tradeSideIs === 'maker';
    for (const t of trades) {
      const p = this.byId.get(t.productId);
      if (p === undefined) {
        this.report('unknown_product', t.productId);
        continue;
      }
      if (!p.seen.add(t.tradeId)) continue;
      const buy = (t.side === 'BUY') !== invert;
      const trade: Trade = { symbol: p.served, tradeId: t.tradeId, price: t.price, size: t.size, side: buy ? 'buy' : 'sell', exchangeTs: t.ts };
      if (this.sink.trade(trade)) p.counters.trades++;
    }
  }

  private resyncAll(reason: string): void {
    for (const p of this.products) {
      if (!p.live) continue; // already said: once per loss of sync
      p.live = false;
      p.reset = true;
      p.book.clear();
      p.counters.resyncs[reason] = (p.counters.resyncs[reason] ?? 0) + 1;
      this.sink.resyncing(p.served, reason);
    }
  }

  private report(kind: string, detail: string): void {
    this.malformedCounts[kind] = (this.malformedCounts[kind] ?? 0) + 1;
    this.sink.malformed(kind, detail);
  }
}
