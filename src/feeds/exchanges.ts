// The exchanges FEEDS may name: each one's connector (module and factory), served-name rule and endpoint options.
//
// Definitions are plain data plus two pure functions, read in the main thread (configuration,
// the supervisor's symbol registration). The feed actor gets the module URL and the options
// as data and imports the connector itself, so a connector runs in the actor's thread and
// nothing here is loaded before FEEDS names it.

import type { Config } from '../config.js';

/** The configuration an exchange's connector options are taken from. */
export type ExchangeSettings = Pick<Config, 'binanceWsUrl' | 'binanceRestUrl' | 'binanceRotateMs' | 'coinbaseWsUrl' | 'krakenWsUrl'>;

export interface ExchangeDefinition {
  /** `file:` URL of the module exporting `factory(opts: ConnectorOptions & …): Connector`. */
  module: string;
  factory: string;
  /** The name a native symbol is served under: `BTCUSDT` → `BINANCE.BTCUSDT`. */
  served(native: string): string;
  /** What a native symbol looks like (checked at start), and one for the error message. */
  symbol: RegExp;
  example: string;
  /** Connector options besides symbols, depth and log: plain data, it crosses to the feed actor. */
  options(cfg: ExchangeSettings): { wsUrl: string; restUrl?: string; [option: string]: unknown };
}

/** Names FEEDS gives its other entries, so no exchange may take them. */
export const MAIN_THREAD_FEEDS = ['simulator', 'replay'] as const;
const NAME = /^[a-z][a-z0-9_-]{0,15}$/;

/** `<EXCHANGE>.<symbol>`, `/` written `-`: `KRAKEN.BTC-USD`, in the style of `US.AAPL`. */
export function servedName(exchange: string, native: string): string {
  return `${exchange.toUpperCase()}.${native.replaceAll('/', '-')}`;
}

/** A connector module beside this file: `.ts` when running from source, `.js` in dist/. */
function connectorModule(path: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${path}${ext}`, import.meta.url).href;
}

const registry = new Map<string, ExchangeDefinition>([
  ['binance', {
    module: connectorModule('binance/connector'),
    factory: 'createBinanceConnector',
    served: (s) => servedName('binance', s),
    symbol: /^[A-Z0-9]{2,24}$/,
    example: 'BTCUSDT',
    options: (c) => ({ wsUrl: c.binanceWsUrl, restUrl: c.binanceRestUrl, rotateMs: c.binanceRotateMs }),
  }],
  ['coinbase', {
    module: connectorModule('coinbase/connector'),
    factory: 'createCoinbaseConnector',
    served: (s) => servedName('coinbase', s),
    symbol: /^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$/,
    example: 'BTC-USD',
    options: (c) => ({ wsUrl: c.coinbaseWsUrl }),
  }],
  ['kraken', {
    module: connectorModule('kraken/connector'),
    factory: 'createKrakenConnector',
    served: (s) => servedName('kraken', s),
    symbol: /^[A-Z0-9]{1,12}[/-][A-Z0-9]{1,12}$/,
    example: 'BTC/USD',
    options: (c) => ({ wsUrl: c.krakenWsUrl }),
  }],
]);

export function exchangeDefinition(name: string): ExchangeDefinition | undefined {
  return registry.get(name);
}

export function exchangeNames(): string[] {
  return [...registry.keys()];
}

/**
 * Adds (or replaces) an exchange FEEDS may name, before the configuration is loaded: a
 * connector kept outside src/feeds/, or a scripted one in tests. Its module must be importable
 * from a worker thread.
 */
export function registerExchange(name: string, def: ExchangeDefinition): void {
  if (!NAME.test(name) || (MAIN_THREAD_FEEDS as readonly string[]).includes(name)) {
    throw new RangeError(`exchange name ${JSON.stringify(name)}: expected 1-16 of [a-z0-9_-], starting with a letter, not simulator or replay`);
  }
  registry.set(name, def);
}

/** Removes an exchange added by registerExchange (tests clean up after themselves). */
export function unregisterExchange(name: string): void {
  registry.delete(name);
}
