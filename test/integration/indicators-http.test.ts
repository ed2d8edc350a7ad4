// GET /indicators end to end on the simulator: every value equals technicalindicators 3.1.0 over the
// closed candles GET /candles serves; a later request extends the same series, folding only the
// candles closed since (/stats → front.indicators); the 400s and the 404.
//
// The reference rounds RSI to two decimals: RSI is compared at 1e-9 with the formula over its
// unrounded Wilder averages (AverageGain, AverageLoss), and at 0.005 with its RSI.
import * as ti from 'technicalindicators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIndicatorNames, warmUpCandles } from '../../src/analytics/indicators.js';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';

let rt: Runtime;
const SYMBOL = 'US.AAPL';
const NAMES = 'sma5,ema5,rsi5,macd3_6_4,bb5_2,vwap,sma20';

interface CandleJson { time: string; high: number; low: number; close: number; volume: number; closed: boolean }
type Value = number | { macd: number; signal: number; histogram: number } | { middle: number; upper: number; lower: number } | null;
interface IndicatorsJson { symbol: string; interval: string; names: string[]; history_from: string | null; points: { time: string; values: Record<string, Value> }[] }
interface Counters { hits: number; rebuilds: number; folds: number; entries: number; bytes: number }

beforeAll(async () => {
  rt = await startRuntime({ symbols: [SYMBOL], simUpdatesPerSecond: 40, simTradesPerUpdate: 1, candlePublishMs: 100, shards: 1 });
}, 60_000);

afterAll(async () => {
  await rt?.stop();
});

async function closedCandles(): Promise<CandleJson[]> {
  const r = await rt.get<{ candles: CandleJson[] }>(`/candles/${SYMBOL}?interval=1s&from=0&limit=10000`);
  expect(r.status).toBe(200);
  return r.body.candles.filter((c) => c.closed);
}

async function untilClosed(n: number): Promise<void> {
  for (let i = 0; i < 300 && (await closedCandles()).length < n; i++) await sleep(200);
}

const counters = async (): Promise<Counters> => (await rt.get<{ front: { indicators: Counters } }>('/stats')).body.front.indicators;

function expectNear(actual: number, expected: number, what: string, scale = 1): void {
  if (!(Math.abs(actual - expected) <= 1e-9 * Math.max(Math.abs(actual), Math.abs(expected), scale))) {
    expect.fail(`${what}: ${actual} is not within 1e-9 of ${expected}`);
  }
}

/**
 * Every point of `r` against the reference over `candles` (the closed candles from the series'
 * first one): one point per candle, nulls while warming up, then the reference's values.
 */
function expectReference(r: IndicatorsJson, all: CandleJson[]): void {
  const last = r.points.at(-1)!.time;
  const candles = all.filter((c) => c.time >= r.history_from! && c.time <= last);
  expect(r.points.map((p) => p.time)).toEqual(candles.map((c) => c.time));
  const values = candles.map((c) => c.close);
  const scale = Math.max(...values);
  const parsed = parseIndicatorNames(NAMES);
  if (!parsed.ok) throw new Error(parsed.message);
  for (const spec of parsed.specs) {
    const lead = warmUpCandles(spec) - 1;
    const at = (i: number) => r.points[i].values[spec.key];
    for (let i = 0; i < Math.min(lead, candles.length); i++) expect(at(i), `${spec.key}[${i}] warming up`).toBeNull();
    const check = (ref: unknown[], compare: (v: Value, x: never, i: number) => void) => {
      expect(ref.length, spec.key).toBe(Math.max(0, candles.length - lead));
      ref.forEach((x, j) => compare(at(lead + j), x as never, lead + j));
    };
    switch (spec.kind) {
      case 'sma':
        check(ti.SMA.calculate({ period: spec.period, values }), (v, x: number, i) => expectNear(v as number, x, `${spec.key}[${i}]`));
        break;
      case 'ema':
        check(ti.EMA.calculate({ period: spec.period, values }), (v, x: number, i) => expectNear(v as number, x, `${spec.key}[${i}]`));
        break;
      case 'rsi': {
        const gains = ti.AverageGain.calculate({ period: spec.period, values });
        const losses = ti.AverageLoss.calculate({ period: spec.period, values });
        const rounded = ti.RSI.calculate({ period: spec.period, values });
        expect(rounded.length).toBe(gains.length);
        check(gains, (v, g: number, i) => {
          const l = losses[i - lead];
          expectNear(v as number, l === 0 ? 100 : g === 0 ? 0 : 100 - 100 / (1 + g / l), `${spec.key}[${i}]`);
          expect(Math.abs((v as number) - rounded[i - lead])).toBeLessThanOrEqual(0.005 + 1e-9);
        });
        break;
      }
      case 'macd': {
        const ref = ti.MACD.calculate({
          values, fastPeriod: spec.fast, slowPeriod: spec.slow, signalPeriod: spec.signal, SimpleMAOscillator: false, SimpleMASignal: false,
        }).filter((x) => x.signal !== undefined);
        check(ref, (v, x: { MACD: number; signal: number; histogram: number }, i) => {
          const m = v as { macd: number; signal: number; histogram: number };
          expectNear(m.macd, x.MACD, `${spec.key}[${i}].macd`, scale);
          expectNear(m.signal, x.signal, `${spec.key}[${i}].signal`, scale);
          expectNear(m.histogram, x.histogram, `${spec.key}[${i}].histogram`, scale);
        });
        break;
      }
      case 'bb':
        check(ti.BollingerBands.calculate({ period: spec.period, stdDev: spec.deviations, values }), (v, x: { middle: number; upper: number; lower: number }, i) => {
          const b = v as { middle: number; upper: number; lower: number };
          expectNear(b.middle, x.middle, `${spec.key}[${i}].middle`);
          expectNear(b.upper, x.upper, `${spec.key}[${i}].upper`);
          expectNear(b.lower, x.lower, `${spec.key}[${i}].lower`);
        });
        break;
      case 'vwap':
        check(ti.VWAP.calculate({ high: candles.map((c) => c.high), low: candles.map((c) => c.low), close: values, volume: candles.map((c) => c.volume) }),
          (v, x: number, i) => expectNear(v as number, x, `vwap[${i}]`));
        break;
    }
  }
}

describe('GET /indicators/{symbol}', () => {
  let first: IndicatorsJson;

  it('equals technicalindicators over the closed candles GET /candles serves, from the first one', async () => {
    await untilClosed(12); // MACD(3,6,4) has values from the 9th
    const r = await rt.get<IndicatorsJson>(`/indicators/${SYMBOL}?interval=1s&names=${NAMES}&limit=1000`);
    expect(r.status).toBe(200);
    first = r.body;
    expect(first).toMatchObject({ symbol: SYMBOL, interval: '1s', names: ['sma5', 'ema5', 'rsi5', 'macd3_6_4', 'bb5_2', 'vwap', 'sma20'] });
    const candles = await closedCandles();
    expect(first.history_from).toBe(candles[0].time); // a short history: the series starts at its first candle
    expect(first.points.length).toBeGreaterThanOrEqual(12);
    expect(first.points.at(-1)!.values.macd3_6_4).not.toBeNull();
    expectReference(first, candles);
  }, 90_000);

  it('a later request folds only the candles closed since into the same series', async () => {
    const before = await counters();
    await sleep(3500);
    const r = await rt.get<IndicatorsJson>(`/indicators/${SYMBOL}?interval=1s&names=${NAMES}&limit=1000`);
    expect(r.status).toBe(200);
    const after = await counters();
    expect(after.rebuilds).toBe(before.rebuilds);
    expect(after.hits).toBe(before.hits + 1);
    expect(after.folds - before.folds).toBe(r.body.points.length - first.points.length);
    expect(r.body.points.length - first.points.length).toBeGreaterThanOrEqual(2);
    expect(r.body.points.slice(0, first.points.length)).toEqual(first.points);
    expect(r.body.history_from).toBe(first.history_from);
    expectReference(r.body, await closedCandles());

    // The last `limit` points of the same series; another spelling of the same names is the same series.
    const tail = await rt.get<IndicatorsJson>(`/indicators/${SYMBOL}?interval=1s&names=sma20,vwap,bb5,macd3_6_4,rsi5,ema5,sma5&limit=3`);
    expect(tail.status).toBe(200);
    expect(tail.body.names).toEqual(['sma20', 'vwap', 'bb5_2', 'macd3_6_4', 'rsi5', 'ema5', 'sma5']);
    expect(tail.body.points).toHaveLength(3);
    const full = await rt.get<IndicatorsJson>(`/indicators/${SYMBOL}?interval=1s&names=${NAMES}&limit=1000`);
    const byTime = new Map(full.body.points.map((p) => [p.time, p]));
    expect(tail.body.points.map((p) => byTime.get(p.time))).toEqual(tail.body.points);
    const last = await counters();
    expect(last.rebuilds).toBe(before.rebuilds);
    expect(last.entries).toBe(1);
  }, 30_000);

  it('400 naming the parameter, 404 for a symbol not served; listed in GET /', async () => {
    const names = await rt.get<{ error: { code: string; message: string } }>(`/indicators/${SYMBOL}?names=sma20,foo`);
    expect(names.status).toBe(400);
    expect(names.body.error.code).toBe('invalid_parameter');
    expect(names.body.error.message).toMatch(/^names: "foo" is not an indicator name: /);
    const interval = await rt.get<{ error: { message: string } }>(`/indicators/${SYMBOL}?interval=2m&names=sma20`);
    expect(interval.status).toBe(400);
    expect(interval.body.error.message).toMatch(/^interval: /);
    const limit = await rt.get<{ error: { message: string } }>(`/indicators/${SYMBOL}?names=sma20&limit=1001`);
    expect(limit.status).toBe(400);
    expect(limit.body.error.message).toMatch(/^limit: /);
    const unknown = await rt.get<{ error: { code: string } }>('/indicators/NOPE.X?names=sma20');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown_symbol');
    const index = await rt.get<{ routes: { path: string }[] }>('/');
    expect(index.body.routes.map((x) => x.path)).toContain('/indicators/{symbol}');
  });
});
