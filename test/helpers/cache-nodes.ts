// Cache nodes on the real Redis for integration tests: a run-unique key prefix, a plain client to inspect it, and cleanup.
//
//   const { prefix: PREFIX, direct, node, cleanup } = cacheNodes(NAMESPACES);  // at a file's top level
//   afterAll(cleanup);
//   const a = await node();                                      // redis { url: REDIS_URL, keyPrefix: PREFIX }, quiet log
//   const b = await node({ redis: { commandTimeoutMs: 300 }, sources: { slow: source } });
//   const m = await node({ redis: null });                       // memory tier only
//
// "Nodes" are CacheService instances sharing one prefix, each with its own memory tier, so
// two of them act like two processes. The prefix keeps test files (run in parallel, one
// Redis) out of each other's keys; cleanup() removes every key under it.
import { Redis } from 'ioredis';
import type { Namespace } from '../../src/cache/namespaces.js';
import { RedisConnections, type RedisSettings } from '../../src/store/redis-connections.js';
import { CacheService, type CacheServiceOptions } from '../../src/cache/service.js';
import type { CacheSource } from '../../src/cache/types.js';
import type { Logger } from '../../src/log.js';
import { REDIS_URL } from './runtime.js';

/** A logger that drops everything: the tests provoke errors the cache logs on purpose. */
export const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A node's Redis: the URL and the node's policy (defaults: REDIS_URL, the production policy) and the tier's own options. */
export type NodeRedis = Partial<Pick<RedisSettings, 'url' | 'connectTimeoutMs' | 'reconnectMaxMs'>> & { keyPrefix?: string; commandTimeoutMs?: number };

export interface NodeOptions extends Omit<Partial<CacheServiceOptions>, 'redis'> {
  /** Merged over { url: REDIS_URL, keyPrefix: prefix }; null: no Redis, memory tier only. */
  redis?: NodeRedis | null;
  /** Registered on the node by name before it is returned. */
  sources?: Record<string, CacheSource>;
}

export interface CacheNodes {
  /** `test:cache:<pid>:<random>:`, unique to this file's run. */
  readonly prefix: string;
  /** A plain client on REDIS_URL (no prefix), to see what the nodes wrote. */
  readonly direct: Redis;
  /** A new node on the namespaces, closed by closeNodes() or cleanup(). */
  node(over?: NodeOptions): Promise<CacheService>;
  /** Closes every node made so far (a test that must stop them before its proxy goes). */
  closeNodes(): Promise<void>;
  /** closeNodes(), then SCAN + UNLINK every key under the prefix and quit `direct`. For afterAll. */
  cleanup(): Promise<void>;
}

/** Call at a test file's top level: `direct` connects at once. */
export function cacheNodes(namespaces: readonly Namespace[]): CacheNodes {
  const prefix = `test:cache:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
  const direct = new Redis(REDIS_URL);
  const nodes: CacheService[] = [];

  async function node({ redis, sources = {}, ...over }: NodeOptions = {}): Promise<CacheService> {
    const c = await CacheService.create({
      namespaces, log: quiet, ...over,
      redis: redis === null ? undefined : {
        // Its own counter, as a node of its own: the cache opens two connections.
        connections: new RedisConnections({ url: redis?.url ?? REDIS_URL, maxConnections: 2, connectTimeoutMs: redis?.connectTimeoutMs, reconnectMaxMs: redis?.reconnectMaxMs }),
        keyPrefix: redis?.keyPrefix ?? prefix,
        commandTimeoutMs: redis?.commandTimeoutMs,
      },
    });
    nodes.push(c);
    for (const [name, source] of Object.entries(sources)) c.register(name, source);
    return c;
  }

  async function closeNodes(): Promise<void> {
    for (const n of nodes.splice(0)) await n.close();
  }

  async function cleanup(): Promise<void> {
    await closeNodes();
    let cursor = '0';
    do {
      const [next, keys] = await direct.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await direct.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    await direct.quit();
  }

  return { prefix, direct, node, closeNodes, cleanup };
}
