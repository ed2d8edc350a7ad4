// Configuration, property-based: any environment gives a frozen Config or a ConfigError naming the option, and values mean what they say.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TTL_SECONDS, loadNamespaces } from '../../src/cache/namespaces.js';
import { ENV_NAMES, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

type Key = keyof typeof ENV_NAMES;
/** The shipped namespaces' TTL variables, and the namespaces each one governs. */
const TTL_GOVERNS = new Map<string, string[]>();
for (const ns of loadNamespaces({})) if (ns.ttlEnv) TTL_GOVERNS.set(ns.ttlEnv, [...(TTL_GOVERNS.get(ns.ttlEnv) ?? []), ns.name]);
const TTL_VARS = [...TTL_GOVERNS.keys()];
const ALL_VARS = [...Object.values(ENV_NAMES), ...TTL_VARS, 'CACHE_NAMESPACES_FILE'];

/** What operators type, plus what they should not: near-valid numbers, booleans, lists, paths, JSON and junk. */
const envValue = fc.oneof(
  fc.integer({ min: -10, max: 70_000 }).map(String),
  fc.constantFrom('0', '1', '64', '1024', '65536', '1048576', '4294967296', '1e3', '0x10', '1.5', '-1', ' 8000 ', 'NaN', 'Infinity', ''),
  fc.constantFrom('true', 'false', 'TRUE', 'yes', 'on', 'simulator', 'replay', 'off', 'writes', 'all', 'debug', 'UTC', 'Mars/Olympus', '1 day', '30 days', '2 fortnights'),
  fc.constantFrom('US.AAPL,BTC-USD', 'a b', ',,,', '{}', '{"k":{"requests":5,"windowSeconds":60}}', '{"k":1}', '[', 'http://localhost:3000', '*', 'file:///x'),
  fc.constantFrom('/nonexistent/file.json', '/tmp', 'package.json', 'config/tickplant.example.json', 'config/cache-namespaces.json', 'a\0b'),
  fc.string({ maxLength: 40 }),
);
const anyEnv = fc.dictionary(fc.constantFrom(...ALL_VARS, 'TICKPLANT_CONFIG'), envValue, { maxKeys: 8 });

/** loadConfig's outcome: the config, or the ConfigError; any other exception fails the property. */
function outcome(env: NodeJS.ProcessEnv): { cfg: ReturnType<typeof loadConfig> } | { error: ConfigError } {
  try {
    return { cfg: loadConfig(env) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw new Error(`loadConfig(${JSON.stringify(env)}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    return { error: e };
  }
}

describe('loadConfig on any environment', () => {
  it('returns a frozen Config or throws a ConfigError, nothing else, and the same environment gives the same answer', () => {
    fc.assert(fc.property(anyEnv, (env) => {
      const r = outcome(env);
      if ('cfg' in r) {
        expect(Object.isFrozen(r.cfg)).toBe(true);
        expect(loadConfig(env)).toEqual(r.cfg);
      } else {
        expect(r.error.code).toBe('config_invalid');
        expect(r.error.message).toMatch(/^invalid configuration: /);
        expect(r.error.message).not.toMatch(/\n/); // one line, as start-up prints it
      }
    }), { numRuns: 600 });
  });

  it('a refused variable is named in the error (or its option key, or the file it points to)', () => {
    fc.assert(fc.property(fc.constantFrom(...ALL_VARS, 'TICKPLANT_CONFIG'), envValue, (name, value) => {
      const r = outcome({ [name]: value });
      if ('error' in r) {
        const key = Object.entries(ENV_NAMES).find(([, n]) => n === name)?.[0];
        const names = [name, ...(key ? [key] : []), ...(name === 'TICKPLANT_CONFIG' ? [value.trim()] : [])];
        expect(names.some((n) => r.error.message.includes(n)), `${name}=${JSON.stringify(value)}: ${r.error.message}`).toBe(true);
      }
    }), { numRuns: 800 });
  });
});

/** [variable, option, min, max, power of two]: integer options without cross-checks. */
const INTEGERS: [string, Key, number, number, boolean][] = [
  ['WEBSOCKET_PORT', 'port', 0, 65535, false],
  ['SHARDS', 'shards', 1, 64, false],
  ['BOOK_DEPTH', 'depth', 1, 200, false],
  ['REDIS_DB', 'redisDb', 0, 15, false],
  ['WS_MAX_MESSAGE_BYTES', 'wsMaxMessageBytes', 64, 1 << 20, false],
  ['WS_MAX_SUBSCRIPTIONS', 'wsMaxSubscriptions', 1, 100_000, false],
  ['HTTP_MAX_BODY_BYTES', 'httpMaxBodyBytes', 1024, 64 << 20, false],
  ['STALE_AFTER_MS', 'staleAfterMs', 100, 86_400_000, false],
  ['RAW_RING_CAPACITY', 'rawCapacity', 64, 1 << 20, true],
  ['INPUT_QUEUE_BYTES', 'inputQueueBytes', 1 << 16, 1 << 30, true],
  ['HISTORY_RING_CAPACITY', 'historyCapacity', 64, 1 << 22, true],
];

describe('values mean what they say', () => {
  it('an integer option takes exactly the in-range integers a value denotes (read as a number, spaces trimmed), and names itself otherwise', () => {
    const [lo, hi] = [-5, 2 ** 31];
    const spec = fc.constantFrom(...INTEGERS);
    const text = fc.oneof(
      fc.integer({ min: lo, max: hi }).map(String),
      spec.chain(([, , min, max]) => fc.integer({ min: min - 2, max: max + 2 }).map(String)),
      fc.integer({ min: 6, max: 30 }).map((k) => String(2 ** k)),
      fc.double({ noNaN: true }).map(String),
      fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.constantFrom(' ', '\t', '+', '-', '.0', 'e0', 'x', '_')).map(([n, j]) => (j === ' ' || j === '\t' ? `${j}${n}${j}` : j === '.0' || j === 'e0' || j === '_' ? `${n}${j}` : `${j}${n}`)),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(fc.property(spec, text, ([name, key, min, max, pow2], value) => {
      const r = outcome({ [name]: value });
      const trimmed = value.trim();
      if (trimmed === '') return; // unset: the default
      const n = Number(trimmed);
      const ok = Number.isInteger(n) && n >= min && n <= max && (!pow2 || (n & (n - 1)) === 0);
      if (ok) expect('cfg' in r && r.cfg[key], `${name}=${JSON.stringify(value)}`).toBe(n);
      else expect('error' in r && r.error.message, `${name}=${JSON.stringify(value)}`).toContain(`${key} (${name})`);
    }), { numRuns: 1500 });
  });

  it('a boolean option is true for "true" and "1", false for "false" and "0", and refused otherwise', () => {
    fc.assert(fc.property(fc.constantFrom('PERSIST', 'RATE_LIMIT_ENABLED', 'LOG_JSON'), fc.oneof(fc.constantFrom('true', 'false', '1', '0', ' true ', 'TRUE', 'yes', 'no', 'on', '2'), fc.string({ maxLength: 6 })), (name, value) => {
      const key = Object.entries(ENV_NAMES).find(([, n]) => n === name)![0] as Key;
      const r = outcome({ [name]: value });
      const t = value.trim();
      if (t === '') return;
      if (['true', '1'].includes(t)) expect('cfg' in r && r.cfg[key]).toBe(true);
      else if (['false', '0'].includes(t)) expect('cfg' in r && r.cfg[key]).toBe(false);
      else expect('error' in r && r.error.message).toContain(name);
    }), { numRuns: 500 });
  });

  it('a namespace TTL variable sets that namespace\'s TTL to whole seconds 1-30 days, and names itself otherwise', () => {
    fc.assert(fc.property(fc.constantFrom(...TTL_VARS), fc.oneof(fc.integer({ min: -2, max: MAX_TTL_SECONDS + 2 }).map(String), fc.constantFrom('1.5', '1e3', ' 60 ', '0x10', '+5', '0060'), fc.string({ maxLength: 8 })), (name, value) => {
      const r = outcome({ [name]: value });
      const t = value.trim();
      if (t === '') return;
      const n = /^\d{1,9}$/.test(t) ? Number(t) : NaN;
      if (n >= 1 && n <= MAX_TTL_SECONDS) {
        if (!('cfg' in r)) throw r.error;
        const governed = r.cfg.cacheNamespaces.filter((ns) => TTL_GOVERNS.get(name)!.includes(ns.name));
        expect(governed.length).toBe(TTL_GOVERNS.get(name)!.length);
        for (const ns of governed) expect(ns.ttlSeconds).toBe(n);
      } else {
        expect('error' in r && r.error.message).toContain(name);
      }
    }), { numRuns: 500 });
  });
});
