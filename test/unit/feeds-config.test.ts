// FEEDS: what it accepts, the served names it gives, and that every refusal names the entry.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { registerExchange, servedName, unregisterExchange } from '../../src/feeds/exchanges.js';

const load = (env: Record<string, string>) => loadConfig({ TICKPLANT_CONFIG: '', ...env });
const refusal = (env: Record<string, string>): string => {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const message = (e as Error).message;
    expect(message).not.toMatch(/\n/);
    expect(message).toMatch(/^invalid configuration: /);
    return message;
  }
  throw new Error(`${JSON.stringify(env)} was accepted`);
};

describe('FEEDS', () => {
  it('parses exchange, simulator and replay entries, with served names', () => {
    const c = load({ FEEDS: ' binance:BTCUSDT, ETHUSDT ; coinbase:BTC-USD;KRAKEN:BTC/USD; simulator:US.AAPL;replay:/tmp/books.ndjson;' });
    expect(c.feeds?.map((e) => [e.kind, e.name, e.symbols.map((s) => s.served), e.file])).toEqual([
      ['exchange', 'binance', ['BINANCE.BTCUSDT', 'BINANCE.ETHUSDT'], undefined],
      ['exchange', 'coinbase', ['COINBASE.BTC-USD'], undefined],
      ['exchange', 'kraken', ['KRAKEN.BTC-USD'], undefined],
      ['simulator', 'simulator', ['US.AAPL'], undefined],
      ['replay', 'replay', [], '/tmp/books.ndjson'],
    ]);
    expect(c.feeds?.[2].symbols[0].native).toBe('BTC/USD'); // the connector gets the name as configured
    expect(Object.isFrozen(c.feeds)).toBe(true);
  });

  it('takes a bare simulator (its built-in symbols) and leaves FEED/SYMBOLS as they were when unset', () => {
    expect(load({ FEEDS: 'simulator' }).feeds).toMatchObject([{ kind: 'simulator', symbols: [] }]);
    const legacy = load({ FEED: 'simulator', SYMBOLS: 'US.AAPL' });
    expect(legacy.feeds).toBeUndefined();
    expect(legacy.symbols).toEqual(['US.AAPL']);
  });

  it('serves <EXCHANGE>.<SYMBOL> with / written -', () => {
    expect(servedName('kraken', 'ETH/EUR')).toBe('KRAKEN.ETH-EUR');
    expect(servedName('binance', 'BTCUSDT')).toBe('BINANCE.BTCUSDT');
  });

  it.each([
    ['an unknown exchange', 'binance:BTCUSDT;bitfinex:BTCUSD', 'bitfinex:BTCUSD', /unknown feed "bitfinex" \(known: binance, coinbase, kraken, simulator, replay\)/],
    ['an exchange without symbols', 'coinbase', 'coinbase', /expected coinbase:<symbol>/],
    ['an exchange with an empty list', 'kraken:', 'kraken:', /expected kraken:<symbol>/],
    ['an empty symbol', 'binance:BTCUSDT,,ETHUSDT', 'binance:BTCUSDT,,ETHUSDT', /empty symbol/],
    ['a symbol of the wrong shape', 'coinbase:BTCUSD', 'coinbase:BTCUSD', /"BTCUSD" is not a coinbase symbol \(e\.g\. BTC-USD\)/],
    ['a lower-case Binance symbol', 'binance:btcusdt', 'binance:btcusdt', /not a binance symbol/],
    ['a symbol twice in one entry', 'binance:BTCUSDT,BTCUSDT', 'binance:BTCUSDT,BTCUSDT', /BINANCE\.BTCUSDT is listed twice/],
    ['two symbols served under one name', 'kraken:BTC/USD,BTC-USD', 'kraken:BTC/USD,BTC-USD', /KRAKEN\.BTC-USD is listed twice/],
    ['a symbol in two entries', 'simulator:US.AAPL;replay:/x;simulator:X', 'simulator:X', /simulator appears twice/],
    ['a simulator symbol clashing with an exchange one', 'binance:BTCUSDT;simulator:BINANCE.BTCUSDT', 'simulator:BINANCE.BTCUSDT', /listed twice \(also in "binance:BTCUSDT"\)/],
    ['an exchange twice', 'binance:BTCUSDT;binance:ETHUSDT', 'binance:ETHUSDT', /binance appears twice/],
    ['a replay without a file', 'replay', 'replay', /expected replay:<file/],
    ['a simulator symbol that cannot be served', 'simulator:a b', 'simulator:a b', /symbol "a b"/],
  ])('refuses %s, naming the entry', (_what, feeds, entry, why) => {
    const m = refusal({ FEEDS: feeds });
    expect(m).toContain('FEEDS');
    expect(m).toContain(`entry ${JSON.stringify(entry)}`);
    expect(m).toMatch(why);
  });

  it('refuses an empty list, more symbols than MAX_SYMBOLS, and FEEDS beside FEED or SYMBOLS', () => {
    expect(refusal({ FEEDS: ';;' })).toMatch(/feeds \(FEEDS\) names no feed/);
    expect(refusal({ FEEDS: 'binance:BTCUSDT,ETHUSDT', MAX_SYMBOLS: '1' })).toMatch(/FEEDS.*MAX_SYMBOLS/);
    expect(refusal({ FEEDS: 'simulator', SYMBOLS: 'US.AAPL' })).toMatch(/FEEDS.*replaces.*SYMBOLS/);
    expect(refusal({ FEEDS: 'simulator', FEED: 'replay' })).toMatch(/FEEDS.*replaces.*FEED/);
  });

  it('checks the endpoints', () => {
    expect(refusal({ BINANCE_WS_URL: 'https://stream.binance.com' })).toMatch(/binanceWsUrl \(BINANCE_WS_URL\): expected a ws or wss URL/);
    expect(refusal({ BINANCE_REST_URL: 'nope' })).toMatch(/BINANCE_REST_URL/);
    expect(load({ KRAKEN_WS_URL: 'ws://127.0.0.1:9000/v2', BINANCE_ROTATE_MS: '500' })).toMatchObject({ krakenWsUrl: 'ws://127.0.0.1:9000/v2', binanceRotateMs: 500 });
  });

  it('knows an exchange registered before the configuration is loaded, until it is removed', () => {
    registerExchange('scripted', {
      module: 'file:///nowhere.ts', factory: 'create', served: (s) => servedName('scripted', s), symbol: /^[A-Z]+$/, example: 'ABC',
      options: () => ({ wsUrl: 'ws://127.0.0.1:1' }),
    });
    try {
      expect(load({ FEEDS: 'scripted:ABC' }).feeds?.[0].symbols).toEqual([{ native: 'ABC', served: 'SCRIPTED.ABC' }]);
    } finally {
      unregisterExchange('scripted');
    }
    expect(refusal({ FEEDS: 'scripted:ABC' })).toMatch(/unknown feed "scripted"/);
    expect(() => registerExchange('replay', {} as never)).toThrow(RangeError);
  });
});
