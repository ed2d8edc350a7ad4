// Indicator names of GET /indicators: defaults, canonical keys, duplicates, limits, and errors that quote the bad entry.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_INDICATORS, parseIndicatorNames, warmUpCandles, type IndicatorSpec } from '../../src/analytics/indicators.js';

const specs = (text: string): readonly IndicatorSpec[] => {
  const parsed = parseIndicatorNames(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.specs;
};
const keys = (text: string): string[] => specs(text).map((s) => s.key);

/** The failure for `text`, or a test failure when it parses. */
const failure = (text: string): { message: string; entry: string } => {
  const parsed = parseIndicatorNames(text);
  if (parsed.ok) throw new Error(`"${text}" parsed as ${parsed.specs.map((s) => s.key).join(',')}`);
  return parsed;
};

describe('parseIndicatorNames', () => {
  it('reads every kind, with defaults spelled out in the keys', () => {
    expect(specs('sma20,ema20,rsi14,macd,bb20,vwap')).toEqual([
      { kind: 'sma', key: 'sma20', period: 20 },
      { kind: 'ema', key: 'ema20', period: 20 },
      { kind: 'rsi', key: 'rsi14', period: 14 },
      { kind: 'macd', key: 'macd12_26_9', fast: 12, slow: 26, signal: 9 },
      { kind: 'bb', key: 'bb20_2', period: 20, deviations: 2 },
      { kind: 'vwap', key: 'vwap' },
    ]);
    expect(specs('rsi')).toEqual([{ kind: 'rsi', key: 'rsi14', period: 14 }]);
    expect(specs('macd5_35_5')).toEqual([{ kind: 'macd', key: 'macd5_35_5', fast: 5, slow: 35, signal: 5 }]);
    expect(specs('bb10_2.5')).toEqual([{ kind: 'bb', key: 'bb10_2.5', period: 10, deviations: 2.5 }]);
  });

  it('gives one key per indicator however it is spelled, and keeps the first in order', () => {
    expect(keys('rsi, rsi14 ,sma5,sma05,ema5')).toEqual(['rsi14', 'sma5', 'ema5']);
    expect(keys('macd,macd12_26_9')).toEqual(['macd12_26_9']);
    expect(keys('bb20,bb20_2,bb20_2.0,bb20_2.50,bb20_2.5')).toEqual(['bb20_2', 'bb20_2.5']);
  });

  it('accepts the edges of the ranges', () => {
    expect(keys('sma1,sma500,ema1,ema500,rsi2,rsi500,bb1,bb500_10,macd1_2_1,macd499_500_500')).toHaveLength(10);
  });

  it('a key parses back to itself', () => {
    const n = fc.integer({ min: 1, max: 500 });
    const name = fc.oneof(
      n.map((p) => `sma${p}`),
      n.map((p) => `ema${p}`),
      fc.integer({ min: 2, max: 500 }).map((p) => `rsi${p}`),
      fc.tuple(fc.integer({ min: 1, max: 499 }), n, n).map(([f, gap, s]) => `macd${f}_${Math.min(500, f + gap)}_${s}`),
      fc.tuple(n, fc.integer({ min: 1, max: 1000 })).map(([p, k]) => `bb${p}_${k / 100}`),
      fc.constant('vwap'),
    );
    fc.assert(fc.property(name, (text) => {
      const [spec] = specs(text);
      expect(specs(spec.key)).toEqual([spec]);
    }));
  });

  it('holds at most 16 distinct names; repeats do not count', () => {
    const sixteen = Array.from({ length: MAX_INDICATORS }, (_, i) => `sma${i + 1}`);
    expect(keys([...sixteen, ...sixteen, 'sma1'].join(','))).toHaveLength(16);
    const over = failure([...sixteen, 'ema3'].join(','));
    expect(over.entry).toBe('ema3');
    expect(over.message).toBe('"ema3": at most 16 indicators per request');
  });

  it('names the entry it cannot read', () => {
    const cases: [string, string, RegExp][] = [
      ['sma20,foo,ema5', 'foo', /^"foo" is not an indicator name: expected sma<N>, ema<N>, rsi\[<N>\]/],
      ['SMA20', 'SMA20', /^"SMA20" is not an indicator name/],
      ['sma', 'sma', /^"sma" is not an indicator name/],
      ['sma-5', 'sma-5', /^"sma-5" is not an indicator name/],
      ['bb20_', 'bb20_', /^"bb20_" is not an indicator name/],
      ['macd12_26', 'macd12_26', /^"macd12_26" is not an indicator name/],
      ['sma5,,ema5', '', /^an empty name is not an indicator name/],
      ['sma0', 'sma0', /^"sma0": the period must be 1\.\.500, not 0$/],
      ['ema501', 'ema501', /^"ema501": the period must be 1\.\.500, not 501$/],
      ['sma1000000', 'sma1000000', /^"sma1000000" is not an indicator name/],
      ['rsi1', 'rsi1', /^"rsi1": the period must be 2\.\.500, not 1$/],
      ['bb0', 'bb0', /^"bb0": the period must be 1\.\.500/],
      ['bb20_0', 'bb20_0', /^"bb20_0": the band width must be above 0 and at most 10 standard deviations, not 0$/],
      ['bb20_10.5', 'bb20_10.5', /^"bb20_10\.5": the band width/],
      ['macd26_12_9', 'macd26_12_9', /^"macd26_12_9": the fast period \(26\) must be below the slow period \(12\)$/],
      ['macd12_12_9', 'macd12_12_9', /^"macd12_12_9": the fast period/],
      ['macd12_26_0', 'macd12_26_0', /^"macd12_26_0": the signal period must be 1\.\.500, not 0$/],
      ['macd0_26_9', 'macd0_26_9', /^"macd0_26_9": the fast period must be/],
      ['macd12_501_9', 'macd12_501_9', /^"macd12_501_9": the slow period must be/],
    ];
    for (const [text, entry, message] of cases) {
      const f = failure(text);
      expect(f.entry, text).toBe(entry);
      expect(f.message, text).toMatch(message);
    }
  });

  it('refuses an empty list', () => {
    for (const text of ['', '  ']) expect(failure(text).message).toMatch(/^no indicator named: expected a comma-separated list/);
  });
});

describe('warmUpCandles', () => {
  it('counts the candles before the first value', () => {
    const warmUps = specs('sma20,ema9,rsi,macd,bb20_3,vwap').map((s) => [s.key, warmUpCandles(s)]);
    expect(Object.fromEntries(warmUps)).toEqual({ sma20: 20, ema9: 9, rsi14: 15, macd12_26_9: 34, bb20_3: 20, vwap: 1 });
  });
});
