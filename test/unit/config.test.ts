// loadConfig: defaults, env and file precedence, and a ConfigError naming option and env variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV_NAMES, configSchema, loadConfig, nextPowerOfTwo } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tickplant-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes `text` to a fresh file in the temp dir and returns its path. */
function tempFile(text: string): string {
  const path = join(dir, `config-${files++}.json`);
  writeFileSync(path, text);
  return path;
}

/**
 * An empty JSON file stands in for config/tickplant.json, which loadConfig reads when
 * TICKPLANT_CONFIG is unset: a developer's local file must not change what these tests see.
 */
const EMPTY_FILE = tempFile('{}');
const load: typeof loadConfig = (env = {}, overrides) => loadConfig({ TICKPLANT_CONFIG: EMPTY_FILE, ...env }, overrides);

/** The ConfigError loadConfig throws for `env`; fails the test if it throws nothing else. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('config_invalid');
    return e as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  const c = load({});

  it('uses the documented defaults with an empty environment', () => {
    expect(c.port).toBe(8000);
    expect(c.depth).toBe(20);
    expect(c.rawCapacity).toBe(16_384);
    expect(c.historyResolutionMs).toBe(1000);
    expect(c.feed).toBe('simulator');
    expect(c.marketTimeZone).toBe('UTC');
    expect(c.logJson).toBe(false);
    expect(c.symbols).toBeUndefined();
    expect(c.databaseUrl).toBeUndefined();
    expect(Number.isInteger(c.shards)).toBe(true);
    expect(c.shards).toBeGreaterThanOrEqual(1);
  });

  it('sizes the history ring to the next power of two holding 36 h of points', () => {
    // 36 h at 1 s = 129,600 points → 2^17.
    expect(c.historyCapacity).toBe(131_072);
    expect(c.historyCapacity).toBeGreaterThanOrEqual((36 * 3600_000) / c.historyResolutionMs);
    expect(c.historyCapacity / 2).toBeLessThan((36 * 3600_000) / c.historyResolutionMs);
    // At 1 min: 2,160 points → 4,096.
    expect(load({ HISTORY_RESOLUTION_MS: '60000' }).historyCapacity).toBe(4096);
    // An explicit capacity wins over the derived one.
    expect(load({ HISTORY_RING_CAPACITY: '1024' }).historyCapacity).toBe(1024);
  });

  it('nextPowerOfTwo rounds up and keeps powers of two', () => {
    expect([1, 2, 3, 64, 65, 129_600].map(nextPowerOfTwo)).toEqual([1, 2, 4, 64, 128, 131_072]);
  });

  it('returns a frozen object with a frozen symbol list', () => {
    expect(Object.isFrozen(c)).toBe(true);
    const s = load({ SYMBOLS: 'A,B' });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.symbols)).toBe(true);
    expect(() => {
      (s as { port: number }).port = 1;
    }).toThrow(TypeError); // ESM is strict mode: writing a frozen property throws
    expect(s.port).toBe(8000);
  });
});

describe('loadConfig from the environment', () => {
  it('reads the options from their environment variables (WEBSOCKET_PORT, DATABASE_URL, …)', () => {
    const c = load({
      WEBSOCKET_PORT: '9001',
      DATABASE_URL: 'postgres://u@localhost/tick',
      REDIS_URL: 'redis://localhost:6379',
      REDIS_PASSWORD: 'hunter2',
      SYMBOLS: 'US.AAPL, BTC-USD ,,ES:FUT',
      BOOK_DEPTH: '50',
      LOG_JSON: '1',
    });
    expect(c.port).toBe(9001);
    expect(c.databaseUrl).toBe('postgres://u@localhost/tick');
    expect(c.redisUrl).toBe('redis://localhost:6379');
    expect(c.redisPassword).toBe('hunter2');
    expect(c.symbols).toEqual(['US.AAPL', 'BTC-USD', 'ES:FUT']); // trimmed, empties dropped
    expect(c.depth).toBe(50);
    expect(c.logJson).toBe(true);
  });

  it('ignores empty variables', () => {
    expect(load({ WEBSOCKET_PORT: '', BOOK_DEPTH: '' })).toMatchObject({ port: 8000, depth: 20 });
  });

  it('lets overrides win over the environment', () => {
    expect(load({ WEBSOCKET_PORT: '9001' }, { port: 0 }).port).toBe(0);
  });
});

describe('loadConfig from a JSON file', () => {
  it('reads the file named by TICKPLANT_CONFIG', () => {
    const path = tempFile(JSON.stringify({ port: 7000, depth: 10, symbols: ['X', 'Y'], feed: 'replay', replayFile: '/tmp/r.ndjson' }));
    const c = load({ TICKPLANT_CONFIG: path });
    expect(c.port).toBe(7000);
    expect(c.depth).toBe(10);
    expect(c.symbols).toEqual(['X', 'Y']);
    expect(c.feed).toBe('replay');
    expect(c.replayFile).toBe('/tmp/r.ndjson');
    expect(c.rawCapacity).toBe(16_384); // not in the file: default
  });

  it('lets the environment win over the file', () => {
    const path = tempFile(JSON.stringify({ port: 7000, depth: 10 }));
    const c = load({ TICKPLANT_CONFIG: path, WEBSOCKET_PORT: '7001' });
    expect(c.port).toBe(7001);
    expect(c.depth).toBe(10);
  });

  it('rejects a missing file, naming the path and TICKPLANT_CONFIG', () => {
    const path = join(dir, 'does-not-exist.json');
    const e = configError({ TICKPLANT_CONFIG: path });
    expect(e.message).toContain('TICKPLANT_CONFIG');
    expect(e.message).toContain(path);
  });

  it.each([
    ['an array', '[1,2]'],
    ['a number', '42'],
    ['null', 'null'],
    ['broken JSON', '{"port": '],
  ])('rejects a file holding %s', (_what, text) => {
    const path = tempFile(text);
    const e = configError({ TICKPLANT_CONFIG: path });
    expect(e.message).toContain('TICKPLANT_CONFIG');
    expect(e.message).toContain(path);
    expect(e.message).toContain('not a JSON object');
  });

  it('validates values from the file like those from the environment', () => {
    const e = configError({ TICKPLANT_CONFIG: tempFile(JSON.stringify({ depth: 0 })) });
    expect(e.message).toContain('depth');
    expect(e.message).toContain('BOOK_DEPTH');
  });
});

describe('loadConfig rejects invalid values, naming the option and its variable', () => {
  it.each([
    ['port', 'WEBSOCKET_PORT', { WEBSOCKET_PORT: 'abc' }],
    ['port', 'WEBSOCKET_PORT', { WEBSOCKET_PORT: '65536' }],
    ['depth', 'BOOK_DEPTH', { BOOK_DEPTH: '0' }],
    ['depth', 'BOOK_DEPTH', { BOOK_DEPTH: '2.5' }],
    ['rawCapacity', 'RAW_RING_CAPACITY', { RAW_RING_CAPACITY: '1000' }],
    ['historyCapacity', 'HISTORY_RING_CAPACITY', { HISTORY_RING_CAPACITY: '100' }],
    ['shards', 'SHARDS', { SHARDS: '0' }],
    ['feed', 'FEED', { FEED: 'kafka' }],
    ['replayFile', 'REPLAY_FILE', { FEED: 'replay' }],
    ['wsConflateBytes', 'WS_CONFLATE_BYTES', { WS_CONFLATE_BYTES: '1048576', WS_MAX_BACKPRESSURE: '1048576' }],
    ['wsConflateBytes', 'WS_CONFLATE_BYTES', { WS_CONFLATE_BYTES: '2097152', WS_MAX_BACKPRESSURE: '1048576' }],
    ['restartBackoffMaxMs', 'RESTART_BACKOFF_MAX_MS', { RESTART_BACKOFF_MS: '1000', RESTART_BACKOFF_MAX_MS: '500' }],
    ['marketTimeZone', 'MARKET_TIMEZONE', { MARKET_TIMEZONE: 'Mars/Base' }],
    ['symbols', 'SYMBOLS', { SYMBOLS: 'AAPL,BAD SYMBOL' }],
    ['symbols', 'SYMBOLS', { SYMBOLS: 'AAPL,ÄPFEL' }],
    ['symbols', 'SYMBOLS', { SYMBOLS: ' , ' }], // nothing left after dropping empties
    ['logJson', 'LOG_JSON', { LOG_JSON: 'yes' }],
  ])('%s (%s) from %j', (option, variable, env) => {
    const e = configError(env as NodeJS.ProcessEnv);
    expect(e.message).toContain(option);
    expect(e.message).toContain(variable);
  });

  it('names the limit WS_CONFLATE_BYTES must stay below', () => {
    const e = configError({ WS_CONFLATE_BYTES: '1048576', WS_MAX_BACKPRESSURE: '1048576' });
    expect(e.message).toContain('WS_MAX_BACKPRESSURE');
  });

  it('requires a 32 KiB margin between WS_CONFLATE_BYTES and WS_MAX_BACKPRESSURE (else a sweep on every frame)', () => {
    expect(configError({ WS_CONFLATE_BYTES: String(1048576 - 1024), WS_MAX_BACKPRESSURE: '1048576' }).message).toMatch(/32 KiB/);
    expect(load({ WS_CONFLATE_BYTES: String(1048576 - 32768), WS_MAX_BACKPRESSURE: '1048576' }).wsConflateBytes).toBe(1048576 - 32768);
  });

  it('accepts the boundary values just inside each limit', () => {
    const c = load({
      WEBSOCKET_PORT: '65535', BOOK_DEPTH: '200', RAW_RING_CAPACITY: '64',
      WS_CONFLATE_BYTES: '1015808', WS_MAX_BACKPRESSURE: '1048576',
      MARKET_TIMEZONE: 'America/New_York', FEED: 'replay', REPLAY_FILE: 'x.ndjson',
    });
    expect(c).toMatchObject({ port: 65535, depth: 200, rawCapacity: 64, wsConflateBytes: 1015808, marketTimeZone: 'America/New_York' });
  });
});

describe('ENV_NAMES', () => {
  it('has a variable for every option of the schema, and no other', () => {
    const keys = Object.keys(configSchema.shape);
    for (const key of keys) expect(ENV_NAMES, key).toHaveProperty(key);
    expect(Object.keys(ENV_NAMES).sort()).toEqual([...keys].sort());
  });

  it('uses each variable name once, in upper snake case', () => {
    const names = Object.values(ENV_NAMES);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });
});

describe('loadConfig regressions', () => {
  it('rejects an unknown option in the file, naming it (a typo must not pass silently)', () => {
    const e = configError({ TICKPLANT_CONFIG: tempFile('{"prot": 9000}') });
    expect(e.message).toMatch(/unknown option\(s\) prot/);
  });

  it('treats a blank environment variable as unset', () => {
    expect(load({ WEBSOCKET_PORT: '  ' }).port).toBe(8000);
  });
});
