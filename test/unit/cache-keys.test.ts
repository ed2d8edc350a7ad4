// Cache keys: pattern compilation, value checks (globs, ':' injection, length), the memo, parse, and globs.
import { describe, expect, it } from 'vitest';
import { CacheKeyError, CachePatternError } from '../../src/cache/errors.js';
import { KeyPattern, globToRegExp, literalPrefix, prefixMayMatchTag } from '../../src/cache/keys.js';

const price = new KeyPattern('prices', 'price:{asset_type}:{symbol}');
const chart = new KeyPattern('chart_data', 'chart:{symbol}:{timeframe}');

function keyError(f: () => unknown): CacheKeyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CacheKeyError);
    expect((e as CacheKeyError).code).toBe('cache_key_invalid');
    return e as CacheKeyError;
  }
  throw new Error('expected a CacheKeyError');
}

describe('KeyPattern', () => {
  it('builds keys from params', () => {
    expect(price.build({ asset_type: 'crypto', symbol: 'BTC' })).toBe('price:crypto:BTC');
    expect(chart.build({ symbol: 'BTC', timeframe: '1D' })).toBe('chart:BTC:1D');
    expect(new KeyPattern('ms', 'market_status').build({})).toBe('market_status');
    expect(new KeyPattern('x', 'x:v1:{id}:tail').build({ id: 42 })).toBe('x:v1:42:tail');
  });

  it('names the namespace and the parameter when a value is missing or not a string/number', () => {
    expect(keyError(() => price.build({ asset_type: 'crypto' })).message).toBe('prices.symbol: is required');
    expect(keyError(() => price.build({ asset_type: 'crypto', symbol: NaN })).param).toBe('symbol');
    expect(keyError(() => price.build({ asset_type: true as unknown as string, symbol: 'BTC' })).param).toBe('asset_type');
  });

  it('refuses glob characters, whitespace, non-ASCII and over-long values', () => {
    for (const bad of ['*', 'BT?', 'a[b]', 'a\\b', 'has space', 'tab\t', 'é', '', 'x'.repeat(129)]) {
      keyError(() => price.build({ asset_type: 'crypto', symbol: bad }));
    }
    expect(price.build({ asset_type: 'crypto', symbol: 'x'.repeat(128) })).toHaveLength(13 + 128);
  });

  it('allows ":" only in a final placeholder, where it cannot forge another key shape', () => {
    expect(price.build({ asset_type: 'crypto', symbol: 'BINANCE:BTCUSDT' })).toBe('price:crypto:BINANCE:BTCUSDT');
    expect(keyError(() => price.build({ asset_type: 'crypto:x', symbol: 'BTC' })).param).toBe('asset_type');
    expect(keyError(() => chart.build({ symbol: 'A:1D', timeframe: '1D' })).param).toBe('symbol');
    // A literal after the last placeholder makes it non-final.
    keyError(() => new KeyPattern('x', 'x:{id}:tail').build({ id: 'a:b' }));
  });

  it('memoises built keys (same string object) and still validates every new value', () => {
    const p = new KeyPattern('prices', 'price:{asset_type}:{symbol}');
    const a = p.build({ asset_type: 'stock', symbol: 'NVDA' });
    expect(p.build({ asset_type: 'stock', symbol: 'NVDA' })).toBe(a);
    keyError(() => p.build({ asset_type: 'stock', symbol: 'NV*' }));
    keyError(() => p.build({ asset_type: 'stock', symbol: 'NV*' })); // a refused value is never memoised
    expect(p.build({ asset_type: 'stock', symbol: 1 })).toBe('price:stock:1');
    for (let i = 0; i < 20_000; i++) p.build({ asset_type: 'stock', symbol: `S${i}` }); // past the memo bound
    expect(p.build({ asset_type: 'stock', symbol: 'NVDA' })).toBe('price:stock:NVDA');
  });

  it('parses its own keys back into params, and nothing else', () => {
    expect(price.parse('price:crypto:BINANCE:BTC')).toEqual({ asset_type: 'crypto', symbol: 'BINANCE:BTC' });
    expect(chart.parse('chart:BTC:1D')).toEqual({ symbol: 'BTC', timeframe: '1D' });
    expect(chart.parse('chart:BTC')).toBeUndefined();
    expect(price.parse('prediction:BTC')).toBeUndefined();
  });

  it('makes a glob with some params fixed', () => {
    expect(price.glob({ asset_type: 'crypto' })).toBe('price:crypto:*');
    expect(price.glob()).toBe('price:*:*');
    keyError(() => price.glob({ symbol: 'B*' }));
  });

  it('refuses patterns without a literal tag, repeated or malformed placeholders', () => {
    for (const bad of ['{symbol}', 'Price:{s}', 'p:{a}:{a}', 'p:{a}x', 'p:{A}', 'p::x', 'p:a b']) {
      expect(() => new KeyPattern('x', bad), bad).toThrow(TypeError);
    }
    expect(price.tag).toBe('price');
    expect(price.names).toEqual(['asset_type', 'symbol']);
  });
});

describe('globs', () => {
  it('matches the keys Redis MATCH would', () => {
    const cases: [string, string, boolean][] = [
      ['stock_price:AAPL*', 'stock_price:AAPL', true],
      ['stock_price:AAPL*', 'stock_price:AAPLX', true],
      ['stock_price:AAPL*', 'stock_price:MSFT', false],
      ['price:?????:BTC', 'price:stock:BTC', true],
      ['price:?????:BTC', 'price:crypto:BTC', false],
      ['signal:[ab]*', 'signal:b1', true],
      ['signal:[^ab]*', 'signal:b1', false],
      ['signal:[a-c]1', 'signal:c1', true],
      ['chart:B.C:*', 'chart:BXC:1D', false], // '.' is literal, not "any character"
      ['*', 'anything:at:all', true],
    ];
    for (const [glob, key, match] of cases) expect(globToRegExp(glob).test(key), `${glob} ~ ${key}`).toBe(match);
  });

  it('refuses empty, unbalanced, escaped or whitespace patterns', () => {
    for (const bad of ['', 'a[b', 'a]b', 'a\\*', 'a b', 'x'.repeat(513), 'a[*]']) {
      expect(() => globToRegExp(bad), bad).toThrow(CachePatternError);
    }
  });

  it('knows which namespaces a pattern can reach from its literal prefix', () => {
    expect(literalPrefix('stock_price:AAPL*')).toBe('stock_price:AAPL');
    expect(literalPrefix('*')).toBe('');
    expect(prefixMayMatchTag('stock_price:AAPL', 'stock_price')).toBe(true);
    expect(prefixMayMatchTag('stock_price:AAPL', 'price')).toBe(false);
    expect(prefixMayMatchTag('st', 'stock_price')).toBe(true);
    expect(prefixMayMatchTag('', 'session')).toBe(true);
    expect(prefixMayMatchTag('price', 'price')).toBe(true);
  });
});
