// GCRA math (gcra.ts) on a synthetic clock, and the rate limiter's per-node fallback without Redis.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type Limit, fromScript, gcra } from '../../src/cache/gcra.js';
import { RateLimiter } from '../../src/cache/rate-limit.js';

const S = 1e6; // µs per second

/** Feeds requests at the given times (s) through gcra() and returns the results. */
function run(limit: Limit, times: number[]) {
  let tat: number | undefined;
  return times.map((t) => {
    const step = gcra(limit, tat, t * S);
    if (step.tatUs !== undefined) tat = step.tatUs;
    return step.result;
  });
}

describe('gcra', () => {
  const limit = { requests: 10, windowSeconds: 10 }; // one per second, bursts of 10

  it('allows a burst of `requests`, then denies with Retry-After until one interval has passed', () => {
    const r = run(limit, Array.from({ length: 12 }, () => 100));
    expect(r.slice(0, 10).every((x) => x.allowed)).toBe(true);
    expect(r.slice(0, 10).map((x) => x.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(r[10]).toEqual({ allowed: false, limit: 10, remaining: 0, retryAfterSeconds: 1, resetSeconds: 10 });
  });

  it('refills one request per interval (a sliding window, not fixed buckets)', () => {
    const times = [...Array.from({ length: 10 }, () => 0), 0.5, 1, 1.5, 2.0, 2.0];
    const r = run(limit, times);
    expect(r.slice(10).map((x) => x.allowed)).toEqual([false, true, false, true, false]);
    expect(r[10].retryAfterSeconds).toBe(1); // 0.5 s rounded up to whole seconds
  });

  it('gives back the budget in proportion to the time passed, all of it after a quiet window', () => {
    const r = run(limit, [...Array.from({ length: 10 }, () => 0), 5]);
    expect(r[10]).toMatchObject({ allowed: true, remaining: 4, resetSeconds: 6 });
    const fresh = run(limit, [...Array.from({ length: 10 }, () => 0), 20]);
    expect(fresh[10]).toMatchObject({ allowed: true, remaining: 9, resetSeconds: 1 });
  });

  it('is exact for rates that do not divide into microseconds', () => {
    const odd = { requests: 7, windowSeconds: 3600 };
    const r = run(odd, Array.from({ length: 8 }, () => 5));
    expect(r.map((x) => x.remaining)).toEqual([6, 5, 4, 3, 2, 1, 0, 0]);
    expect(r[7].allowed).toBe(false);
    expect(r[7].retryAfterSeconds).toBe(Math.ceil(3600 / 7));
    const fast = run({ requests: 1_000_000, windowSeconds: 1 }, [1, 1, 1]);
    expect(fast.map((x) => x.remaining)).toEqual([999_999, 999_998, 999_997]);
  });

  it('reads the Lua script\'s reply into the same shape', () => {
    expect(fromScript(limit, [1, 4, 0, 6_000_000])).toEqual({ allowed: true, limit: 10, remaining: 4, retryAfterSeconds: 0, resetSeconds: 6 });
    expect(fromScript(limit, [0, 0, 250_000, 10_000_000])).toEqual({ allowed: false, limit: 10, remaining: 0, retryAfterSeconds: 1, resetSeconds: 10 });
  });
});

describe('RateLimiter without Redis', () => {
  it('still limits, per node, with per-key limits', async () => {
    const registry = new Registry();
    const limits = { requests: 3, windowSeconds: 60, perKey: { 'gold-key': { requests: 5, windowSeconds: 60 } } };
    const a = new RateLimiter({ limits, registry });
    const b = new RateLimiter({ limits, registry }); // another node: its own budget
    const seq = async (l: RateLimiter, id: string, n: number) => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) out.push((await l.check(id)).allowed);
      return out;
    };
    expect(await seq(a, '10.0.0.1', 4)).toEqual([true, true, true, false]);
    expect(await seq(b, '10.0.0.1', 4)).toEqual([true, true, true, false]);
    expect(await seq(a, 'gold-key', 6)).toEqual([true, true, true, true, true, false]);
    const denied = await a.check('10.0.0.1');
    expect(denied).toMatchObject({ allowed: false, limit: 3, remaining: 0 });
    expect(denied.retryAfterSeconds).toBeGreaterThanOrEqual(19);
    const text = await registry.metrics();
    expect(text).toContain('tickplant_ratelimit_requests_total{result="allowed",backend="local"} 11');
    expect(text).toContain('tickplant_ratelimit_requests_total{result="denied",backend="local"} 4');
  });

  it('refuses bad limits, naming them', () => {
    expect(() => new RateLimiter({ limits: { requests: 0, windowSeconds: 60 } })).toThrow(/limits\.requests/);
    expect(() => new RateLimiter({ limits: { requests: 1, windowSeconds: 60, perKey: { 'mobile-app': { requests: 1, windowSeconds: 0 } } } })).toThrow(/limits\.perKey\["mobile-app"\]\.windowSeconds/);
  });
});
