// Redis outage and return, through a TCP proxy that cuts the connection: memory serves, nothing throws, health says degraded.
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import { RateLimiter } from '../../src/cache/rate-limit.js';
import type { CacheService } from '../../src/cache/service.js';
import { SessionStore } from '../../src/cache/sessions.js';
import { cacheNodes } from '../helpers/cache-nodes.js';
import { REDIS_URL } from '../helpers/runtime.js';
import { type TcpProxy, startProxy } from '../helpers/tcp-proxy.js';

const REDIS_PORT = Number(new URL(REDIS_URL).port || 6379);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NAMESPACES = parseNamespaces({
  namespaces: [
    { name: 'kv', keyPattern: 'kv:{id}', ttlSeconds: 300, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
    { name: 'rt', keyPattern: 'rt:{id}', ttlSeconds: 300, strategy: 'read-through', source: 'src', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
    { name: 'sessions', keyPattern: 'session:{session_id}', ttlSeconds: 300, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
  ],
});

const { prefix: PREFIX, direct, node: cacheNode, closeNodes, cleanup } = cacheNodes(NAMESPACES);
const proxies: TcpProxy[] = [];
let loads = 0;

/** A node on Redis at 127.0.0.1:`port` (a proxy's, or Redis's own), quick to time out and reconnect. */
function node(port: number): Promise<CacheService> {
  return cacheNode({
    redis: { url: `redis://127.0.0.1:${port}`, reconnectMaxMs: 100, commandTimeoutMs: 300, connectTimeoutMs: 500 },
    sources: { src: { load: async (key) => ({ key, n: ++loads }) } },
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A proxy that can freeze: connections stay open but no byte moves either way (a hung Redis,
 * which tcp-proxy.ts's cut() does not simulate). New connections made while frozen hang too.
 */
async function startFreezer(targetPort: number) {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (frozen) for (const s of pair) s.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      frozen = true;
      for (const p of pairs) for (const s of p) s.pause();
    },
    thaw() {
      frozen = false;
      for (const p of pairs) for (const s of p) s.resume();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of pairs) for (const s of p) s.destroy();
        server.close(() => r());
      }),
  };
}

const redisUp = async (c: CacheService) => /^tickplant_cache_redis_up (\d)$/m.exec(await c.registry.metrics())?.[1];

afterAll(async () => {
  await closeNodes(); // before their proxies go
  for (const p of proxies) await p.close();
  await cleanup();
});

describe('Redis outage', () => {
  it('memory serves and fills while Redis is cut, nothing throws, health is degraded; Redis is used again when it returns', async () => {
    const proxy = await startProxy(REDIS_PORT);
    proxies.push(proxy);
    const a = await node(proxy.port);
    const sessions = new SessionStore(a);
    const limiter = new RateLimiter({ cache: a, limits: { requests: 2, windowSeconds: 60 } });
    await a.set('kv', { id: 'before' }, { v: 'before' });
    expect(await direct.get(`${PREFIX}kv:before`)).toBe('{"v":"before"}');
    expect((await a.health()).status).toBe('ok');
    expect(await redisUp(a)).toBe('1');

    proxy.cut();
    await until('the cache to notice', () => a.stats().redis.state !== 'ready');

    // Reads and writes keep working from memory; none throws.
    expect(await a.get('kv', { id: 'before' })).toEqual({ value: { v: 'before' }, tier: 'memory' });
    await a.set('kv', { id: 'during' }, { v: 'during' });
    expect(await a.get('kv', { id: 'during' })).toEqual({ value: { v: 'during' }, tier: 'memory' });
    expect(await a.get('kv', { id: 'absent' })).toBeUndefined();
    expect(await a.get('rt', { id: 1 })).toMatchObject({ tier: 'source' }); // loads without the lock
    expect(await a.get('rt', { id: 1 })).toMatchObject({ tier: 'memory' });
    expect(await a.getOrLoad('kv', { id: 'computed' }, () => ({ v: 'computed' }))).toMatchObject({ tier: 'source' });
    expect(await a.invalidate('kv:comp*')).toBe(1);
    expect(await a.delete('kv', { id: 'during' })).toBe(true);
    expect(await a.keys('kv')).toEqual([{ id: 'before' }]);
    const s = await sessions.create('user-1', { role: 'trader' });
    expect((await sessions.get(s.session_id))?.user_id).toBe('user-1');
    expect((await sessions.listForUser('user-1')).map((x) => x.session_id)).toEqual([s.session_id]);
    expect((await limiter.check('k')).allowed).toBe(true); // limited per node meanwhile
    expect((await limiter.check('k')).allowed).toBe(true);
    expect((await limiter.check('k')).allowed).toBe(false);

    const h = await a.health();
    expect(h.status).toBe('degraded');
    expect(h.redis.state).not.toBe('ready');
    expect(a.stats().redis.state).not.toBe('ready');
    expect(await redisUp(a)).toBe('0');
    expect(await direct.exists(`${PREFIX}kv:during`)).toBe(0); // it never reached Redis

    await proxy.restore();
    await until('Redis to return', async () => (await a.health()).status === 'ok');
    expect(await redisUp(a)).toBe('1');
    await a.set('kv', { id: 'after' }, { v: 'after' });
    expect(await direct.get(`${PREFIX}kv:after`)).toBe('{"v":"after"}');
    await direct.set(`${PREFIX}kv:only-redis`, '{"v":"r"}', 'PX', 60_000);
    expect(await a.get('kv', { id: 'only-redis' })).toEqual({ value: { v: 'r' }, tier: 'redis' });
  });

  it('a node started while Redis is down starts degraded, then joins: it gets invalidations once Redis is up', async () => {
    const proxy = await startProxy(REDIS_PORT);
    proxies.push(proxy);
    proxy.cut();
    const late = await node(proxy.port);
    expect((await late.health()).status).toBe('degraded');
    await late.set('kv', { id: 'shared' }, { v: 'local' });
    expect(late.peek('kv', { id: 'shared' })).toEqual({ v: 'local' });

    await proxy.restore();
    await until('Redis to come up', () => late.stats().redis.state === 'ready');
    const other = await node(Number(REDIS_PORT));
    // The subscriber connects on its own schedule: retry the write until `late` drops its copy.
    await until('the invalidation to reach the late node', async () => {
      await other.set('kv', { id: 'shared' }, { v: 'remote' });
      return late.peek('kv', { id: 'shared' }) === undefined;
    });
    expect(await late.get('kv', { id: 'shared' })).toEqual({ value: { v: 'remote' }, tier: 'redis' });
  });

  it('a Redis that hangs costs at most the command timeout; nothing throws; the node recovers when it answers again', async () => {
    const freezer = await startFreezer(REDIS_PORT);
    try {
      const a = await node(freezer.port);
      await a.set('kv', { id: 'held' }, { v: 'held' });
      freezer.freeze();
      expect(await a.get('kv', { id: 'held' })).toEqual({ value: { v: 'held' }, tier: 'memory' });
      expect(await a.get('kv', { id: 'nowhere' })).toBeUndefined(); // Redis did not answer: a miss
      await a.set('kv', { id: 'while-hung' }, { v: 1 });
      expect(a.peek('kv', { id: 'while-hung' })).toEqual({ v: 1 });
      expect(await a.get('rt', { id: 'hung' })).toMatchObject({ tier: 'source' });
      expect((await a.health()).status).toBe('degraded');
      expect(a.stats().redis.errors).toBeGreaterThan(0);
      freezer.thaw();
      await until('Redis to answer again', async () => (await a.health()).status === 'ok');
      await a.set('kv', { id: 'after-hang' }, { v: 2 });
      expect(await direct.get(`${PREFIX}kv:after-hang`)).toBe('{"v":2}');
    } finally {
      await closeNodes();
      await freezer.close();
    }
  });
});
