// Indicators against the reference library technicalindicators 3.1.0 (npm `technicalindicators`; MACD with
// EMAs, not its SMA options): equal within 1e-9 on random walks and through warm-up; published worked
// examples (its README's SMA, StockCharts' RSI); IndicatorSeries' bounded history.
//
// The reference rounds RSI to two decimals, so RSI is compared at 1e-9 with the formula over the
// reference's own Wilder averages (AverageGain, AverageLoss, unrounded) and at 0.005 with its RSI.
import fc from 'fast-check';
import * as ti from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import {
  IndicatorSeries, createIndicator, parseIndicatorNames, warmUpCandles,
  type BandsValue, type IndicatorCandle, type IndicatorSpec, type IndicatorValue, type MacdValue, type SeriesCandle,
} from '../../src/analytics/indicators.js';

const REL = 1e-9;

/**
 * |a − b| within 1e-9 of the larger magnitude, or of `scale` for values that are differences of
 * prices (MACD, histogram) and may cross zero: the inputs' size is what rounding is relative to.
 */
function near(actual: number, expected: number, scale = 1): boolean {
  return Math.abs(actual - expected) <= REL * Math.max(Math.abs(actual), Math.abs(expected), scale);
}

function expectNear(actual: number, expected: number, what: string, scale = 1): void {
  if (!near(actual, expected, scale)) expect.fail(`${what}: ${actual} is not within 1e-9 of ${expected}`);
}

const spec = (name: string): IndicatorSpec => {
  const parsed = parseIndicatorNames(name);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.specs[0];
};

/** Every value the indicator gives over `candles`, null during warm-up. */
function run<V extends IndicatorValue>(s: IndicatorSpec, candles: readonly IndicatorCandle[]): (V | null)[] {
  const indicator = createIndicator(s);
  return candles.map((c) => indicator.update(c) as V | null);
}

/** The values after warm-up, checking that warm-up is exactly `warmUpCandles(spec) − 1` nulls. */
function warmed<V extends IndicatorValue>(s: IndicatorSpec, candles: readonly IndicatorCandle[]): V[] {
  const values = run<V>(s, candles);
  const lead = Math.min(warmUpCandles(s) - 1, candles.length);
  expect(values.slice(0, lead).every((v) => v === null), `${s.key}: nulls while warming up`).toBe(true);
  expect(values.slice(lead).every((v) => v !== null), `${s.key}: values once warm`).toBe(true);
  return values.slice(lead) as V[];
}

/**
 * A geometric random walk of candles; with `flat`, some steps do not move (RSI's and the bands' edge
 * cases). Without: the reference reads an exact 0 as "no value" (`if (prevEma)`), which a MACD over
 * an unmoving start is, and then misaligns its EMA; ours gives 0 there (tested below).
 */
const walkOf = (flat: boolean) => fc.record({
  start: fc.double({ min: 1, max: 50_000, noNaN: true }),
  steps: fc.array(
    fc.tuple(
      flat
        ? fc.oneof(fc.constant(0), fc.double({ min: -0.05, max: 0.05, noNaN: true }))
        : fc.double({ min: 1e-4, max: 0.05, noNaN: true }).chain((m) => fc.constantFrom(m, -m)),
      fc.double({ min: 0, max: 0.02, noNaN: true }), // wick above the body, as a fraction
      fc.double({ min: 0, max: 0.02, noNaN: true }), // wick below
      fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 1000, noNaN: true })),
    ),
    { minLength: 1, maxLength: 300, size: 'max' },
  ),
}).map(({ start, steps }) => {
  const candles: IndicatorCandle[] = [];
  let open = start;
  for (const [step, up, down, volume] of steps) {
    const close = open * Math.exp(step);
    candles.push({ close, high: Math.max(open, close) * (1 + up), low: Math.min(open, close) * (1 - down), volume });
    open = close;
  }
  return candles;
});
const walk = walkOf(true);

const period = fc.integer({ min: 1, max: 40 });
const closesOf = (candles: readonly IndicatorCandle[]): number[] => candles.map((c) => c.close);
const RUNS = { numRuns: 100 };

describe('indicators equal technicalindicators 3.1.0 on random walks', () => {
  it('SMA', () => {
    fc.assert(fc.property(walk, period, (candles, n) => {
      const ours = warmed<number>(spec(`sma${n}`), candles);
      const ref = ti.SMA.calculate({ period: n, values: closesOf(candles) });
      expect(ours.length).toBe(ref.length);
      ours.forEach((v, i) => expectNear(v, ref[i], `sma${n}[${i}]`));
    }), RUNS);
  });

  it('EMA, seeded with the SMA of the first N closes', () => {
    fc.assert(fc.property(walk, period, (candles, n) => {
      const ours = warmed<number>(spec(`ema${n}`), candles);
      const ref = ti.EMA.calculate({ period: n, values: closesOf(candles) });
      expect(ours.length).toBe(ref.length);
      ours.forEach((v, i) => expectNear(v, ref[i], `ema${n}[${i}]`));
    }), RUNS);
  });

  it("RSI, Wilder's averages seeded with the plain means of the first N changes", () => {
    fc.assert(fc.property(walk, fc.integer({ min: 2, max: 40 }), (candles, n) => {
      const ours = warmed<number>(spec(`rsi${n}`), candles);
      const values = closesOf(candles);
      const gains = ti.AverageGain.calculate({ period: n, values });
      const losses = ti.AverageLoss.calculate({ period: n, values });
      const rounded = ti.RSI.calculate({ period: n, values });
      expect(ours.length).toBe(gains.length);
      expect(ours.length).toBe(rounded.length);
      ours.forEach((v, i) => {
        const g = gains[i];
        const l = losses[i];
        const exact = l === 0 ? 100 : g === 0 ? 0 : 100 - 100 / (1 + g / l);
        expectNear(v, exact, `rsi${n}[${i}]`);
        expect(Math.abs(v - rounded[i])).toBeLessThanOrEqual(0.005 + 1e-9);
      });
    }), RUNS);
  });

  it('MACD, its signal seeded with the SMA of the first MACD values', () => {
    const periods = fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 15 }))
      .map(([fast, gap, signal]) => ({ fast, slow: fast + gap, signal }));
    fc.assert(fc.property(walkOf(false), periods, (candles, { fast, slow, signal }) => {
      const ours = warmed<MacdValue>(spec(`macd${fast}_${slow}_${signal}`), candles);
      const ref = ti.MACD.calculate({
        values: closesOf(candles), fastPeriod: fast, slowPeriod: slow, signalPeriod: signal,
        SimpleMAOscillator: false, SimpleMASignal: false,
      }).filter((r) => r.signal !== undefined);
      expect(ours.length).toBe(ref.length);
      const scale = Math.max(...closesOf(candles));
      ours.forEach((v, i) => {
        expectNear(v.macd, ref[i].MACD!, `macd[${i}]`, scale);
        expectNear(v.signal, ref[i].signal!, `signal[${i}]`, scale);
        expectNear(v.histogram, ref[i].histogram!, `histogram[${i}]`, scale);
      });
    }), RUNS);
  });

  it('Bollinger bands, population standard deviation', () => {
    const k = fc.constantFrom(1, 1.5, 2, 2.5, 3);
    fc.assert(fc.property(walk, period, k, (candles, n, deviations) => {
      const ours = warmed<BandsValue>(spec(`bb${n}_${deviations}`), candles);
      const ref = ti.BollingerBands.calculate({ period: n, stdDev: deviations, values: closesOf(candles) });
      expect(ours.length).toBe(ref.length);
      ours.forEach((v, i) => {
        expectNear(v.middle, ref[i].middle, `middle[${i}]`);
        expectNear(v.upper, ref[i].upper, `upper[${i}]`);
        expectNear(v.lower, ref[i].lower, `lower[${i}]`);
      });
    }), RUNS);
  });

  it('VWAP over the series, typical price', () => {
    fc.assert(fc.property(walk, (candles) => {
      const ours = run<number>(spec('vwap'), candles);
      const ref = ti.VWAP.calculate({
        high: candles.map((c) => c.high), low: candles.map((c) => c.low),
        close: closesOf(candles), volume: candles.map((c) => c.volume),
      });
      expect(ours.length).toBe(ref.length);
      // The reference divides 0 by 0 until the first volume; ours waits with null.
      ours.forEach((v, i) => (v === null ? expect(ref[i]).toBeNaN() : expectNear(v, ref[i], `vwap[${i}]`)));
    }), RUNS);
  });
});

describe("published worked examples: the reference's README SMA, StockCharts' RSI", () => {
  const candle = (close: number): IndicatorCandle => ({ close, high: close, low: close, volume: 1 });

  it('SMA(10) of the README: 5.5, 6.6, 7.7, 8.9, then 10.1 after 16', () => {
    const values = warmed<number>(spec('sma10'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 16].map(candle));
    [5.5, 6.6, 7.7, 8.9, 10.1].forEach((want, i) => expectNear(values[i], want, `sma10[${i}]`));
  });

  it("RSI(14) of StockCharts ChartSchool's worked example (Wilder's), to two decimals", () => {
    const closes = [44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
      46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521, 45.7137,
      46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314];
    const values = warmed<number>(spec('rsi'), closes.map(candle));
    expect(values.map((v) => Number(v.toFixed(2)))).toEqual([70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26,
      56.06, 62.38, 54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77]);
    // The reference agrees on the same closes.
    expect(ti.RSI.calculate({ period: 14, values: closes })).toEqual(values.map((v) => Number(v.toFixed(2))));
  });
});

describe('edge cases', () => {
  const flat = (n: number, price: number, volume = 1): IndicatorCandle[] =>
    Array.from({ length: n }, () => ({ close: price, high: price, low: price, volume }));

  it('warm-up is warmUpCandles − 1 nulls for every kind, then values', () => {
    const candles = flat(60, 10);
    for (const name of ['sma1', 'sma20', 'ema1', 'ema20', 'rsi2', 'rsi', 'macd', 'macd3_5_1', 'bb1', 'bb20', 'vwap']) {
      const s = spec(name);
      const values = run(s, candles);
      expect(values.findIndex((v) => v !== null), name).toBe(warmUpCandles(s) - 1);
    }
  });

  it('refuses a spec that parseIndicatorNames would not make', () => {
    expect(() => createIndicator({ kind: 'sma', key: 'sma0', period: 0 })).toThrow(/"sma0": the period must be 1\.\.500/);
    expect(() => createIndicator({ kind: 'ema', key: 'ema5', period: 6 })).toThrow(RangeError);
    expect(() => createIndicator({ kind: 'macd', key: 'macd9_3_2', fast: 9, slow: 3, signal: 2 })).toThrow(/fast period/);
    expect(() => createIndicator({ kind: 'bb', key: 'bb5', period: 5, deviations: 2 })).toThrow(/"bb5" stands for/);
  });

  it('RSI of a series that never falls is 100 (flat included), that never rises 0', () => {
    expect(run<number>(spec('rsi3'), flat(5, 7)).slice(3)).toEqual([100, 100]);
    const falling = [5, 4, 3, 2, 1].map((close) => ({ close, high: close, low: close, volume: 1 }));
    expect(run<number>(spec('rsi3'), falling).slice(3)).toEqual([0, 0]);
  });

  it('MACD of an unmoving series is 0, 0, 0', () => {
    expect(run<MacdValue>(spec('macd2_3_2'), flat(5, 42)).slice(3)).toEqual(Array(2).fill({ macd: 0, signal: 0, histogram: 0 }));
  });

  it('bands of equal closes have no width', () => {
    expect(run<BandsValue>(spec('bb4'), flat(6, 101.3)).slice(3)).toEqual(Array(3).fill({ middle: 101.3, upper: 101.3, lower: 101.3 }));
  });

  it('bands of a market gone flat after a move close up (no square root of leftover rounding)', () => {
    const closes = [1, 0.9521539097606373, 0.9521539097606373, 0.9521539097606373, 0.9521539097606373];
    const bands = run<BandsValue>(spec('bb3'), closes.map((close) => ({ close, high: close, low: close, volume: 1 })));
    for (const b of bands.slice(3)) {
      expect(b!.upper - b!.lower).toBeLessThan(1e-15);
      expectNear(b!.middle, closes[4], 'middle');
    }
  });

  it('VWAP is null until some volume trades, then holds over empty candles', () => {
    const candles = [...flat(2, 10, 0), { close: 12, high: 13, low: 11, volume: 2 }, ...flat(2, 50, 0)];
    expect(run<number>(spec('vwap'), candles)).toEqual([null, null, 12, 12, 12]);
  });

  it('SMA and bands keep their precision over a long series of large, close prices', () => {
    const n = 7;
    const sma = createIndicator({ kind: 'sma', key: `sma${n}`, period: n });
    const bb = createIndicator({ kind: 'bb', key: `bb${n}_2`, period: n, deviations: 2 });
    let seed = 1;
    const closes: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      seed = (seed * 16807) % 2147483647;
      const close = 1e6 + seed / 2147483647; // 1e6 plus [0, 1): the sum is large, the spread small
      closes.push(close);
      const c = { close, high: close, low: close, volume: 1 };
      const mean = sma.update(c);
      const bands = bb.update(c);
      if (i % 997 !== 996) continue;
      // Exact reference: deviations from one of the closes are exact in floating point.
      const last = closes.slice(-n).map((x) => x - closes[i]);
      const m = last.reduce((acc, d) => acc + d, 0) / n;
      const sd = Math.sqrt(last.reduce((acc, d) => acc + (d - m) ** 2, 0) / n);
      expectNear(mean!, closes[i] + m, `sma at ${i}`);
      // The band spans 4 sd (2 each side), checked against the spread itself, not the price.
      expectNear((bands!.upper - bands!.lower) / 4, sd, `sd at ${i}`, 0);
    }
  });

  it('an outlier leaves no trace once a lap of the window has passed it', () => {
    const closes = [1e17, 1, 1, 1, 1, 1];
    const candles = closes.map((close) => ({ close, high: close, low: close, volume: 1 }));
    expect(run<number>(spec('sma2'), candles).slice(3)).toEqual([1, 1, 1]);
    expect(run<BandsValue>(spec('bb2'), candles).slice(3)).toEqual(Array(3).fill({ middle: 1, upper: 1, lower: 1 }));
  });
});

describe('IndicatorSeries', () => {
  const specsOf = (names: string) => {
    const parsed = parseIndicatorNames(names);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.specs;
  };
  const at = (time: number, close: number): SeriesCandle => ({ time, close, high: close + 1, low: close - 1, volume: 1 + (time % 3) });

  it('returns every key after each candle, in one record reused across updates', () => {
    const series = new IndicatorSeries(specsOf('sma2,macd2_3_2,bb2,vwap'), 4);
    const first = series.update(at(0, 10));
    expect({ ...first }).toEqual({ sma2: null, macd2_3_2: null, bb2_2: null, vwap: 10 });
    const second = series.update(at(60_000, 12));
    expect(second).toBe(first);
    expect(second.sma2).toBe(11);
    expect(second.bb2_2).toEqual({ middle: 11, upper: 13, lower: 9 });
  });

  it('keeps the last `capacity` candles, oldest first, with their times', () => {
    const series = new IndicatorSeries(specsOf('sma1,rsi2'), 5);
    for (let i = 0; i < 12; i++) series.update(at(i * 1000, 100 + i));
    expect(series.length).toBe(5);
    expect(series.snapshot(3).map((p) => p.time)).toEqual([9000, 10000, 11000]);
    expect(series.snapshot(3).map((p) => p.values.sma1)).toEqual([109, 110, 111]);
    expect(series.snapshot(100).map((p) => p.time)).toEqual([7000, 8000, 9000, 10000, 11000]);
    expect(series.snapshot(0)).toEqual([]);
  });

  it('reads back during warm-up: nulls before the first value, fewer points than asked', () => {
    const series = new IndicatorSeries(specsOf('macd2_3_2,bb3'), 10);
    for (let i = 0; i < 4; i++) series.update(at(i, 50 + i * i));
    const points = series.snapshot(10);
    expect(points.map((p) => p.values.macd2_3_2 === null)).toEqual([true, true, true, false]);
    expect(points.map((p) => p.values.bb3_2 === null)).toEqual([true, true, false, false]);
  });

  it('history equals what each update returned, for any capacity and limit', () => {
    const names = 'sma3,ema4,rsi3,macd2_5_3,bb4_1.5,vwap';
    fc.assert(fc.property(walk, fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 60 }), (candles, capacity, limit) => {
      const series = new IndicatorSeries(specsOf(names), capacity);
      const returned = candles.map((c, i) => ({ time: i * 60_000, values: { ...series.update({ ...c, time: i * 60_000 }) } }));
      const want = returned.slice(Math.max(0, returned.length - Math.min(limit, capacity)));
      expect(series.snapshot(limit)).toEqual(want);
      expect(series.length).toBe(Math.min(candles.length, capacity));
    }), RUNS);
  });

  it('refuses a capacity, a limit or specs that cannot work', () => {
    expect(() => new IndicatorSeries(specsOf('sma2'), 0)).toThrow(RangeError);
    expect(() => new IndicatorSeries(specsOf('sma2'), 1.5)).toThrow(/capacity/);
    expect(() => new IndicatorSeries([...specsOf('sma2'), ...specsOf('sma2')], 4)).toThrow(/repeat a key/);
    const series = new IndicatorSeries(specsOf('sma2'), 4);
    expect(() => series.snapshot(-1)).toThrow(/limit/);
    expect(() => series.snapshot(Number.NaN)).toThrow(RangeError);
  });
});
