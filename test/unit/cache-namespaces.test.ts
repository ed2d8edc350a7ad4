// Cache namespaces: the shipped config/cache-namespaces.json (its TTL classes), env overrides, and ConfigErrors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NamespaceState } from '../../src/cache/namespace-state.js';
import { type Namespace, loadNamespaces, parseNamespaces } from '../../src/cache/namespaces.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tickplant-cache-ns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shipped = (env: NodeJS.ProcessEnv = {}) => loadNamespaces(env, 'config/cache-namespaces.json');
const byName = (list: readonly Namespace[]) => Object.fromEntries(list.map((n) => [n.name, n]));

function configError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('config_invalid');
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const base = { name: 'a', keyPattern: 'a:{id}', ttlSeconds: 10, strategy: 'cache-only', memoryLimitBytes: 65536, compressionThresholdBytes: 1024 };
const one = (over: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => parseNamespaces({ namespaces: [{ ...base, ...over }] }, env, 'test.json');

describe('the shipped namespaces', () => {
  const ns = byName(shipped());
  const ttl = (name: string, params: Record<string, string>) => new NamespaceState(ns[name]).ttlMs(params) / 1000;

  it('carry their TTL classes: per asset type, per hot symbol, per namespace', () => {
    expect(ttl('prices', { asset_type: 'crypto', symbol: 'BTC' })).toBe(30);
    expect(ttl('prices', { asset_type: 'stock', symbol: 'NVDA' })).toBe(30);
    expect(ttl('prices', { asset_type: 'macro', symbol: 'GDP' })).toBe(300);
    expect(ttl('predictions', { symbol: 'BTC' })).toBe(1);
    expect(ttl('predictions', { symbol: 'NVDA' })).toBe(1);
    expect(ttl('predictions', { symbol: 'SOL' })).toBe(3);
    const plain = { chart_data: 600, ws_history: 300, stock_prices: 300, options_chains: 300, signals: 1800, sessions: 3600, analytics: 900, market_status: 60 };
    for (const [name, s] of Object.entries(plain)) expect(ns[name].ttlSeconds, name).toBe(s);
    expect(ns.market_data.strategy).toBe('refresh-ahead');
    expect(ns.market_data.source).toBe('market_data');
    expect(ns.price.keys.build({ symbol: 'BTC-USD' })).toBe('market_price:BTC-USD');
    expect(ns.price.source).toBe('price');
  });

  it('use their key patterns and strategies', () => {
    expect(ns.prices.keys.build({ asset_type: 'crypto', symbol: 'BTC' })).toBe('price:crypto:BTC');
    expect(ns.predictions.keys.build({ symbol: 'BTC' })).toBe('prediction:BTC');
    expect(ns.ws_history.keys.build({ symbol: 'BTC', timeframe: '1D' })).toBe('ws_history:BTC:1D');
    expect(ns.stock_prices.keys.build({ symbol: 'AAPL' })).toBe('stock_price:AAPL');
    expect(ns.stock_prices.strategy).toBe('write-through');
    expect(ns.signals.strategy).toBe('write-through');
    expect(ns.sessions.strategy).toBe('cache-only');
    expect(ns.options_chains.refreshAheadRatio).toBe(0.2);
  });

  it('take TTLs from the TTL_* environment variables', () => {
    const env = { TTL_STOCK_PRICES: '10', TTL_OPTIONS_DATA: '20', TTL_SIGNALS: '30', TTL_USER_SESSIONS: '40', TTL_ANALYTICS: '50', TTL_MARKET_STATUS: ' 5 ' };
    const o = byName(shipped(env));
    expect([o.stock_prices, o.options_chains, o.options_summary, o.signals, o.sessions, o.analytics, o.market_status].map((n) => n.ttlSeconds)).toEqual([10, 20, 20, 30, 40, 50, 5]);
    expect(o.prices.ttlSeconds).toBe(30);
  });

  it('refuse a bad TTL variable, naming it', () => {
    for (const bad of ['abc', '0', '-5', '1.5', '99999999']) {
      expect(configError(() => shipped({ TTL_SIGNALS: bad }))).toContain(`TTL_SIGNALS (TTL of cache namespace "signals"): expected whole seconds 1-2592000, got "${bad}"`);
    }
    expect(byName(shipped({ TTL_SIGNALS: '' })).signals.ttlSeconds).toBe(1800); // empty = unset
  });

  it('are frozen', () => {
    const list = shipped();
    expect(Object.isFrozen(list)).toBe(true);
    expect(Object.isFrozen(list[0])).toBe(true);
  });
});

describe('namespace validation', () => {
  it('names the namespace and field', () => {
    expect(configError(() => one({ ttlSeconds: 0 }))).toMatch(/test\.json: namespace "a" ttlSeconds: /);
    expect(configError(() => one({ strategy: 'lazy' }))).toMatch(/namespace "a" strategy: /);
    expect(configError(() => one({ colour: 'red' }))).toMatch(/namespace "a" colour: unknown field/);
    expect(configError(() => one({ keyPattern: '{id}' }))).toMatch(/namespace "a" keyPattern: .*literal tag/);
    expect(configError(() => one({ memoryLimitBytes: 10 }))).toMatch(/memoryLimitBytes/);
  });

  it('ties strategies to sources', () => {
    expect(configError(() => one({ strategy: 'read-through' }))).toMatch(/source: is required by strategy read-through/);
    expect(configError(() => one({ strategy: 'cache-aside', source: 'postgres' }))).toMatch(/source: must be absent for strategy cache-aside/);
    expect(configError(() => one({ refreshAheadRatio: 0.5 }))).toMatch(/refreshAheadRatio: needs a loader/);
    expect(one({ strategy: 'refresh-ahead', source: 'x' })[0].refreshAheadRatio).toBe(0.2);
    expect(one({ strategy: 'read-through', source: 'x' })[0].refreshAheadRatio).toBeUndefined();
  });

  it('needs distinct names and tags, and overrides on real placeholders', () => {
    expect(configError(() => parseNamespaces({ namespaces: [base, base] }))).toMatch(/tag "a" is already used|declared twice/);
    expect(configError(() => parseNamespaces({ namespaces: [base, { ...base, name: 'b' }] }))).toMatch(/tag "a" is already used by namespace "a"/);
    expect(configError(() => one({ ttlOverrides: [{ param: 'nope', values: ['x'], ttlSeconds: 1 }] }))).toMatch(/param "nope" is not a placeholder of a:\{id\}/);
  });

  it('reports a missing or unparsable file', () => {
    expect(configError(() => loadNamespaces({}, join(dir, 'absent.json')))).toMatch(/does not exist/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"namespaces": [');
    expect(configError(() => loadNamespaces({}, broken))).toMatch(/cannot read .*broken\.json/);
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ namespaces: [base] }));
    expect(loadNamespaces({ CACHE_NAMESPACES_FILE: path })[0].name).toBe('a');
    expect(configError(() => parseNamespaces({ namespaces: [] }))).toMatch(/namespaces/);
  });
});
