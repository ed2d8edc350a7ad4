// One symbol's OHLCV candles of one interval, built trade by trade: the open candle and the last `keep` closed ones.
//
// A candle equals the SQL recomputation over the stored trades of its bucket:
//   open/close = price of the first/last trade by (time, seq), high/low = max/min(price),
//   volume = sum(size), quoteVolume = sum(price·size), trades = count(*), vwap = quoteVolume/volume.
// open, high, low, close, trades and the first/last (time, seq) are exact; volume is the double
// nearest numeric's exact sum (decimal-sum.ts: sizes of at most 10 places, recovered exactly
// from their doubles); quoteVolume carries every product's and addition's rounding error
// (compensated-sum.ts) and is within a few ulps of the exact sum, so quoteVolume and vwap agree
// with numeric to at least 12 significant digits (about 15 in practice).
//
// Arrival order: trades normally come in time order. A trade of an earlier bucket is folded
// into its candle while the builder still holds it (closed or not), and creates that candle if
// the bucket had none; equal times are ordered by seq. A trade older than every held candle,
// once `keep` closed candles are held, is dropped and counted (`dropped`): the candle it belongs
// to has left the builder. Empty buckets have no candle, as GROUP BY over trades has no row.
// Each trade must be folded once: a replayed trade would count twice.
//
// Memory: keep + 2 candle objects made at construction and reused (a ring of closed candles, the
// open one, a spare): no allocation per trade (a new 1d bucket asks Intl for its midnight, once a
// day). A reported candle is live: copy it (writeCandle) before the next call, after which it may
// be recycled for another bucket.

import { addProduct } from './compensated-sum.js';
import { addDecimal, decimalNumber } from './decimal-sum.js';
import { type Interval, bucketEnd, bucketStart, isInterval } from './intervals.js';

export interface Candle {
  /** Bucket start and end (exclusive), ms since epoch. */
  readonly start: number;
  readonly end: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly quoteVolume: number;
  readonly trades: number;
  /** quoteVolume / volume; NaN when every size was 0 (SQL divides by zero). */
  readonly vwap: number;
  /** Set when a later bucket began or closeDue passed end + grace; a late trade may still change a closed candle. */
  readonly closed: boolean;
  /** (time, seq) of the trades that set open and close. */
  readonly firstTime: number;
  readonly firstSeq: number;
  readonly lastTime: number;
  readonly lastSeq: number;
}

/** A Candle a reader may fill (readCandle's `into`). */
export type CandleRecord = { -readonly [K in keyof Candle]: Candle[K] };

// ─── A candle in a Float64Array (the integrator's shared rings) ─────────────────
//
//   f64 base+0      1     2     3    4      5       6            7       8     9       10…13                 14
//   ┌───────────┬──────┬─────┬─────┬──────┬───────┬─────────────┬────────┬──────┬───────┬──────────────────────┬─────┐
//   │ start     │ open │high │ low │close │volume │ quoteVolume │ trades │ vwap │closed │ first/last time, seq │ end │
//   └───────────┴──────┴─────┴─────┴──────┴───────┴─────────────┴────────┴──────┴───────┴──────────────────────┴─────┘
// Plain stores, field by field: a reader on another thread needs the ring's own publication
// protocol (a sequence word around the record) to never see half a candle.
export const C_START = 0;
export const C_OPEN = 1;
export const C_HIGH = 2;
export const C_LOW = 3;
export const C_CLOSE = 4;
export const C_VOLUME = 5;
export const C_QUOTE_VOLUME = 6;
export const C_TRADES = 7;
export const C_VWAP = 8;
export const C_CLOSED = 9; // 1 closed, 0 open
export const C_FIRST_TIME = 10;
export const C_FIRST_SEQ = 11;
export const C_LAST_TIME = 12;
export const C_LAST_SEQ = 13;
export const C_END = 14;
/** Float64 slots per candle record. */
export const CANDLE_FIELDS = 15;

export function writeCandle(f64: Float64Array, base: number, c: Candle): void {
  f64[base + C_START] = c.start;
  f64[base + C_OPEN] = c.open;
  f64[base + C_HIGH] = c.high;
  f64[base + C_LOW] = c.low;
  f64[base + C_CLOSE] = c.close;
  f64[base + C_VOLUME] = c.volume;
  f64[base + C_QUOTE_VOLUME] = c.quoteVolume;
  f64[base + C_TRADES] = c.trades;
  f64[base + C_VWAP] = c.vwap;
  f64[base + C_CLOSED] = c.closed ? 1 : 0;
  f64[base + C_FIRST_TIME] = c.firstTime;
  f64[base + C_FIRST_SEQ] = c.firstSeq;
  f64[base + C_LAST_TIME] = c.lastTime;
  f64[base + C_LAST_SEQ] = c.lastSeq;
  f64[base + C_END] = c.end;
}

/** The candle at `base`, into `into` when given (a reader polling a ring need not allocate). */
export function readCandle(f64: Float64Array, base: number, into?: CandleRecord): Candle {
  const c = into ?? ({} as CandleRecord);
  c.start = f64[base + C_START];
  c.end = f64[base + C_END];
  c.open = f64[base + C_OPEN];
  c.high = f64[base + C_HIGH];
  c.low = f64[base + C_LOW];
  c.close = f64[base + C_CLOSE];
  c.volume = f64[base + C_VOLUME];
  c.quoteVolume = f64[base + C_QUOTE_VOLUME];
  c.trades = f64[base + C_TRADES];
  c.vwap = f64[base + C_VWAP];
  c.closed = f64[base + C_CLOSED] === 1;
  c.firstTime = f64[base + C_FIRST_TIME];
  c.firstSeq = f64[base + C_FIRST_SEQ];
  c.lastTime = f64[base + C_LAST_TIME];
  c.lastSeq = f64[base + C_LAST_SEQ];
  return c;
}

// ─── What add() did: one "where" bit, plus BEGAN / CLOSED ───────────────────────
/** Folded into the open candle. */
export const ADD_OPEN = 1;
/** Folded into an earlier candle the builder still holds (`changed`; usually closed already). */
export const ADD_LATE = 2;
/** Older than every held candle: nothing changed, `dropped` counts it. */
export const ADD_DROPPED = 4;
/** The trade is the first of its bucket: `changed` is a new candle. */
export const ADD_BEGAN = 8;
/** A later bucket began: the open candle closed (`closedCandle`), before this trade's candle began. */
export const ADD_CLOSED = 16;

export interface CandleBuilderOptions {
  interval: Interval;
  /** MARKET_TIMEZONE: where a `1d` bucket starts (00:00 local). */
  timeZone: string;
  /** Closed candles held for late trades (≥ 0). */
  keep: number;
  /** closeDue closes the open candle once now ≥ its end + graceMs (≥ 0). */
  graceMs: number;
}

/** Mutable inside the builder, read-only (Candle) outside. */
class Slot implements Candle {
  start = 0;
  end = 0;
  open = NaN;
  high = NaN;
  low = NaN;
  close = NaN;
  volume = 0;
  quoteVolume = 0;
  trades = 0;
  vwap = NaN;
  closed = false;
  firstTime = NaN;
  firstSeq = NaN;
  lastTime = NaN;
  lastSeq = NaN;
  /** [0, 1] volume as whole and 1e-10 units (exact), [2, 3] quote volume as a double-double. */
  readonly sums = new Float64Array(4);

  begin(start: number, end: number): void {
    this.start = start;
    this.end = end;
    this.trades = 0;
    this.closed = false;
    this.sums.fill(0);
  }

  fold(time: number, seq: number, price: number, size: number): void {
    if (this.trades === 0) {
      this.open = this.high = this.low = this.close = price;
      this.firstTime = this.lastTime = time;
      this.firstSeq = this.lastSeq = seq;
    } else {
      if (price > this.high) this.high = price;
      if (price < this.low) this.low = price;
      if (time < this.firstTime || (time === this.firstTime && seq < this.firstSeq)) {
        this.firstTime = time;
        this.firstSeq = seq;
        this.open = price;
      }
      if (time > this.lastTime || (time === this.lastTime && seq > this.lastSeq)) {
        this.lastTime = time;
        this.lastSeq = seq;
        this.close = price;
      }
    }
    this.trades += 1;
    addDecimal(this.sums, 0, size);
    addProduct(this.sums, 2, price, size);
    this.volume = decimalNumber(this.sums[0], this.sums[1]);
    this.quoteVolume = this.sums[2];
    this.vwap = this.volume > 0 ? this.quoteVolume / this.volume : NaN;
  }
}

export class CandleBuilder {
  readonly interval: Interval;
  readonly timeZone: string;
  readonly keep: number;
  readonly graceMs: number;
  /** The candle the last call folded a trade into, or null. */
  changed: Candle | null = null;
  /** The candle the last call closed, or null. */
  closedCandle: Candle | null = null;
  /** Trades dropped for being older than every held candle (or without a finite time). */
  dropped = 0;

  private current: Slot | null = null;
  /** Closed candles, oldest first from `head`; circular, `count` of `keep` used. */
  private readonly ring: Slot[];
  private head = 0;
  private count = 0;
  private readonly free: Slot[];
  private freeCount: number;
  /** End of the newest bucket ever begun: a trade before it is late even when its candle has gone. */
  private frontier = -Infinity;

  constructor(options: CandleBuilderOptions) {
    const { interval, timeZone, keep, graceMs } = options;
    if (!isInterval(interval)) throw new RangeError(`interval must be one of 1s, 1m, 5m, 15m, 1h, 4h, 1d, got ${String(interval)}`);
    if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`keep must be an integer >= 0, got ${keep}`);
    if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError(`graceMs must be a finite number >= 0, got ${graceMs}`);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone });
    } catch {
      throw new RangeError(`timeZone must be an IANA time zone (MARKET_TIMEZONE), got ${timeZone}`);
    }
    this.interval = interval;
    this.timeZone = timeZone;
    this.keep = keep;
    this.graceMs = graceMs;
    this.ring = new Array<Slot>(keep);
    // keep in the ring + the open one + a spare: a candle just closed stays readable while the next one begins.
    this.free = Array.from({ length: keep + 2 }, () => new Slot());
    this.freeCount = keep + 2;
  }

  /** The open candle, or null (none yet, or closed by closeDue and no later trade since). */
  get open(): Candle | null {
    return this.current;
  }

  /** Candles held: the closed ones, then the open one. */
  get size(): number {
    return this.count + (this.current === null ? 0 : 1);
  }

  /** The i-th held candle, oldest first (0 ≤ i < size). */
  at(i: number): Candle {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`candle index must be in [0, ${this.size}), got ${i}`);
    return i < this.count ? this.ringAt(i) : (this.current as Slot);
  }

  /** Folds one trade into its bucket's candle; returns ADD_* bits, the candle in `changed`. */
  add(timeMs: number, seq: number, price: number, size: number): number {
    this.changed = null;
    this.closedCandle = null;
    if (!Number.isFinite(timeMs)) {
      this.dropped += 1; // no bucket to put it in (the feeds refuse such trades before this)
      return ADD_DROPPED;
    }
    const open = this.current;
    if (open !== null && timeMs >= open.start && timeMs < open.end) {
      open.fold(timeMs, seq, price, size);
      this.changed = open;
      return ADD_OPEN;
    }
    if (timeMs >= this.frontier) {
      // A later bucket: take the new slot before closing, so the closed candle is not recycled.
      const slot = this.take();
      const start = bucketStart(this.interval, timeMs, this.timeZone);
      slot.begin(start, bucketEnd(this.interval, start, this.timeZone));
      slot.fold(timeMs, seq, price, size);
      this.frontier = slot.end;
      let flags = ADD_OPEN | ADD_BEGAN;
      if (open !== null) {
        this.retire(open);
        flags |= ADD_CLOSED;
      }
      this.current = slot;
      this.changed = slot;
      return flags;
    }
    return this.addLate(timeMs, seq, price, size);
  }

  /** Closes the open candle once nowMs ≥ its end + graceMs; returns it (also in closedCandle), else null. */
  closeDue(nowMs: number): Candle | null {
    this.changed = null;
    this.closedCandle = null;
    const open = this.current;
    if (open === null || nowMs < open.end + this.graceMs) return null;
    this.current = null;
    this.retire(open);
    return open;
  }

  /** A trade before the frontier: its candle is held (fold), its bucket is empty (insert), or it is gone. */
  private addLate(timeMs: number, seq: number, price: number, size: number): number {
    for (let i = this.count - 1; i >= 0; i--) {
      const c = this.ringAt(i);
      if (timeMs >= c.end) return this.insertAt(i + 1, timeMs, seq, price, size);
      if (timeMs >= c.start) {
        c.fold(timeMs, seq, price, size);
        this.changed = c;
        return ADD_LATE;
      }
    }
    // Older than every held candle: while the ring has never been full, no bucket has left it.
    if (this.count < this.keep) return this.insertAt(0, timeMs, seq, price, size);
    this.dropped += 1;
    return ADD_DROPPED;
  }

  /** A closed candle for the empty bucket of timeMs at ring position pos; a full ring gives up its oldest. */
  private insertAt(pos: number, timeMs: number, seq: number, price: number, size: number): number {
    const slot = this.take();
    const start = bucketStart(this.interval, timeMs, this.timeZone);
    slot.begin(start, bucketEnd(this.interval, start, this.timeZone));
    slot.closed = true; // a later bucket has begun already
    slot.fold(timeMs, seq, price, size);
    if (this.count < this.keep) {
      for (let j = this.count; j > pos; j--) this.setRing(j, this.ringAt(j - 1));
      this.setRing(pos, slot);
      this.count += 1;
    } else {
      // pos ≥ 1 here: the oldest leaves, the candles before pos move down one.
      const evicted = this.ringAt(0);
      for (let j = 0; j < pos - 1; j++) this.setRing(j, this.ringAt(j + 1));
      this.setRing(pos - 1, slot);
      this.give(evicted);
    }
    this.changed = slot;
    return ADD_LATE | ADD_BEGAN;
  }

  /**
   * Starts over from candles as they were published (oldest first, in bucket order): the closed
   * ones are held for late trades (the newest `keep`), a last one not closed is the open candle.
   * For a successor shard, or candles seeded from the stored trades after a restart. The exact
   * volume sums are recovered from the published volume (decimal-sum.ts); the quote volume's
   * compensation term starts at 0 (it stays within the documented 12 digits).
   */
  restore(candles: readonly Candle[]): void {
    // Every slot back to the free list, then take what the candles need.
    const all = new Set<Slot>([...this.free.slice(0, this.freeCount), ...this.ring.filter(Boolean)]);
    if (this.current !== null) all.add(this.current);
    this.freeCount = 0;
    for (const slot of all) this.give(slot);
    this.ring.fill(undefined as unknown as Slot);
    this.current = null;
    this.head = 0;
    this.count = 0;
    this.frontier = -Infinity;
    this.changed = null;
    this.closedCandle = null;
    const last = candles.length > 0 && !candles[candles.length - 1].closed ? candles[candles.length - 1] : undefined;
    const closed = (last ? candles.slice(0, -1) : candles).slice(-this.keep);
    for (const c of closed) {
      const slot = this.take();
      copyInto(slot, c);
      slot.closed = true;
      this.setRing(this.count, slot);
      this.count += 1;
      if (slot.end > this.frontier) this.frontier = slot.end;
    }
    if (last) {
      const slot = this.take();
      copyInto(slot, last);
      slot.closed = false;
      this.current = slot;
      if (slot.end > this.frontier) this.frontier = slot.end;
    }
  }

  /** Marks `c` closed and appends it to the ring (the newest held), giving up the oldest when full. */
  private retire(c: Slot): void {
    c.closed = true;
    this.closedCandle = c;
    if (this.count < this.keep) {
      this.setRing(this.count, c);
      this.count += 1;
    } else if (this.keep > 0) {
      const evicted = this.ring[this.head];
      this.ring[this.head] = c;
      this.head = (this.head + 1) % this.keep;
      this.give(evicted);
    } else {
      this.give(c); // nothing held: readable until the next call takes it
    }
  }

  private ringAt(i: number): Slot {
    return this.ring[(this.head + i) % this.keep];
  }

  private setRing(i: number, c: Slot): void {
    this.ring[(this.head + i) % this.keep] = c;
  }

  private take(): Slot {
    this.freeCount -= 1;
    return this.free[this.freeCount];
  }

  private give(c: Slot): void {
    this.free[this.freeCount] = c;
    this.freeCount += 1;
  }
}

function copyInto(slot: Slot, c: Candle): void {
  slot.begin(c.start, c.end);
  slot.open = c.open;
  slot.high = c.high;
  slot.low = c.low;
  slot.close = c.close;
  slot.trades = c.trades;
  slot.firstTime = c.firstTime;
  slot.firstSeq = c.firstSeq;
  slot.lastTime = c.lastTime;
  slot.lastSeq = c.lastSeq;
  addDecimal(slot.sums, 0, c.volume);
  slot.sums[2] = c.quoteVolume;
  slot.volume = decimalNumber(slot.sums[0], slot.sums[1]);
  slot.quoteVolume = c.quoteVolume;
  slot.vwap = slot.volume > 0 ? slot.quoteVolume / slot.volume : NaN;
}
