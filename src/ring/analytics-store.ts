// One symbol's published candles (a ring per interval) and 24 h ticker in shared memory, with each channel's sequence.
//
// Layout: layout.ts (ANALYTICS_*, AH_*, AS_*). Allocated by the supervisor for the process's life
// (seeded there from the stored trades after a restart); the owning shard is the only writer; the
// front reads snapshots, GET /candles and /ticker from it. Seqlock protocol: seqlock.ts.

import { beginWrite, copyConsistent, endWrite } from './seqlock.js';
import { CANDLE_FIELDS, C_START, C_TRADES } from '../analytics/candle-builder.js';
import { INTERVAL_MS, INTERVALS, type Interval } from '../analytics/intervals.js';
import { TICKER_FIELDS } from '../analytics/rolling-ticker.js';
import {
  AH_EPOCH, AH_FIELDS, AH_FOLDED_EPOCH, AH_FOLDED_SEQ, AH_LAST_SEQ, AH_VERSION, ANALYTICS_CHANNELS, AS_RECORD, AS_SEQ, AS_VERSION, CANDLE_RECORD_FIELDS,
  CANDLE_SLOT_FIELDS, TICKER_RECORD_FIELDS, TICKER_SLOT_FIELDS, analyticsStoreBytes, isPowerOfTwo,
} from './layout.js';

if (CANDLE_FIELDS !== CANDLE_RECORD_FIELDS || TICKER_FIELDS !== TICKER_RECORD_FIELDS) {
  throw new Error('layout.ts candle/ticker record sizes differ from the analytics records');
}

const DAY_MS = 86_400_000;

export function createAnalyticsBuffer(candleCapacity: number): SharedArrayBuffer {
  if (!isPowerOfTwo(candleCapacity)) throw new RangeError(`candle ring capacity must be a power of two, got ${candleCapacity}`);
  return new SharedArrayBuffer(analyticsStoreBytes(candleCapacity));
}

/** Bucket number of a bucket start: its slot is this & mask (a market day counts as one, whatever its length). */
export function bucketNumber(interval: Interval, start: number): number {
  return Math.round(start / (interval === '1d' ? DAY_MS : INTERVAL_MS[interval]));
}

export class AnalyticsStore {
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly capacity: number;
  readonly mask: number;
  private readonly tickerBase: number;
  /** Scratch copy of one channel header, filled by readChannel(). */
  readonly header = new Float64Array(AH_FIELDS);

  constructor(readonly sab: SharedArrayBuffer) {
    const f = sab.byteLength / 8 - ANALYTICS_CHANNELS * AH_FIELDS - TICKER_SLOT_FIELDS;
    this.capacity = f / (7 * CANDLE_SLOT_FIELDS);
    if (!isPowerOfTwo(this.capacity)) throw new RangeError('analytics buffer does not hold power-of-two candle rings');
    this.mask = this.capacity - 1;
    this.f64 = new Float64Array(sab);
    this.i32 = new Int32Array(sab);
    this.tickerBase = ANALYTICS_CHANNELS * AH_FIELDS + 7 * this.capacity * CANDLE_SLOT_FIELDS;
  }

  /** f64 index of channel k's header. */
  channelBase(k: number): number {
    return k * AH_FIELDS;
  }

  /** f64 index of the slot of interval `k`'s bucket `n` (bucketNumber). */
  candleSlot(k: number, n: number): number {
    return ANALYTICS_CHANNELS * AH_FIELDS + (k * this.capacity + (n & this.mask)) * CANDLE_SLOT_FIELDS;
  }

  tickerSlot(): number {
    return this.tickerBase;
  }

  // ── writer side (the owning shard, or the supervisor before any shard) ──────

  beginWrite(v: number): void {
    beginWrite(this.i32, v);
  }

  endWrite(v: number): void {
    endWrite(this.i32, v);
  }

  /** Writes header fields of channel k (pairs of field index and value), under its seqlock. */
  writeChannel(k: number, fields: readonly number[]): void {
    const base = this.channelBase(k);
    this.beginWrite(base * 2 + AH_VERSION);
    for (let i = 0; i < fields.length; i += 2) this.f64[base + fields[i]] = fields[i + 1];
    this.endWrite(base * 2 + AH_VERSION);
  }

  /** The header of channel k after publishing `seq`, with the trade (epoch, seq) folded last. Hot path: no allocation. */
  commitChannel(k: number, epoch: number, seq: number, foldedEpoch: number, foldedSeq: number): void {
    const base = this.channelBase(k);
    const f = this.f64;
    this.beginWrite(base * 2 + AH_VERSION);
    f[base + AH_EPOCH] = epoch;
    f[base + AH_LAST_SEQ] = seq;
    f[base + AH_FOLDED_EPOCH] = foldedEpoch;
    f[base + AH_FOLDED_SEQ] = foldedSeq;
    this.endWrite(base * 2 + AH_VERSION);
  }

  /** Repairs every seqlock a writer that died inside its window left odd (the new writer owns them). */
  repairLocks(): void {
    const n = this.f64.length;
    for (let k = 0; k < ANALYTICS_CHANNELS; k++) this.fix(this.channelBase(k) * 2 + AH_VERSION);
    for (let at = ANALYTICS_CHANNELS * AH_FIELDS; at < this.tickerBase; at += CANDLE_SLOT_FIELDS) this.fix(at * 2 + AS_VERSION);
    if (this.tickerBase < n) this.fix(this.tickerBase * 2 + AS_VERSION);
  }

  private fix(v: number): void {
    if ((Atomics.load(this.i32, v) & 1) === 1) this.endWrite(v);
  }

  // ── reader side (any thread) ─────────────────────────────────────────────────

  /** Copies channel k's header into `this.header`; false if it stayed torn. */
  readChannel(k: number): boolean {
    const base = this.channelBase(k);
    return this.copyConsistent(base * 2 + AH_VERSION, base, AH_FIELDS, this.header, 0);
  }

  /** Copies the candle slot of interval k, bucket n into out[outBase…]; false when it holds another bucket's candle or none. */
  readCandle(k: number, n: number, out: Float64Array, outBase: number): boolean {
    const at = this.candleSlot(k, n);
    if (!this.copyConsistent(at * 2 + AS_VERSION, at, CANDLE_SLOT_FIELDS, out, outBase)) return false;
    // A candle has at least one trade; a seeded one (from the stored trades) has seq 0.
    return out[outBase + AS_RECORD + C_TRADES] > 0 && bucketNumber(INTERVALS[k], out[outBase + AS_RECORD + C_START]) === n;
  }

  /** Copies the ticker slot; false before the first ticker. */
  readTicker(out: Float64Array, outBase: number): boolean {
    const at = this.tickerBase;
    if (!this.copyConsistent(at * 2 + AS_VERSION, at, TICKER_SLOT_FIELDS, out, outBase)) return false;
    return out[outBase + AS_SEQ] > 0;
  }

  private copyConsistent(v: number, from: number, n: number, out: Float64Array, outBase: number): boolean {
    return copyConsistent(this.i32, this.f64, v, from, n, out, outBase);
  }
}
