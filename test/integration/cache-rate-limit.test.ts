// Rate limits against the real Redis: one GCRA budget per identity shared by two nodes, per-key limits, hashed keys.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import { RateLimiter } from '../../src/cache/rate-limit.js';
import { cacheNodes } from '../helpers/cache-nodes.js';
import { REDIS_URL } from '../helpers/runtime.js';

const NAMESPACES = parseNamespaces({
  namespaces: [{ name: 'kv', keyPattern: 'kv:{id}', ttlSeconds: 60, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 }],
});
const LIMITS = { requests: 10, windowSeconds: 60, perKey: { 'key-gold': { requests: 25, windowSeconds: 60 } } };

const { prefix: PREFIX, direct, node, cleanup } = cacheNodes(NAMESPACES);
afterAll(cleanup);

describe('rate limits shared through Redis', () => {
  it('two nodes draw on one budget per identity', async () => {
    const [a, b] = [await node(), await node()];
    const la = new RateLimiter({ cache: a, limits: LIMITS });
    const lb = new RateLimiter({ cache: b, limits: LIMITS });
    const results = [];
    for (let i = 0; i < 16; i++) results.push(await (i % 2 ? la : lb).check('203.0.113.7'));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.slice(0, 10).map((r) => r.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const denied = results[10];
    expect(denied).toMatchObject({ allowed: false, limit: 10, remaining: 0 });
    expect(denied.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(denied.retryAfterSeconds).toBeLessThanOrEqual(6); // one emission interval: 60 s / 10
    expect(denied.resetSeconds).toBeGreaterThan(50);
    // Another identity has its own budget.
    expect((await la.check('198.51.100.1')).remaining).toBe(9);
    const text = await a.registry.metrics();
    expect(text).toMatch(/tickplant_ratelimit_requests_total\{result="denied",backend="redis"\} [1-9]/);
  });

  it('applies per-key limits on every node', async () => {
    const [a, b] = [await node(), await node()];
    const la = new RateLimiter({ cache: a, limits: LIMITS });
    const lb = new RateLimiter({ cache: b, limits: LIMITS });
    let allowed = 0;
    for (let i = 0; i < 30; i++) if ((await (i % 2 ? la : lb).check('key-gold')).allowed) allowed++;
    expect(allowed).toBe(25);
    expect(la.limitFor('key-gold').requests).toBe(25);
  });

  it('keeps identities out of Redis key names, and works with a client of its own', async () => {
    const own = new Redis(REDIS_URL, { enableOfflineQueue: false, lazyConnect: true });
    await own.connect();
    try {
      const l = new RateLimiter({ redis: own, keyPrefix: PREFIX, limits: { requests: 3, windowSeconds: 10 } });
      const other = new RateLimiter({ cache: await node(), limits: { requests: 3, windowSeconds: 10 } });
      expect((await l.check('secret-api-key-123')).remaining).toBe(2);
      expect((await other.check('secret-api-key-123')).remaining).toBe(1); // same key, same budget
      const [, keys] = await direct.scan('0', 'MATCH', `${PREFIX}_rl:*`, 'COUNT', 10_000);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.some((k) => k.includes('secret'))).toBe(false);
    } finally {
      await own.quit();
    }
  });
});
