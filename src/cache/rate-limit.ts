// Rate limiting per identity (a credential's key name or token subject, else the client address): GCRA in one Redis Lua script, shared by every node.
//
//   const limiter = new RateLimiter({ cache, limits: { requests: 1000, windowSeconds: 3600, perKey: { [keyName]: {...} } } });
//   const r = await limiter.check(keyName ?? `ip:${clientAddress}`);   // r.allowed, r.retryAfterSeconds → 429 + Retry-After
//
// With Redis ready, one EVALSHA per check (ioredis defineCommand) decides atomically on Redis's
// clock, so N nodes share one budget per identity. Without Redis (absent, down, or the call
// failed) the same arithmetic runs in this process: the limit still holds, per node. Identities
// are hashed (SHA-256) into Redis key names, so user names and addresses never appear in Redis's keyspace.

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Counter, Registry } from 'prom-client';
import { GCRA_LUA, type Limit, type RateLimitResult, fromScript, gcra } from './gcra.js';
import { DEFAULT_KEY_PREFIX } from './redis-tier.js';
import type { CacheService } from './service.js';

export type { Limit, RateLimitResult };

export interface RateLimits extends Limit {
  /** Limits of particular identities (key names, token subjects), overriding the default. */
  perKey?: Readonly<Record<string, Limit>>;
}

export interface RateLimiterOptions {
  limits: RateLimits;
  /** Share the cache's Redis connection, key prefix and metrics registry. */
  cache?: CacheService;
  /** Or a Redis client of its own (callers own its lifecycle); neither: per-node limits only. */
  redis?: Redis;
  /** With `redis`: key prefix (default 'tp:cache:'); keys are `${prefix}_rl:<hash>`. */
  keyPrefix?: string;
  /** Default: the cache's registry, else a new one. */
  registry?: Registry;
  /** Identities remembered per node without Redis; the least recent beyond it start afresh. Default 100,000. */
  maxLocalIdentities?: number;
}

type Scripted = Redis & { tickplantGcra(key: string, windowUs: number, requests: number): Promise<[number, number, number, number]> };
const defined = new WeakSet<Redis>();

const METRIC = 'tickplant_ratelimit_requests_total';

export class RateLimiter {
  readonly registry: Registry;
  /** Checks whose Redis call failed with an own client (with `cache`, the cache counts them). */
  redisErrors = 0;
  private readonly limits: RateLimits;
  private readonly local: LRUCache<string, number>;
  private readonly decisions: Counter<'result' | 'backend'>;

  constructor(private readonly opts: RateLimiterOptions) {
    checkLimit('limits', opts.limits);
    for (const [k, l] of Object.entries(opts.limits.perKey ?? {})) checkLimit(`limits.perKey["${k.slice(0, 64)}"]`, l);
    this.limits = opts.limits;
    this.local = new LRUCache<string, number>({ max: opts.maxLocalIdentities ?? 100_000, ttlAutopurge: false });
    this.registry = opts.registry ?? opts.cache?.registry ?? new Registry();
    // Several limiters (e.g. one per route group) may share a registry and so this counter.
    this.decisions = (this.registry.getSingleMetric(METRIC) as Counter<'result' | 'backend'> | undefined) ??
      new Counter({ name: METRIC, help: 'Rate-limit decisions by result (allowed, denied) and where they were taken (redis: shared, local: this node only)', labelNames: ['result', 'backend'], registers: [this.registry] });
  }

  /** The limit that applies to an identity. */
  limitFor(identity: string): Limit {
    // Own properties only: an identity named "constructor" must not find Object.prototype's.
    const perKey = this.limits.perKey;
    return perKey !== undefined && Object.hasOwn(perKey, identity) ? perKey[identity] : this.limits;
  }

  /**
   * Counts one request of `identity` and says whether it is allowed. `limitName` picks the
   * limit (RATE_LIMIT_PER_KEY's names; default the identity itself). Never throws for Redis's sake.
   */
  async check(identity: string, limitName = identity): Promise<RateLimitResult> {
    const limit = this.limitFor(limitName);
    const hashed = createHash('sha256').update(identity).digest('base64url').slice(0, 22);
    const windowUs = limit.windowSeconds * 1e6;
    const run = (c: Redis, prefix: string): Promise<[number, number, number, number]> => {
      if (!defined.has(c)) {
        c.defineCommand('tickplantGcra', { numberOfKeys: 1, lua: GCRA_LUA });
        defined.add(c);
      }
      return (c as Scripted).tickplantGcra(`${prefix}_rl:${hashed}`, windowUs, limit.requests);
    };
    let reply: [number, number, number, number] | undefined;
    if (this.opts.cache) reply = await this.opts.cache.withRedis(run);
    else if (this.opts.redis?.status === 'ready') {
      try {
        reply = await run(this.opts.redis, this.opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
      } catch {
        // Redis failed mid-call: this request is decided locally below (backend="local").
        this.redisErrors++;
      }
    }
    if (reply) {
      const r = fromScript(limit, reply);
      this.decisions.inc({ result: r.allowed ? 'allowed' : 'denied', backend: 'redis' });
      return r;
    }
    const nowUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const step = gcra(limit, this.local.get(hashed), nowUs);
    if (step.tatUs !== undefined) this.local.set(hashed, step.tatUs, { ttl: Math.max(1, Math.ceil((step.tatUs - nowUs) / 1000)) });
    this.decisions.inc({ result: step.result.allowed ? 'allowed' : 'denied', backend: 'local' });
    return step.result;
  }
}

function checkLimit(name: string, l: Limit): void {
  if (!Number.isInteger(l?.requests) || l.requests < 1 || l.requests > 1e9) throw new RangeError(`rate limit ${name}.requests must be an integer 1-1e9, got ${l?.requests}`);
  if (!Number.isInteger(l.windowSeconds) || l.windowSeconds < 1 || l.windowSeconds > 30 * 86400) {
    throw new RangeError(`rate limit ${name}.windowSeconds must be whole seconds 1-2592000, got ${l.windowSeconds}`);
  }
}
