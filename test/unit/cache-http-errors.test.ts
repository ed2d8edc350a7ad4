// CacheHttp on a handler that fails with a bug: a 500 in the REST envelope that leaks nothing, with the rate-limit headers, the details logged.
import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../src/protocol/http.js';
import { CacheHttp, type CacheHttpDeps } from '../../src/cache/api/api.js';
import type { Logger } from '../../src/log.js';

const request = (method: string, url: string): HttpRequest => ({
  method, url, query: new URLSearchParams(), header: () => '', headers: new Map(), remoteAddress: '127.0.0.1', body: Buffer.alloc(0),
});

describe('CacheHttp', () => {
  it('answers a failing handler with a 500 in the envelope, limit headers included, and logs the cause', async () => {
    const logged: Record<string, unknown>[] = [];
    const log: Logger = { debug() {}, info() {}, warn() {}, error: (_m, f) => logged.push(f ?? {}) };
    // Only what GET /stats touches: stats() failing as a bug would (not one of the cache's errors).
    const cache = { stats: () => { throw new TypeError('secret detail'); } };
    const http = new CacheHttp({
      cache, sessions: {}, runtimeSymbols: () => [], health: async () => ({}), log,
      limiter: { check: async () => ({ allowed: true, limit: 10, remaining: 9, retryAfterSeconds: 0, resetSeconds: 6 }), knows: () => false },
    } as unknown as CacheHttpDeps);
    const r = await http.handle(request('GET', '/api/v1/cache/stats'));
    expect(r.status).toBe(500);
    expect(JSON.parse(String(r.body))).toEqual({ success: false, error: { code: 'internal', message: 'internal error; the server log has the details' } });
    expect(String(r.body)).not.toContain('secret');
    expect(r.headers).toMatchObject({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '9', 'x-ratelimit-reset': '6' });
    expect(String(logged[0]?.error)).toContain('secret detail');
  });
});
