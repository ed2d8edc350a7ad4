// The README's configuration table against the config schema: every variable, no other, the same defaults.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNamespaces } from '../../src/cache/namespaces.js';
import { ENV_NAMES, configSchema, loadConfig } from '../../src/config.js';
import { DEFAULT_SYMBOLS } from '../../src/feeds/simulator.js';

const fromRoot = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** What the schema says: each variable's default (undefined: none). */
const schemaDefaults = configSchema.parse({}) as Record<string, unknown>;
const expected = new Map<string, unknown>(Object.entries(ENV_NAMES).map(([key, name]) => [name, schemaDefaults[key]]));
// The TTL_* variables are declared by the cache namespaces file (each namespace's ttlEnv),
// not by the schema; their default is the namespace's ttlSeconds.
const namespacesFile = fromRoot(String(schemaDefaults.cacheNamespacesFile));
const ttlDefaults = new Map<string, Set<number>>();
for (const ns of loadNamespaces({}, namespacesFile)) {
  if (ns.ttlEnv === undefined) continue;
  if (!ttlDefaults.has(ns.ttlEnv)) ttlDefaults.set(ns.ttlEnv, new Set());
  ttlDefaults.get(ns.ttlEnv)!.add(ns.ttlSeconds);
}
for (const [name, ttls] of ttlDefaults) expected.set(name, ttls.size === 1 ? [...ttls][0] : ttls);

/**
 * Defaults the README states as a rule rather than a value, because the value depends on the
 * machine, on another option or on the time: the exact README words, and a check of the rule
 * where it can be checked (a changed rule or wording fails here until this list follows).
 */
const COMPUTED: Record<string, { words: string; holds: () => boolean }> = {
  // One core is left to the supervisor, the front and the feed; the schema clamps to its 1..64.
  SHARDS: { words: 'cores − 1 (≥ 1)', holds: () => schemaDefaults.shards === Math.min(64, Math.max(1, availableParallelism() - 1)) },
  // Derived from HISTORY_RESOLUTION_MS by loadConfig: a power of two covering 36 h.
  HISTORY_RING_CAPACITY: {
    words: '≥ 36 h of points',
    holds: () => {
      const c = loadConfig({ TICKPLANT_CONFIG: '' });
      return c.historyCapacity * c.historyResolutionMs >= 36 * 3600_000;
    },
  },
  // Unset: a month on a server of one's own; an hour on the embedded one, whose default run fills gigabytes an hour.
  RETENTION: {
    words: '30 days with DATABASE_URL; 1 hour embedded',
    holds: () => schemaDefaults.retention === undefined
      && loadConfig({ TICKPLANT_CONFIG: '', DATABASE_URL: 'postgres://127.0.0.1/x' }).retention === '30 days'
      && loadConfig({ TICKPLANT_CONFIG: '' }).retention === '1 hour',
  },
  // Unset means the simulator's built-in list.
  SYMBOLS: { words: '20 built-in', holds: () => schemaDefaults.symbols === undefined && DEFAULT_SYMBOLS.length === 20 },
  // Unset means a seed taken from the clock at start (the supervisor's choice, not observable here).
  SIM_SEED: { words: 'time', holds: () => schemaDefaults.simSeed === undefined },
};

interface Row { line: number; names: string[]; defaults: string[] }

/** The rows of the table in README.md's Configuration section. */
function readmeRows(): Row[] {
  const text = readFileSync(fromRoot('README.md'), 'utf8');
  const start = text.indexOf('\n## Configuration\n');
  if (start < 0) throw new Error('README.md has no "## Configuration" section');
  const end = text.indexOf('\n## ', start + 1);
  const firstLine = text.slice(0, start).split('\n').length + 1;
  const rows: Row[] = [];
  text.slice(start, end < 0 ? undefined : end).split('\n').forEach((raw, i) => {
    if (!raw.startsWith('|')) return;
    const cells = raw.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    if (cells[0] === 'variable' || /^-+$/.test(cells[0])) return; // header and its rule
    const names = [...cells[0].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    // Several variables in one row: their defaults in the same order, ", " between (a number's
    // thousands separator has no space after it).
    const defaults = names.length > 1 ? cells[1].split(/,\s+/) : [cells[1]];
    rows.push({ line: firstLine + i, names, defaults: defaults.map((d) => d.replace(/`/g, '').trim()) });
  });
  return rows;
}

const SIZE_UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
const NONE = Symbol('none');

/** A README default as a value: none (—), a number (1,000 / 4 MiB), a boolean, JSON, else the words. */
function valueOf(text: string): unknown {
  if (text === '—' || text === '-' || text === '') return NONE;
  if (/^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+(\.\d+)?$/.test(text)) return Number(text.replace(/,/g, ''));
  const size = /^(\d+(?:\.\d+)?) (B|KiB|MiB|GiB|TiB)$/.exec(text);
  if (size) return Number(size[1]) * SIZE_UNITS[size[2]];
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

const rows = readmeRows();
const documented = rows.flatMap((r) => r.names);

describe('README configuration table', () => {
  it('is found and parsed', () => {
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      expect(r.names.length, `README.md:${r.line}: no variable in the first cell`).toBeGreaterThan(0);
      expect(r.defaults, `README.md:${r.line}: one default per variable`).toHaveLength(r.names.length);
    }
  });

  it('lists every variable of the schema and of the cache namespaces, once', () => {
    const missing = [...expected.keys()].filter((name) => !documented.includes(name));
    expect(missing, 'variables missing from the README table').toEqual([]);
    const twice = documented.filter((name, i) => documented.indexOf(name) !== i);
    expect(twice, 'variables listed more than once').toEqual([]);
  });

  it('names no variable that does not exist', () => {
    expect(documented.filter((name) => !expected.has(name)), 'README variables unknown to src/config.ts ENV_NAMES and the cache namespaces').toEqual([]);
  });

  it('states each schema default (or the rule that computes it)', () => {
    const wrong: string[] = [];
    for (const r of rows) {
      r.names.forEach((name, i) => {
        if (!expected.has(name)) return; // reported by the test above
        const text = r.defaults[i];
        const want = expected.get(name);
        const computed = COMPUTED[name];
        if (computed) {
          if (text !== computed.words) wrong.push(`${name}: README says "${text}", the listed rule is "${computed.words}"`);
          else if (!computed.holds()) wrong.push(`${name}: the rule "${computed.words}" does not hold for the schema`);
          return;
        }
        if (want instanceof Set) {
          wrong.push(`${name}: the cache namespaces give it several defaults (${[...want].join(', ')})`);
          return;
        }
        const got = valueOf(text);
        const ok = want === undefined ? got === NONE : typeof want === 'object' ? JSON.stringify(got) === JSON.stringify(want) : got === want;
        if (!ok) wrong.push(`${name}: README says "${text}", the default is ${want === undefined ? 'none (—)' : JSON.stringify(want)}`);
      });
    }
    expect(wrong, 'README defaults that differ from the schema').toEqual([]);
  });
});
