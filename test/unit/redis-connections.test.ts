// The node's Redis connections: one ceiling across threads, slots given back when clients end, one policy for all.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { spawnWorker } from '../../src/actors/worker-url.js';
import { RedisConnectionLimitError, RedisConnections, redisConnectionCounter } from '../../src/store/redis-connections.js';
import { REDIS_URL } from '../helpers/runtime.js';

describe('RedisConnections', () => {
  it('refuses a client past REDIS_MAX_CONNECTIONS, naming it, and takes one again once a slot is given back', async () => {
    const c = new RedisConnections({ url: REDIS_URL, maxConnections: 2 });
    const a = c.client({ role: 'a' });
    const b = c.client({ role: 'b' });
    expect(() => c.client({ role: 'third' })).toThrow(RedisConnectionLimitError);
    expect(() => c.client({ role: 'third' })).toThrow(/for third: .*REDIS_MAX_CONNECTIONS \(2\)/);
    expect(c.count).toBe(2);
    await a.connect();
    await c.close(a); // QUIT of a ready client
    expect(c.count).toBe(1);
    await c.close(b); // never connected
    await c.close(b); // twice: the slot is given back once
    expect(c.count).toBe(0);
    const again = c.client({ role: 'again' });
    await c.close(again);
  });

  it('gives the slot back for a client closed while it waits to reconnect (ioredis emits no end then)', async () => {
    const c = new RedisConnections({ url: 'redis://127.0.0.1:1', maxConnections: 1, connectTimeoutMs: 200, reconnectMaxMs: 50 });
    const x = c.client({ role: 'down' });
    x.on('error', () => undefined);
    await expect(x.connect()).rejects.toThrow();
    expect(x.status).toBe('reconnecting');
    await c.close(x);
    expect(c.count).toBe(0);
  });

  it('one ceiling for every thread sharing the counter', async () => {
    const counter = redisConnectionCounter();
    const start = () => spawnWorker(new URL('../fixtures/redis-opener.ts', import.meta.url), { workerData: { counter, want: 3, max: 4 } });
    const workers = [start(), start()];
    const got = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as number));
    expect(got[0] + got[1]).toBe(4);
    expect(new Int32Array(counter)[0]).toBe(4);
    for (const w of workers) w.postMessage('close');
    await Promise.all(workers.map((w) => once(w, 'message')));
    expect(new Int32Array(counter)[0]).toBe(0);
    await Promise.all(workers.map((w) => w.terminate()));
  });

  it('every client gets the node\'s policy: no offline queue, no retried or resent commands, bounded connect', () => {
    const c = new RedisConnections({ url: REDIS_URL, maxConnections: 1 });
    const x = c.client({ role: 'writer', commandTimeoutMs: 300 });
    expect(x.options).toMatchObject({
      lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false,
      connectTimeout: 2000, socketTimeout: 2000, commandTimeout: 300, connectionName: 'tickplant-writer',
    });
    const delays = [1, 2, 3, 10, 20].map((n) => x.options.retryStrategy!(n) as number);
    expect(delays[0]).toBeLessThan(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2050);
    void c.close(x);
  });
});
