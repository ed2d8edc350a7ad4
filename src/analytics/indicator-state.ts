// Incremental indicator states: O(1) work per closed candle, fixed memory, no rescan of the series.
//
// Conventions, those of the `technicalindicators` package the tests compare with:
//   SMA   mean of the last N closes.
//   EMA   k = 2 / (N + 1); the first value, at the N-th close, is the SMA of the first N closes.
//   RSI   Wilder's smoothing: the first averages, at the (N+1)-th close, are the plain means of the
//         first N gains and losses; then avg = (avg × (N − 1) + x) / N. No loss reads 100 (a flat
//         series too), no gain reads 0.
//   MACD  EMA(fast) − EMA(slow) of closes, each EMA seeded by its own SMA, so the first MACD value
//         is at the slow-th close; signal = EMA(signal) of the MACD values, seeded by the SMA of the
//         first `signal` of them; the value is null until the signal exists.
//   BB    SMA(N) ± k × the population standard deviation (divide by N) of the last N closes.
//   VWAP  Σ(typical price × volume) / Σ volume over every candle given, typical = (high + low + close) / 3;
//         null until some volume. A session VWAP is a new indicator per session.

import { parseIndicatorNames, type IndicatorSpec } from './indicator-names.js';
import { RollingWindow } from './indicator-window.js';

/** A closed candle, as much of it as the indicators read; finite numbers (a NaN would stay in every running sum). */
export interface IndicatorCandle {
  readonly close: number;
  readonly high: number;
  readonly low: number;
  readonly volume: number;
  /** The candle's own trade VWAP; unused: VWAP here is the typical-price one that charts draw. */
  readonly vwap?: number;
}

export interface MacdValue { readonly macd: number; readonly signal: number; readonly histogram: number }
export interface BandsValue { readonly middle: number; readonly upper: number; readonly lower: number }
export type IndicatorValue = number | MacdValue | BandsValue;

export type IndicatorValueOf<K extends IndicatorSpec['kind']> = K extends 'macd' ? MacdValue : K extends 'bb' ? BandsValue : number;

/**
 * One indicator over one series. `update` takes each closed candle once, in time order, and returns
 * the value after it, or null while warming up. MACD and band values are fresh objects: keeping one
 * is safe.
 */
export interface Indicator<V extends IndicatorValue = IndicatorValue> {
  readonly spec: IndicatorSpec;
  update(candle: IndicatorCandle): V | null;
}

export function createIndicator<S extends IndicatorSpec>(spec: S): Indicator<IndicatorValueOf<S['kind']>>;
export function createIndicator(spec: IndicatorSpec): Indicator {
  checkSpec(spec);
  switch (spec.kind) {
    case 'sma': return new SmaIndicator(spec, spec.period);
    case 'ema': return new EmaIndicator(spec, spec.period);
    case 'rsi': return new RsiIndicator(spec, spec.period);
    case 'macd': return new MacdIndicator(spec, spec.fast, spec.slow, spec.signal);
    case 'bb': return new BandsIndicator(spec, spec.period, spec.deviations);
    case 'vwap': return new VwapIndicator(spec);
  }
}

const SPEC_FIELDS = ['kind', 'key', 'period', 'fast', 'slow', 'signal', 'deviations'] as const;

/** A spec is what parseIndicatorNames makes of its key: periods in range, and one key per indicator. */
function checkSpec(spec: IndicatorSpec): void {
  const parsed = parseIndicatorNames(spec.key);
  if (parsed.ok && parsed.specs.length === 1) {
    const canonical = parsed.specs[0] as Record<string, unknown>;
    const given = spec as Record<string, unknown>;
    if (SPEC_FIELDS.every((f) => canonical[f] === given[f])) return;
  }
  const why = parsed.ok ? `its key "${spec.key}" stands for ${JSON.stringify(parsed.specs)}` : parsed.message;
  throw new RangeError(`indicator spec ${JSON.stringify(spec)} is not one parseIndicatorNames makes: ${why}`);
}

/** EMA of a stream of numbers (closes, or MACD values for the signal line), seeded by their SMA. */
class Ema {
  private readonly k: number;
  private n = 0;
  private seedSum = 0;
  private value = 0;

  constructor(private readonly period: number) {
    this.k = 2 / (period + 1);
  }

  update(x: number): number | null {
    if (this.n < this.period) {
      this.seedSum += x;
      if (++this.n < this.period) return null;
      this.value = this.seedSum / this.period;
      return this.value;
    }
    this.value = (x - this.value) * this.k + this.value;
    return this.value;
  }
}

class SmaIndicator implements Indicator<number> {
  private readonly window: RollingWindow;
  constructor(readonly spec: IndicatorSpec, period: number) {
    this.window = new RollingWindow(period);
  }
  update(candle: IndicatorCandle): number | null {
    this.window.push(candle.close);
    return this.window.full ? this.window.mean : null;
  }
}

class EmaIndicator implements Indicator<number> {
  private readonly ema: Ema;
  constructor(readonly spec: IndicatorSpec, period: number) {
    this.ema = new Ema(period);
  }
  update(candle: IndicatorCandle): number | null {
    return this.ema.update(candle.close);
  }
}

class RsiIndicator implements Indicator<number> {
  private started = false;
  private previous = 0;
  private changes = 0;
  private avgGain = 0; // the sums of gains and losses until `changes` reaches the period
  private avgLoss = 0;

  constructor(readonly spec: IndicatorSpec, private readonly period: number) {}

  update(candle: IndicatorCandle): number | null {
    const close = candle.close;
    if (!this.started) {
      this.started = true;
      this.previous = close;
      return null;
    }
    const change = close - this.previous;
    this.previous = close;
    const gain = change > 0 ? change : 0;
    const loss = change < 0 ? -change : 0;
    const n = this.period;
    if (this.changes < n) {
      this.avgGain += gain;
      this.avgLoss += loss;
      if (++this.changes < n) return null;
      this.avgGain /= n;
      this.avgLoss /= n;
    } else {
      this.avgGain = (this.avgGain * (n - 1) + gain) / n;
      this.avgLoss = (this.avgLoss * (n - 1) + loss) / n;
    }
    if (this.avgLoss === 0) return 100;
    if (this.avgGain === 0) return 0;
    return 100 - 100 / (1 + this.avgGain / this.avgLoss);
  }
}

class MacdIndicator implements Indicator<MacdValue> {
  private readonly fast: Ema;
  private readonly slow: Ema;
  private readonly signal: Ema;

  constructor(readonly spec: IndicatorSpec, fast: number, slow: number, signal: number) {
    this.fast = new Ema(fast);
    this.slow = new Ema(slow);
    this.signal = new Ema(signal);
  }

  update(candle: IndicatorCandle): MacdValue | null {
    const fast = this.fast.update(candle.close);
    const slow = this.slow.update(candle.close);
    // The parser keeps fast < slow, so the fast EMA is seeded whenever the slow one is.
    if (fast === null || slow === null) return null;
    const macd = fast - slow;
    const signal = this.signal.update(macd);
    return signal === null ? null : { macd, signal, histogram: macd - signal };
  }
}

class BandsIndicator implements Indicator<BandsValue> {
  private readonly window: RollingWindow;
  constructor(readonly spec: IndicatorSpec, period: number, private readonly deviations: number) {
    this.window = new RollingWindow(period);
  }
  update(candle: IndicatorCandle): BandsValue | null {
    this.window.push(candle.close);
    if (!this.window.full) return null;
    const middle = this.window.mean;
    const width = Math.sqrt(this.window.variance) * this.deviations;
    return { middle, upper: middle + width, lower: middle - width };
  }
}

class VwapIndicator implements Indicator<number> {
  private priceVolume = 0;
  private volume = 0;
  constructor(readonly spec: IndicatorSpec) {}
  update(candle: IndicatorCandle): number | null {
    const typical = (candle.high + candle.low + candle.close) / 3;
    this.priceVolume += candle.volume * typical;
    this.volume += candle.volume;
    return this.volume > 0 ? this.priceVolume / this.volume : null;
  }
}
