// Moving one value between the memory tier and Redis: read from Redis (and fill memory), write both.
//
// Write order for a set: memory first (this node reads its own write at once, even with Redis
// down), then Redis SET + PUBLISH in one round trip (other nodes drop their memory copy and read
// the new value from Redis). Redis failures are counted, never thrown.

import type { Logger } from '../log.js';
import { decode, encode, isCompressed } from './codec.js';
import { Fence, encodeMessage } from './invalidation.js';
import type { NamespaceState } from './namespace-state.js';
import type { CacheRedisTier } from './redis-tier.js';
import type { CacheHit } from './types.js';

export interface RedisRead {
  hit: CacheHit;
  /** What is left of the value's TTL in Redis (refresh-ahead compares it with the ratio). */
  remainingMs: number;
}

/**
 * How a value is written:
 *  - 'set': an explicit write. Overwrites; other nodes are told to drop their copy.
 *  - 'fill': the result of a load. SET NX: never overwrites a value someone set meanwhile; and
 *    skipped entirely if the key was written or invalidated since the load started.
 *  - 'refresh': a refresh-ahead reload. Overwrites and notifies, unless the key changed since.
 */
export type WriteMode = 'set' | 'fill' | 'refresh';

/** The value's JSON, once per write (memory accounting, Redis, and proof it is storable at all). */
export function serialize(ns: string, key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new TypeError(`cache ${ns}: value for ${key} is not JSON-serialisable: ${(e as Error).message}`);
  }
  if (typeof json !== 'string') throw new TypeError(`cache ${ns}: value for ${key} is not JSON-serialisable (${typeof value})`);
  return json;
}

export class Tiers {
  readonly fence = new Fence();

  constructor(readonly redis: CacheRedisTier | undefined, readonly nodeId: string, private readonly log: Logger) {}

  /**
   * The value of `key` in Redis, stored into memory for what remains of its Redis TTL (never
   * longer than `fullTtlMs`). undefined when absent, unreadable, or Redis is unavailable.
   * `count`: whether this lookup counts as a Redis hit/miss (stampede polls don't).
   */
  async fromRedis(st: NamespaceState, key: string, fullTtlMs: number, count = true): Promise<RedisRead | undefined> {
    const redis = this.redis;
    if (!redis) return undefined;
    const start = this.fence.now();
    const got = await redis.get(key);
    if (got === undefined) return undefined; // unavailable: not a miss of this tier
    if (got === null) {
      if (count) st.missesRedis++;
      return undefined;
    }
    let json: string;
    let value: unknown;
    try {
      json = decode(got.buf);
      value = JSON.parse(json);
    } catch (e) {
      redis.errors++;
      this.log.warn('cache: unreadable value in Redis, treated as a miss', { key, error: (e as Error).message });
      if (count) st.missesRedis++;
      return undefined;
    }
    if (count) st.hitsRedis++;
    const remainingMs = got.pttlMs > 0 ? Math.min(got.pttlMs, fullTtlMs) : got.pttlMs === -1 ? fullTtlMs : 0;
    if (remainingMs > 0 && this.fence.clean(key, start)) {
      const bytes = isCompressed(got.buf) ? Buffer.byteLength(json) : got.buf.length;
      st.remember(key, value, bytes, remainingMs, fullTtlMs);
    }
    return { hit: { value, tier: 'redis' }, remainingMs };
  }

  /**
   * Writes value (and its JSON, from serialize()) to memory then Redis (see WriteMode). `start`
   * is fence.now() taken before the load that produced the value ('fill', 'refresh').
   */
  async write(st: NamespaceState, key: string, value: unknown, json: string, ttlMs: number, mode: WriteMode, start = 0): Promise<void> {
    if (mode === 'set') this.fence.touch(key);
    else if (!this.fence.clean(key, start)) return; // the key changed while we loaded: our value is older
    if (mode === 'refresh') this.fence.touch(key);
    const bytes = Buffer.byteLength(json);
    st.remember(key, value, bytes, ttlMs, ttlMs);
    const redis = this.redis;
    if (!redis) return;
    const payload = encode(json, bytes, st.def.compressionThresholdBytes);
    const notify = mode === 'fill' ? undefined : encodeMessage({ o: this.nodeId, k: [key] });
    await redis.set(key, payload, ttlMs, mode === 'fill', notify);
  }

  /** Removes key from memory and Redis and tells the other nodes. Whether it existed in either. */
  async drop(st: NamespaceState, key: string): Promise<boolean> {
    this.fence.touch(key);
    const inMemory = st.memory.delete(key);
    const n = await this.redis?.unlink([key], encodeMessage({ o: this.nodeId, k: [key] }));
    return inMemory || (n ?? 0) > 0;
  }
}
