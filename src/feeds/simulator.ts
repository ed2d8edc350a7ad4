// The built-in market simulator: seeded, reproducible order-book snapshots for any set of symbols.
//
// Each symbol's best bid follows a mean-reverting random walk in whole ticks; the spread is
// 1-3 ticks, so the book is never crossed or locked. Prices are computed as ticks / tickDen
// (tickDen an integer), which rounds to the nearest double of the decimal price, so prices
// sit exactly on the tick grid as JSON prints them. Nothing is allocated per update.
// After a snapshot is taken, a trade may print against it: a taker buy at its best ask or a
// taker sell at its best bid, for at most that level's size, stamped with the snapshot's time.
// Trades draw from a PRNG of their own, so the books of a seed are the same with or without them.

import { mulberry32 } from './prng.js';
import {
  createBookUpdate, createTradeUpdate, KIND_SNAPSHOT, type BookUpdate, type Feed, type FeedSink, type TradeUpdate,
} from './types.js';

export interface SimulatorOptions {
  symbols: string[];
  /** Updates per second, per symbol. */
  updatesPerSecond: number;
  /** Levels per side in every snapshot. */
  depth: number;
  /** PRNG seed; default 1, so two runs with the same options produce the same updates. */
  seed?: number;
  /** Timer period; default 10 ms. */
  tickIntervalMs?: number;
  /** Chance (0-1) that a trade prints after a snapshot is taken; default 0.25, 0: no trades. */
  tradesPerUpdate?: number;
}

export const DEFAULT_SYMBOLS: readonly string[] = Object.freeze([
  'US.AAPL', 'US.MSFT', 'US.NVDA', 'US.GOOGL', 'US.AMZN', 'US.META', 'US.TSLA', 'US.JPM', 'US.V',
  'US.NFLX', 'US.AMD',
  'BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD', 'DOGE-USD', 'ADA-USD', 'AVAX-USD', 'LTC-USD', 'BNB-USD',
]);

const KNOWN_MIDS: Readonly<Record<string, number>> = {
  'US.AAPL': 190, 'US.MSFT': 420, 'US.NVDA': 130, 'US.GOOGL': 170, 'US.AMZN': 185, 'US.META': 500,
  'US.TSLA': 250, 'US.JPM': 200, 'US.V': 280, 'US.NFLX': 650, 'US.AMD': 160, 'US.INTC': 30,
  'BTC-USD': 90000, 'ETH-USD': 3200, 'SOL-USD': 150, 'XRP-USD': 0.6, 'DOGE-USD': 0.15,
  'ADA-USD': 0.45, 'AVAX-USD': 35, 'LTC-USD': 80, 'BNB-USD': 600, 'LINK-USD': 15,
};

/** Catch-up after a stalled event loop is capped, so a pause does not turn into a burst. */
const MAX_CATCH_UP_MS = 100;
/** Notional of an average top-of-book level, in quote currency: sets the size scale. */
const LEVEL_NOTIONAL = 50_000;
/** The walk is pulled back toward the start price; at this relative distance the pull is strongest. */
const REVERSION_BAND = 0.05;
/** Mixed into the seed for the trades' PRNG, so it does not replay the books' draws. */
const TRADE_SEED_MIX = 0x9e3779b9;

let lastRunMs = 0;
/**
 * A simulator's run id: its start time in ms, base 36, one more than the last in this process
 * if the clock has not moved. Trade ids are `<run id>-<counter>`: a restarted process starts
 * later, so its ids never repeat an earlier run's (the stores keep trades across restarts).
 */
function nextRunId(): string {
  lastRunMs = Math.max(Date.now(), lastRunMs + 1);
  return lastRunMs.toString(36);
}

/** Tick size as 1 / tickDen: 0.5 for BTC-like prices, 0.01 for stocks, finer below 1. */
export function tickDenFor(price: number): number {
  if (price >= 10_000) return 2;
  if (price >= 1_000) return 20;
  if (price >= 1) return 100;
  return 10_000;
}

/** Start price: the table for well-known names, else 10..500 from an FNV-1a hash of the name. */
export function initialMid(symbol: string): number {
  const known = KNOWN_MIDS[symbol];
  if (known !== undefined) return known;
  let h = 0x811c9dc5;
  for (let i = 0; i < symbol.length; i++) h = Math.imul(h ^ symbol.charCodeAt(i), 0x01000193);
  return 10 + ((h >>> 0) % 49_001) / 100;
}

export class SimulatorFeed implements Feed {
  readonly name = 'simulator';
  readonly symbols: readonly string[];
  private readonly depth: number;
  private readonly rate: number;
  private readonly intervalMs: number;
  private readonly update: BookUpdate;
  private readonly tickDen: Float64Array; // price = ticks / tickDen
  private readonly startTicks: Float64Array;
  private readonly bidTicks: Float64Array; // current best bid, in ticks
  private readonly stepTicks: Float64Array; // largest move per update
  private readonly sizeDen: Float64Array; // sizes are rounded to 1 / sizeDen
  private readonly sizeScale: Float64Array;
  private rngState: number;
  private readonly tradeChance: number;
  private readonly tradeRandom: () => number;
  private readonly trade: TradeUpdate;
  private readonly runId: string;
  private tradeSerial = 0;
  /** Symbol of the snapshot generateOne last returned (-1: none since the last trade drew on it). */
  private lastSymbol = -1;
  private tradesGeneratedCount = 0;
  private tradesOfferedCount = 0;
  private tradesDroppedCount = 0;
  private sink: FeedSink | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastMs = 0;
  private owed = 0; // fractional updates per symbol carried to the next tick
  private generatedCount = 0;
  private offeredCount = 0;
  private droppedCount = 0;

  constructor(options: SimulatorOptions) {
    const { symbols, updatesPerSecond, depth, seed = 1, tickIntervalMs = 10, tradesPerUpdate = 0.25 } = options;
    if (!Array.isArray(symbols) || symbols.length === 0) throw new RangeError('symbols must list at least one symbol');
    if (!Number.isFinite(updatesPerSecond) || updatesPerSecond < 0) {
      throw new RangeError(`updatesPerSecond must be a finite number >= 0, got ${updatesPerSecond}`);
    }
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`depth must be an integer >= 1, got ${depth}`);
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    if (!(tickIntervalMs > 0)) throw new RangeError(`tickIntervalMs must be > 0, got ${tickIntervalMs}`);
    if (!(tradesPerUpdate >= 0 && tradesPerUpdate <= 1)) throw new RangeError(`tradesPerUpdate must be between 0 and 1, got ${tradesPerUpdate}`);
    this.symbols = Object.freeze(symbols.slice());
    this.depth = depth;
    this.rate = updatesPerSecond;
    this.intervalMs = tickIntervalMs;
    this.update = createBookUpdate(depth);
    this.update.kind = KIND_SNAPSHOT;
    this.rngState = seed >>> 0;
    this.tradeChance = tradesPerUpdate;
    this.tradeRandom = mulberry32((seed ^ TRADE_SEED_MIX) >>> 0);
    this.trade = createTradeUpdate();
    this.runId = nextRunId();
    const n = symbols.length;
    this.tickDen = new Float64Array(n);
    this.startTicks = new Float64Array(n);
    this.bidTicks = new Float64Array(n);
    this.stepTicks = new Float64Array(n);
    this.sizeDen = new Float64Array(n);
    this.sizeScale = new Float64Array(n);
    for (let s = 0; s < n; s++) {
      const mid = initialMid(symbols[s]);
      const den = tickDenFor(mid);
      this.tickDen[s] = den;
      // Far enough above zero that `depth` levels with gaps still have positive prices.
      this.startTicks[s] = Math.max(Math.round(mid * den), 8 * depth + 8);
      this.bidTicks[s] = this.startTicks[s];
      this.stepTicks[s] = Math.max(1, Math.round(mid * den * 0.00005));
      this.sizeDen[s] = mid >= 1_000 ? 1_000 : 1; // fractional coins, whole shares
      this.sizeScale[s] = LEVEL_NOTIONAL / mid;
    }
    this.onTick = this.onTick.bind(this);
  }

  get generated(): number { return this.generatedCount; }
  get offered(): number { return this.offeredCount; }
  /** Updates the sink refused (queue full); the simulator never retries, the next snapshot supersedes. */
  get dropped(): number { return this.droppedCount; }
  get tradesGenerated(): number { return this.tradesGeneratedCount; }
  get tradesOffered(): number { return this.tradesOfferedCount; }
  /** Trades the sink refused (queue full); like books, never retried. */
  get tradesDropped(): number { return this.tradesDroppedCount; }

  /** Shown in /stats beside the router's counters. */
  stats(): Record<string, number> {
    return { simulatorTradesOffered: this.tradesOfferedCount, simulatorTradesDropped: this.tradesDroppedCount };
  }

  start(sink: FeedSink): void {
    if (this.timer !== null) throw new Error('simulator already started');
    this.sink = sink;
    this.lastMs = performance.now();
    this.owed = 0;
    this.timer = setInterval(this.onTick, this.intervalMs);
  }

  async stop(): Promise<void> {
    // Offers happen only inside onTick, synchronously: once the timer is cleared none follow.
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sink = null;
  }

  /**
   * Advances symbol `symbolIndex` one step and returns its new snapshot, without timers or a
   * sink: for benchmarks and tests that drive the simulator synchronously. The returned
   * BookUpdate is reused: it is valid until the next call.
   */
  generateOne(symbolIndex: number): BookUpdate {
    const s = symbolIndex;
    const u = this.update;
    const den = this.tickDen[s];
    let bid = this.walk(s);
    const r = this.random();
    const spread = r < 0.6 ? 1 : r < 0.9 ? 2 : 3;
    let ask = bid + spread;
    const scale = this.sizeScale[s];
    const sizeDen = this.sizeDen[s];
    let bids = 0;
    for (let i = 0; i < this.depth && bid >= 1; i++) {
      u.bidPx[i] = bid / den;
      u.bidSz[i] = this.size(scale, sizeDen, i);
      bids++;
      bid -= this.random() < 0.1 ? 2 : 1; // an occasional empty price, as real books have
    }
    for (let i = 0; i < this.depth; i++) {
      u.askPx[i] = ask / den;
      u.askSz[i] = this.size(scale, sizeDen, i);
      ask += this.random() < 0.1 ? 2 : 1;
    }
    u.symbol = this.symbols[s];
    u.kind = KIND_SNAPSHOT;
    // Wall-clock time with microseconds (frames then carry them, see encodeRecord): feed→client
    // latency below a millisecond cannot be measured from a whole-millisecond timestamp.
    u.exchangeTs = Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
    u.bidCount = bids;
    u.askCount = this.depth;
    this.generatedCount++;
    this.lastSymbol = s;
    return u;
  }

  /**
   * With chance `tradesPerUpdate`, a trade against the snapshot generateOne(symbolIndex) just
   * returned (call it right after; at most once per snapshot), else undefined. The returned
   * TradeUpdate is reused: it is valid until the next call.
   */
  generateTrade(symbolIndex: number): TradeUpdate | undefined {
    if (symbolIndex !== this.lastSymbol) throw new Error(`generateTrade(${symbolIndex}) must follow generateOne(${symbolIndex})`);
    this.lastSymbol = -1;
    if (this.tradeChance === 0 || this.tradeRandom() >= this.tradeChance) return undefined;
    const u = this.update;
    const t = this.trade;
    const buy = this.tradeRandom() < 0.5;
    const levelSize = buy ? u.askSz[0] : u.bidSz[0];
    // Sizes are whole multiples of 1 / sizeDen: draw 1 … the level's multiples, small ones likelier.
    const sizeDen = this.sizeDen[symbolIndex];
    const r = this.tradeRandom();
    t.symbol = u.symbol;
    t.tradeId = `${this.runId}-${++this.tradeSerial}`;
    t.side = buy ? 'buy' : 'sell';
    t.price = buy ? u.askPx[0] : u.bidPx[0];
    t.size = (1 + Math.floor(r * r * Math.round(levelSize * sizeDen))) / sizeDen;
    t.exchangeTs = u.exchangeTs;
    this.tradesGeneratedCount++;
    return t;
  }

  private onTick(): void {
    const sink = this.sink;
    if (sink === null) return;
    const now = performance.now();
    const elapsed = Math.min(now - this.lastMs, MAX_CATCH_UP_MS);
    this.lastMs = now;
    this.owed += (this.rate * elapsed) / 1000;
    const rounds = Math.floor(this.owed);
    this.owed -= rounds;
    // Round-robin across symbols, as interleaved venues would deliver them.
    for (let k = 0; k < rounds; k++) {
      for (let s = 0; s < this.symbols.length; s++) {
        this.offeredCount++;
        if (!sink.offer(this.generateOne(s))) {
          this.droppedCount++;
          continue; // a trade prints only against a book the sink took
        }
        if (sink.trade === undefined) continue;
        const t = this.generateTrade(s);
        if (t === undefined) continue;
        this.tradesOfferedCount++;
        if (!sink.trade(t)) this.tradesDroppedCount++;
      }
    }
  }

  /** Moves the best bid by up to stepTicks, biased back toward the start price; returns it. */
  private walk(s: number): number {
    const start = this.startTicks[s];
    let bid = this.bidTicks[s];
    const r = this.random();
    if (r < 0.4) { // most updates change sizes only
      const away = Math.max(-1, Math.min(1, (bid - start) / (start * REVERSION_BAND)));
      const up = this.random() < 0.5 - 0.25 * away;
      const step = 1 + Math.floor(this.random() * this.stepTicks[s]);
      bid += up ? step : -step;
      if (bid < start / 4) bid = Math.ceil(start / 4);
      this.bidTicks[s] = bid;
    }
    return bid;
  }

  /** A positive size, rounded to 1 / sizeDen, growing on average with distance from the top. */
  private size(scale: number, sizeDen: number, level: number): number {
    const raw = scale * (1 + 0.3 * level) * (0.3 + 1.4 * this.random());
    return Math.max(1, Math.round(raw * sizeDen)) / sizeDen;
  }

  /** mulberry32: tiny, fast, and good enough for a simulator; state is one u32. */
  private random(): number {
    let t = (this.rngState = (this.rngState + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
