// Cache namespaces: the schema of config/cache-namespaces.json, its cross-checks, and the TTL environment overrides (ttlEnv).
//
// One general mechanism configured per namespace: a namespace is a key pattern, a TTL, a
// strategy, a memory budget, a compression threshold and optionally a source. Per-value TTL
// classes (prices: crypto/stock 30 s, macro 300 s; predictions 1 s for hot symbols, 3 s for
// the rest) are `ttlOverrides` on one namespace — every class keeps the one key pattern
// `price:{asset_type}:{symbol}`, and one namespace means one memory budget and one set of metrics.
//
// Strategies (what get/set/delete do; see service.ts for the order of operations):
//   cache-only     memory + Redis, never a source                              (sessions)
//   cache-aside    the caller loads: getOrLoad(ns, params, loader); no source  (predictions)
//   read-through   a miss loads from the source; set() writes the cache only
//   write-through  read-through + set() stores in the source first, then the cache
//   write-behind   read-through + set() writes the cache now, the source later (batched queue)
//   refresh-ahead  read-through + a hit in the last `refreshAheadRatio` of its TTL reloads in the background
// `refreshAheadRatio` may also be set on cache-aside (getOrLoad's loader reloads) and on the
// other source-backed strategies.

import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { KeyPattern } from './keys.js';

export const STRATEGIES = ['cache-only', 'cache-aside', 'read-through', 'write-through', 'write-behind', 'refresh-ahead'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Strategies whose get() loads from the namespace's source on a miss. */
export const SOURCE_STRATEGIES: ReadonlySet<Strategy> = new Set(['read-through', 'write-through', 'write-behind', 'refresh-ahead']);

export const DEFAULT_FILE = 'config/cache-namespaces.json';
/** refresh-ahead without an explicit ratio reloads in the last fifth of the TTL. */
export const DEFAULT_REFRESH_AHEAD_RATIO = 0.2;
export const MAX_TTL_SECONDS = 30 * 86_400;

const ttl = z.number().int().min(1).max(MAX_TTL_SECONDS);

const overrideSchema = z.strictObject({
  param: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
  values: z.array(z.string().min(1).max(128)).min(1).max(10_000),
  ttlSeconds: ttl,
});

const namespaceSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'expected 1-40 characters of [a-z0-9_], starting with a letter'),
  description: z.string().max(500).optional(),
  keyPattern: z.string().min(1).max(200),
  ttlSeconds: ttl,
  /** Environment variable that overrides ttlSeconds (e.g. TTL_SIGNALS). */
  ttlEnv: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/).optional(),
  /** First match wins: a key whose `param` is one of `values` lives `ttlSeconds`. */
  ttlOverrides: z.array(overrideSchema).max(32).default([]),
  strategy: z.enum(STRATEGIES),
  /** "postgres" (the cache_records table) or a name the application register()s. */
  source: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/).optional(),
  refreshAheadRatio: z.number().gt(0).lt(1).optional(),
  memoryLimitBytes: z.number().int().min(4096).max(2 ** 40),
  /** JSON larger than this is deflated in Redis (codec.ts). */
  compressionThresholdBytes: z.number().int().min(64).max(2 ** 31),
});

const fileSchema = z.strictObject({
  $comment: z.union([z.string(), z.array(z.string())]).optional(),
  namespaces: z.array(z.unknown()).min(1).max(256),
});

export interface TtlOverride {
  readonly param: string;
  readonly values: readonly string[];
  readonly ttlSeconds: number;
}

export interface Namespace {
  readonly name: string;
  readonly description?: string;
  readonly keyPattern: string;
  readonly ttlSeconds: number;
  readonly ttlEnv?: string;
  readonly ttlOverrides: readonly TtlOverride[];
  readonly strategy: Strategy;
  readonly source?: string;
  /** undefined: no refresh-ahead. */
  readonly refreshAheadRatio?: number;
  readonly memoryLimitBytes: number;
  readonly compressionThresholdBytes: number;
  /** The compiled pattern (keys.ts). */
  readonly keys: KeyPattern;
}

/**
 * Reads `file` (default: env.CACHE_NAMESPACES_FILE, else config/cache-namespaces.json), applies
 * each namespace's `ttlEnv` from `env`, validates, freezes. Throws ConfigError naming the file,
 * namespace and field, or the environment variable.
 */
export function loadNamespaces(env: NodeJS.ProcessEnv, file?: string): readonly Namespace[] {
  const path = file ?? env.CACHE_NAMESPACES_FILE ?? DEFAULT_FILE;
  if (!existsSync(path)) throw new ConfigError(`invalid configuration: cache namespaces file ${path} (CACHE_NAMESPACES_FILE) does not exist`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`invalid configuration: cannot read ${path} (CACHE_NAMESPACES_FILE): ${(e as Error).message}`);
  }
  return parseNamespaces(json, env, `${path} (CACHE_NAMESPACES_FILE)`);
}

/** Validates an already-parsed file body (tests pass objects). `origin` names it in errors. */
export function parseNamespaces(json: unknown, env: NodeJS.ProcessEnv = {}, origin = 'cache namespaces'): readonly Namespace[] {
  const file = fileSchema.safeParse(json);
  if (!file.success) throw zodError(file.error, origin, []);
  const out: Namespace[] = [];
  const byTag = new Map<string, string>();
  file.data.namespaces.forEach((raw, i) => {
    const r = namespaceSchema.safeParse(raw);
    const label = typeof (raw as { name?: unknown })?.name === 'string' ? `"${(raw as { name: string }).name}"` : `#${i}`;
    if (!r.success) throw zodError(r.error, origin, ['namespace', label]);
    const d = r.data;
    const fail = (field: string, msg: string) => new ConfigError(`invalid configuration: ${origin}: namespace ${label} ${field}: ${msg}`);

    let keys: KeyPattern;
    try {
      keys = new KeyPattern(d.name, d.keyPattern);
    } catch (e) {
      throw fail('keyPattern', (e as Error).message);
    }
    if (out.some((n) => n.name === d.name)) throw fail('name', 'is declared twice');
    const other = byTag.get(keys.tag);
    if (other) throw fail('keyPattern', `tag "${keys.tag}" is already used by namespace "${other}" (each namespace needs its own first segment)`);
    byTag.set(keys.tag, d.name);

    const needsSource = SOURCE_STRATEGIES.has(d.strategy);
    if (needsSource && !d.source) throw fail('source', `is required by strategy ${d.strategy} ("postgres" or a registered source name)`);
    if (!needsSource && d.source) throw fail('source', `must be absent for strategy ${d.strategy} (the cache never calls a source there)`);
    if (d.strategy === 'cache-only' && d.refreshAheadRatio !== undefined) throw fail('refreshAheadRatio', 'needs a loader; cache-only has none');
    for (const o of d.ttlOverrides) {
      if (!keys.names.includes(o.param)) throw fail('ttlOverrides', `param "${o.param}" is not a placeholder of ${d.keyPattern}`);
    }

    let ttlSeconds = d.ttlSeconds;
    if (d.ttlEnv) {
      const v = env[d.ttlEnv]?.trim();
      if (v !== undefined && v !== '') {
        const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
        if (!(n >= 1 && n <= MAX_TTL_SECONDS)) {
          throw new ConfigError(`invalid configuration: ${d.ttlEnv} (TTL of cache namespace "${d.name}"): expected whole seconds 1-${MAX_TTL_SECONDS}, got "${v}"`);
        }
        ttlSeconds = n;
      }
    }
    const refreshAheadRatio = d.refreshAheadRatio ?? (d.strategy === 'refresh-ahead' ? DEFAULT_REFRESH_AHEAD_RATIO : undefined);
    out.push(Object.freeze({
      ...d,
      ttlSeconds,
      refreshAheadRatio,
      ttlOverrides: Object.freeze(d.ttlOverrides.map((o) => Object.freeze({ ...o, values: Object.freeze([...o.values]) }))),
      keys,
    }));
  });
  return Object.freeze(out);
}

function zodError(err: z.ZodError, origin: string, where: string[]): ConfigError {
  const issue = err.issues[0];
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const field = path.map(String).join('.');
  const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  return new ConfigError(`invalid configuration: ${origin}: ${[...where, field].filter(Boolean).join(' ')}: ${message}`);
}
