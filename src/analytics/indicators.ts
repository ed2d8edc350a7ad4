// Technical indicators over closed candles: one IndicatorSeries per symbol and interval holds the
// incremental states of the indicators asked for and a bounded history of their values.
//
// The names and their keys live in indicator-names.ts, the per-indicator arithmetic and its
// conventions in indicator-state.ts; both are re-exported here, the module callers import.

import { type IndicatorSpec } from './indicator-names.js';
import { createIndicator, type Indicator, type IndicatorCandle, type IndicatorValue } from './indicator-state.js';

export * from './indicator-names.js';
export * from './indicator-state.js';

/** A closed candle and the start of its bucket (ms since the epoch), the time its values are served with. */
export interface SeriesCandle extends IndicatorCandle {
  readonly time: number;
}

export type IndicatorRecord = Record<string, IndicatorValue | null>;

export interface IndicatorPoint {
  readonly time: number;
  readonly values: IndicatorRecord;
}

/**
 * History is stored as numbers, one ring of `capacity` rows shared by all keys:
 *
 *   times    [ t0 | t1 | t2 | ... ]          Float64Array(capacity)
 *   sma20    [ v0 | v1 | v2 | ... ]          width 1
 *   macd…    [ m s h | m s h | ... ]         width 3: macd, signal, histogram
 *   bb…      [ m u l | m u l | ... ]         width 3: middle, upper, lower
 *                     ^ next: the row the next candle overwrites once `count` = capacity
 *
 * A null value is NaN in the row's first column. Memory is fixed at
 * 8 × capacity × (1 + Σ widths) bytes: 16 three-column indicators over 1000 rows are 392 kB.
 */
export class IndicatorSeries {
  readonly specs: readonly IndicatorSpec[];
  readonly capacity: number;
  private readonly indicators: Indicator[];
  private readonly widths: Uint8Array;
  private readonly columns: Float64Array[];
  private readonly times: Float64Array;
  private readonly latest: IndicatorRecord = {};
  private next = 0;
  private count = 0;

  /** `capacity`: how many candles' values are kept, the largest `limit` a snapshot can answer. */
  constructor(specs: readonly IndicatorSpec[], capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`IndicatorSeries capacity must be a positive integer, not ${capacity}`);
    }
    const keys = new Set(specs.map((s) => s.key));
    if (keys.size !== specs.length) throw new RangeError('IndicatorSeries specs repeat a key: build them with parseIndicatorNames');
    this.specs = specs;
    this.capacity = capacity;
    this.indicators = specs.map((s) => createIndicator(s));
    this.widths = Uint8Array.from(specs, (s) => (s.kind === 'macd' || s.kind === 'bb' ? 3 : 1));
    this.columns = specs.map((_, i) => new Float64Array(capacity * this.widths[i]));
    this.times = new Float64Array(capacity);
    for (const s of specs) this.latest[s.key] = null;
  }

  /** Values of candles held, at most `capacity`. */
  get length(): number {
    return this.count;
  }

  /**
   * Takes the next closed candle (each once, in time order) and returns every key's value after it.
   * The record is the same object on every call, overwritten by the next update: read it, or copy it
   * to keep it.
   */
  update(candle: SeriesCandle): Readonly<IndicatorRecord> {
    const row = this.next;
    this.times[row] = candle.time;
    for (let i = 0; i < this.indicators.length; i++) {
      const value = this.indicators[i].update(candle);
      this.latest[this.specs[i].key] = value;
      store(this.columns[i], row * this.widths[i], value);
    }
    this.next = row + 1 === this.capacity ? 0 : row + 1;
    if (this.count < this.capacity) this.count++;
    return this.latest;
  }

  /** The last `limit` candles' values (fewer when fewer are held), oldest first, as fresh objects. */
  snapshot(limit: number): IndicatorPoint[] {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`snapshot limit must be a non-negative integer, not ${limit}`);
    const n = Math.min(limit, this.count);
    const points: IndicatorPoint[] = new Array(n);
    // The oldest row wanted: `n` rows back from `next`, wrapping.
    let row = (this.next - n + this.capacity) % this.capacity;
    for (let p = 0; p < n; p++) {
      const values: IndicatorRecord = {};
      for (let i = 0; i < this.specs.length; i++) {
        values[this.specs[i].key] = load(this.specs[i], this.columns[i], row * this.widths[i]);
      }
      points[p] = { time: this.times[row], values };
      row = row + 1 === this.capacity ? 0 : row + 1;
    }
    return points;
  }
}

function store(column: Float64Array, at: number, value: IndicatorValue | null): void {
  if (value === null) column[at] = NaN;
  else if (typeof value === 'number') column[at] = value;
  else if ('macd' in value) {
    column[at] = value.macd;
    column[at + 1] = value.signal;
    column[at + 2] = value.histogram;
  } else {
    column[at] = value.middle;
    column[at + 1] = value.upper;
    column[at + 2] = value.lower;
  }
}

function load(spec: IndicatorSpec, column: Float64Array, at: number): IndicatorValue | null {
  const first = column[at];
  if (Number.isNaN(first)) return null;
  if (spec.kind === 'macd') return { macd: first, signal: column[at + 1], histogram: column[at + 2] };
  if (spec.kind === 'bb') return { middle: first, upper: column[at + 1], lower: column[at + 2] };
  return first;
}
