// One symbol's rolling 24 h ticker: per-minute buckets in a segment tree, bounded work per trade, no rescan of the window.
//
// The window is whole minutes: the current minute and the 1439 before it.
//   asOf        = the latest instant seen: the newest trade time or advance(nowMs), whichever is later
//   windowStart = bucketStart('1m', asOf) − 24 h + 1 min
//   window      = every trade with windowStart ≤ time (≤ asOf), so the ticker equals
//     SELECT … FROM trades WHERE symbol = $1 AND time >= windowStart
// and lasts between 23 h 59 min and 24 h. A trade older than windowStart when it arrives is
// ignored (`ignored` counts it); one within the window lands in its minute whatever the order,
// and open/last follow (time, seq) as in the candles.
//
// Exactness, as the candles (candle-builder.ts): open, high, low, last, trades and the trade
// times are exact; volume and change are the doubles nearest numeric's exact sum(size) and
// last − open; quoteVolume and changePercent agree with numeric to at least 12 significant
// digits. A minute that leaves the window is removed by rebuilding its path from the leaves,
// never by subtraction, so nothing drifts however long the ticker runs.
//
// Work: a trade of the current minute folds into one node and read() combines two (O(1)); a late
// trade, and each minute as it finishes or leaves, rebuilds one leaf-to-root path (11 nodes).
//
// Layout: 1440 leaves (minute mod 1440) in an implicit tree, node i = nodes 2i and 2i + 1, root 1
// (a non-power-of-two size is fine: every combine below is commutative and associative). Each
// node is NODE_FIELDS float64s; (2 × 1440 + 1) × 13 × 8 bytes ≈ 300 KB per symbol, made once.

import type { Candle } from './candle-builder.js';
import { addProduct, twoSumError } from './compensated-sum.js';
import { DECIMAL_UNITS, addDecimal, decimalDifference, decimalNumber } from './decimal-sum.js';

const MINUTE_MS = 60_000;
/** Minutes in the window: the current one and the 1439 before it. */
export const WINDOW_MINUTES = 1440;
const LEAVES = WINDOW_MINUTES;

// Node fields (float64 offsets within a node).
const N_HIGH = 0;
const N_LOW = 1;
const N_VOLUME = 2; // + 3: whole and 1e-10 units (decimal-sum.ts)
const N_QUOTE = 4; // + 5: double-double (compensated-sum.ts)
const N_TRADES = 6;
const N_FIRST_TIME = 7;
const N_FIRST_SEQ = 8;
const N_FIRST_PRICE = 9;
const N_LAST_TIME = 10;
const N_LAST_SEQ = 11;
const N_LAST_PRICE = 12;
const NODE_FIELDS = 13;

// Nodes: 1 the root of the finished minutes, LEAVES … 2·LEAVES − 1 their leaves (minute mod
// 1440), 0 the current minute (HOT, kept out of the tree: an in-order trade touches no path),
// 2·LEAVES the window (TOTAL = root ⊕ HOT, made by read()).
const HOT = 0;
const ROOT = 1;
const TOTAL = 2 * LEAVES;
const leafOf = (minute: number): number => LEAVES + (((minute % LEAVES) + LEAVES) % LEAVES);

export interface Ticker {
  /** First instant of the window (ms): windowStart ≤ time. */
  readonly windowStart: number;
  /** Latest instant seen (ms): the window's end. */
  readonly asOf: number;
  /** Price of the first trade of the window by (time, seq); NaN when the window has no trade (as are high, low, last, change, changePercent). */
  readonly open: number;
  readonly high: number;
  readonly low: number;
  /** Price of the last trade of the window by (time, seq). */
  readonly last: number;
  readonly volume: number;
  readonly quoteVolume: number;
  /** last − open. */
  readonly change: number;
  /** (last − open) / open × 100. */
  readonly changePercent: number;
  readonly trades: number;
  /** Time of the first and last trade of the window; NaN when it has none. */
  readonly firstTradeTime: number;
  readonly lastTradeTime: number;
}

/** A Ticker a reader may fill (read's and readTicker's `into`). */
export type TickerRecord = { -readonly [K in keyof Ticker]: Ticker[K] };

// ─── A ticker in a Float64Array (the integrator's shared memory) ────────────────
// Plain stores, field by field: a reader on another thread needs the store's own publication protocol.
export const T_WINDOW_START = 0;
export const T_AS_OF = 1;
export const T_OPEN = 2;
export const T_HIGH = 3;
export const T_LOW = 4;
export const T_LAST = 5;
export const T_VOLUME = 6;
export const T_QUOTE_VOLUME = 7;
export const T_CHANGE = 8;
export const T_CHANGE_PERCENT = 9;
export const T_TRADES = 10;
export const T_FIRST_TRADE_TIME = 11;
export const T_LAST_TRADE_TIME = 12;
/** Float64 slots per ticker record. */
export const TICKER_FIELDS = 13;

export function writeTicker(f64: Float64Array, base: number, t: Ticker): void {
  f64[base + T_WINDOW_START] = t.windowStart;
  f64[base + T_AS_OF] = t.asOf;
  f64[base + T_OPEN] = t.open;
  f64[base + T_HIGH] = t.high;
  f64[base + T_LOW] = t.low;
  f64[base + T_LAST] = t.last;
  f64[base + T_VOLUME] = t.volume;
  f64[base + T_QUOTE_VOLUME] = t.quoteVolume;
  f64[base + T_CHANGE] = t.change;
  f64[base + T_CHANGE_PERCENT] = t.changePercent;
  f64[base + T_TRADES] = t.trades;
  f64[base + T_FIRST_TRADE_TIME] = t.firstTradeTime;
  f64[base + T_LAST_TRADE_TIME] = t.lastTradeTime;
}

export function readTicker(f64: Float64Array, base: number, into?: TickerRecord): Ticker {
  const t = into ?? ({} as TickerRecord);
  t.windowStart = f64[base + T_WINDOW_START];
  t.asOf = f64[base + T_AS_OF];
  t.open = f64[base + T_OPEN];
  t.high = f64[base + T_HIGH];
  t.low = f64[base + T_LOW];
  t.last = f64[base + T_LAST];
  t.volume = f64[base + T_VOLUME];
  t.quoteVolume = f64[base + T_QUOTE_VOLUME];
  t.change = f64[base + T_CHANGE];
  t.changePercent = f64[base + T_CHANGE_PERCENT];
  t.trades = f64[base + T_TRADES];
  t.firstTradeTime = f64[base + T_FIRST_TRADE_TIME];
  t.lastTradeTime = f64[base + T_LAST_TRADE_TIME];
  return t;
}

export class RollingTicker {
  /** Trades ignored for being older than the window when they arrived (or without a finite time). */
  ignored = 0;
  private readonly nodes = new Float64Array((TOTAL + 1) * NODE_FIELDS);
  private asOfMs = -Infinity;
  /** The current minute (floor(asOf / 1 min)); the window holds minutes minute − 1439 … minute. */
  private minute = -Infinity;

  constructor() {
    this.clearAll();
  }

  /** First instant of the window; −Infinity before anything was seen. */
  get windowStart(): number {
    return (this.minute - (WINDOW_MINUTES - 1)) * MINUTE_MS;
  }

  get asOf(): number {
    return this.asOfMs;
  }

  /** Folds a trade into its minute; false when it is older than the window (ignored). */
  add(timeMs: number, seq: number, price: number, size: number): boolean {
    if (timeMs > this.asOfMs) this.advance(timeMs);
    if (!(timeMs >= this.windowStart) || !Number.isFinite(timeMs)) {
      this.ignored += 1;
      return false;
    }
    const minute = Math.floor(timeMs / MINUTE_MS);
    if (minute === this.minute) {
      this.fold(HOT, timeMs, seq, price, size); // the usual case: no path to rebuild
      return true;
    }
    const leaf = leafOf(minute);
    this.fold(leaf, timeMs, seq, price, size);
    this.rebuildPath(leaf);
    return true;
  }

  /**
   * Moves the window to nowMs (the wall clock) when it is later than anything seen; minutes
   * leaving the window are emptied. Returns true when the window start moved.
   */
  advance(nowMs: number): boolean {
    if (!(nowMs > this.asOfMs)) return false;
    this.asOfMs = nowMs;
    const minute = Math.floor(nowMs / MINUTE_MS);
    if (minute === this.minute) return false;
    const leavingFrom = this.minute - (WINDOW_MINUTES - 1);
    const leavingTo = minute - (WINDOW_MINUTES - 1); // exclusive
    if (!(leavingTo - leavingFrom < LEAVES)) {
      this.clearAll(); // a day or more without anything: no minute stays
    } else {
      // The finished minute joins the tree (its leaf is empty: that minute of yesterday has left).
      const done = leafOf(this.minute);
      this.nodes.copyWithin(done * NODE_FIELDS, HOT * NODE_FIELDS, (HOT + 1) * NODE_FIELDS);
      this.rebuildPath(done);
      this.clearNode(HOT);
      for (let m = leavingFrom; m < leavingTo; m++) {
        const leaf = leafOf(m);
        if (this.nodes[leaf * NODE_FIELDS + N_TRADES] === 0) continue;
        this.clearNode(leaf);
        this.rebuildPath(leaf);
      }
    }
    this.minute = minute;
    return true;
  }

  /**
   * Folds a whole minute's trades at once, from their 1m candle (start, open/close with the first and
   * last trade's time and seq, high, low, volume, quote volume, trades): how a restarted process or
   * shard rebuilds the window from candles. False when the minute is older than the window.
   */
  addMinute(c: Candle): boolean {
    if (!(c.trades > 0) || !Number.isFinite(c.lastTime)) return false;
    if (c.lastTime > this.asOfMs) this.advance(c.lastTime);
    if (!(c.start >= this.windowStart)) return false;
    const minute = Math.floor(c.start / MINUTE_MS);
    const i = minute === this.minute ? HOT : leafOf(minute);
    const n = this.nodes;
    const b = i * NODE_FIELDS;
    if (c.high > n[b + N_HIGH]) n[b + N_HIGH] = c.high;
    if (c.low < n[b + N_LOW]) n[b + N_LOW] = c.low;
    if (c.firstTime < n[b + N_FIRST_TIME] || (c.firstTime === n[b + N_FIRST_TIME] && c.firstSeq < n[b + N_FIRST_SEQ])) {
      n[b + N_FIRST_TIME] = c.firstTime;
      n[b + N_FIRST_SEQ] = c.firstSeq;
      n[b + N_FIRST_PRICE] = c.open;
    }
    if (c.lastTime > n[b + N_LAST_TIME] || (c.lastTime === n[b + N_LAST_TIME] && c.lastSeq > n[b + N_LAST_SEQ])) {
      n[b + N_LAST_TIME] = c.lastTime;
      n[b + N_LAST_SEQ] = c.lastSeq;
      n[b + N_LAST_PRICE] = c.close;
    }
    n[b + N_TRADES] += c.trades;
    addDecimal(n, b + N_VOLUME, c.volume);
    addProduct(n, b + N_QUOTE, c.quoteVolume, 1);
    if (i !== HOT) this.rebuildPath(i);
    return true;
  }

  /** The ticker now, into `into` when given (no allocation on the hot path). */
  read(into?: TickerRecord): Ticker {
    const t = into ?? ({} as TickerRecord);
    const n = this.nodes;
    this.combine(TOTAL, ROOT, HOT);
    const r = TOTAL * NODE_FIELDS;
    const trades = n[r + N_TRADES];
    t.windowStart = this.windowStart;
    t.asOf = this.asOfMs;
    t.trades = trades;
    t.volume = decimalNumber(n[r + N_VOLUME], n[r + N_VOLUME + 1]);
    t.quoteVolume = n[r + N_QUOTE];
    if (trades === 0) {
      t.open = t.high = t.low = t.last = t.change = t.changePercent = NaN;
      t.firstTradeTime = t.lastTradeTime = NaN;
      return t;
    }
    t.open = n[r + N_FIRST_PRICE];
    t.high = n[r + N_HIGH];
    t.low = n[r + N_LOW];
    t.last = n[r + N_LAST_PRICE];
    t.change = decimalDifference(t.last, t.open);
    t.changePercent = (t.change / t.open) * 100;
    t.firstTradeTime = n[r + N_FIRST_TIME];
    t.lastTradeTime = n[r + N_LAST_TIME];
    return t;
  }

  /** Folds one trade into node `i` (a leaf or HOT). */
  private fold(i: number, timeMs: number, seq: number, price: number, size: number): void {
    const n = this.nodes;
    const b = i * NODE_FIELDS;
    if (price > n[b + N_HIGH]) n[b + N_HIGH] = price;
    if (price < n[b + N_LOW]) n[b + N_LOW] = price;
    if (timeMs < n[b + N_FIRST_TIME] || (timeMs === n[b + N_FIRST_TIME] && seq < n[b + N_FIRST_SEQ])) {
      n[b + N_FIRST_TIME] = timeMs;
      n[b + N_FIRST_SEQ] = seq;
      n[b + N_FIRST_PRICE] = price;
    }
    if (timeMs > n[b + N_LAST_TIME] || (timeMs === n[b + N_LAST_TIME] && seq > n[b + N_LAST_SEQ])) {
      n[b + N_LAST_TIME] = timeMs;
      n[b + N_LAST_SEQ] = seq;
      n[b + N_LAST_PRICE] = price;
    }
    n[b + N_TRADES] += 1;
    addDecimal(n, b + N_VOLUME, size);
    addProduct(n, b + N_QUOTE, price, size);
  }

  /** Recombines every ancestor of `leaf`, bottom up: at most 11 nodes. */
  private rebuildPath(leaf: number): void {
    for (let i = leaf >> 1; i >= ROOT; i >>= 1) this.combine(i, 2 * i, 2 * i + 1);
  }

  /** node dst = node x ⊕ node y. */
  private combine(dst: number, x: number, y: number): void {
    const n = this.nodes;
    const d = dst * NODE_FIELDS;
    const a = x * NODE_FIELDS;
    const b = y * NODE_FIELDS;
    n[d + N_HIGH] = n[a + N_HIGH] >= n[b + N_HIGH] ? n[a + N_HIGH] : n[b + N_HIGH];
    n[d + N_LOW] = n[a + N_LOW] <= n[b + N_LOW] ? n[a + N_LOW] : n[b + N_LOW];
    n[d + N_TRADES] = n[a + N_TRADES] + n[b + N_TRADES];
    // Volume: integers, exact.
    let units = n[a + N_VOLUME + 1] + n[b + N_VOLUME + 1];
    let whole = n[a + N_VOLUME] + n[b + N_VOLUME];
    if (units >= DECIMAL_UNITS) {
      units -= DECIMAL_UNITS;
      whole += 1;
    }
    n[d + N_VOLUME] = whole;
    n[d + N_VOLUME + 1] = units;
    // Quote volume: double-double sum, renormalized.
    const s = n[a + N_QUOTE] + n[b + N_QUOTE];
    const e = n[a + N_QUOTE + 1] + n[b + N_QUOTE + 1] + twoSumError(n[a + N_QUOTE], n[b + N_QUOTE], s);
    const q = s + e;
    n[d + N_QUOTE] = q;
    n[d + N_QUOTE + 1] = twoSumError(s, e, q);
    // First and last by (time, seq); an empty side has first +∞ and last −∞.
    const firstFromA = n[a + N_FIRST_TIME] < n[b + N_FIRST_TIME]
      || (n[a + N_FIRST_TIME] === n[b + N_FIRST_TIME] && n[a + N_FIRST_SEQ] <= n[b + N_FIRST_SEQ]);
    const f = firstFromA ? a : b;
    n[d + N_FIRST_TIME] = n[f + N_FIRST_TIME];
    n[d + N_FIRST_SEQ] = n[f + N_FIRST_SEQ];
    n[d + N_FIRST_PRICE] = n[f + N_FIRST_PRICE];
    const lastFromA = n[a + N_LAST_TIME] > n[b + N_LAST_TIME]
      || (n[a + N_LAST_TIME] === n[b + N_LAST_TIME] && n[a + N_LAST_SEQ] >= n[b + N_LAST_SEQ]);
    const l = lastFromA ? a : b;
    n[d + N_LAST_TIME] = n[l + N_LAST_TIME];
    n[d + N_LAST_SEQ] = n[l + N_LAST_SEQ];
    n[d + N_LAST_PRICE] = n[l + N_LAST_PRICE];
  }

  /** The empty node: the identity of combine. */
  private clearNode(i: number): void {
    const n = this.nodes;
    const d = i * NODE_FIELDS;
    n[d + N_HIGH] = -Infinity;
    n[d + N_LOW] = Infinity;
    n[d + N_VOLUME] = 0;
    n[d + N_VOLUME + 1] = 0;
    n[d + N_QUOTE] = 0;
    n[d + N_QUOTE + 1] = 0;
    n[d + N_TRADES] = 0;
    n[d + N_FIRST_TIME] = Infinity;
    n[d + N_FIRST_SEQ] = Infinity;
    n[d + N_FIRST_PRICE] = NaN;
    n[d + N_LAST_TIME] = -Infinity;
    n[d + N_LAST_SEQ] = -Infinity;
    n[d + N_LAST_PRICE] = NaN;
  }

  private clearAll(): void {
    for (let i = 0; i <= TOTAL; i++) this.clearNode(i);
  }
}
