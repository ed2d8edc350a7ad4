// The cache's Redis tier: values (GET/SET PX), the stampede lock, SCAN+UNLINK, and the invalidation channel.
//
// Redis is a shared cache, never required: while it is down every method here answers "absent"
// or "not done" at once (no offline queue, commands fail fast) and nothing throws at the caller;
// errors are counted and state changes logged once. ioredis reconnects in the background and
// the tier is used again as soon as the connection is `ready`.
//
// Two connections per node: commands, and a subscriber (a subscribed connection can do nothing
// else). Every key carries `keyPrefix`; the cache's own bookkeeping lives under `${prefix}_…`
// (`_lock:`, `_sidx:`, `_rl:`), which no namespace tag can start with.

import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { RedisConnections } from '../store/redis-connections.js';
import { connectionState } from '../store/redis-tier.js';
import type { RedisState } from './types.js';

export interface CacheRedisOptions {
  /** Where the cache's two connections come from (REDIS_URL, the node's policy and ceiling). */
  connections: RedisConnections;
  /** Prefix of every key and channel. Default 'tp:cache:'. */
  keyPrefix?: string;
  /** A command without a reply after this long fails (the caller sees a miss). Default 500 ms. */
  commandTimeoutMs?: number;
}

export const DEFAULT_KEY_PREFIX = 'tp:cache:';
const SCAN_COUNT = 1000;
const UNLINK_BATCH = 500;

/** Compare-and-delete: release the lock only if we still hold it (it may have expired and been retaken). */
const UNLOCK_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

type Unlocker = Redis & { tickplantUnlock(key: string, token: string): Promise<number> };

export interface RedisValue {
  buf: Buffer;
  /** Remaining TTL in ms; -1 if the key has none. */
  pttlMs: number;
}

export class CacheRedisTier {
  readonly prefix: string;
  readonly channel: string;
  errors = 0;
  private readonly client: Unlocker;
  private readonly sub: Redis;
  private readonly connections: RedisConnections;
  private wasReady = false;
  private subscribed = false;
  private closing = false;

  constructor(opts: CacheRedisOptions, nodeId: string, private readonly log: Logger, onMessage: (msg: string) => void) {
    this.prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(this.prefix)) throw new RangeError(`cache redis option keyPrefix must be 1-64 characters of [A-Za-z0-9_.:-], got "${this.prefix}"`);
    this.channel = `${this.prefix}_invalidate`;
    const commandTimeoutMs = opts.commandTimeoutMs ?? 500;
    this.connections = opts.connections;
    this.client = opts.connections.client({
      role: `cache:${nodeId}`, commandTimeoutMs,
      // A connection with replies outstanding and silent this long is dead (a hung Redis).
      socketTimeoutMs: Math.max(2000, commandTimeoutMs * 4),
    }) as Unlocker;
    this.client.defineCommand('tickplantUnlock', { numberOfKeys: 1, lua: UNLOCK_LUA });
    try {
      this.sub = opts.connections.client({ role: `cache-sub:${nodeId}` });
    } catch (e) {
      void opts.connections.close(this.client); // its slot back: the tier is not built
      throw e;
    }

    // Log transitions only; ioredis emits 'error' on every failed reconnect attempt.
    const down = (why: string) => {
      if (this.wasReady && !this.closing) {
        this.wasReady = false;
        this.log.warn('cache: Redis down; serving from memory until it returns', { error: why });
      }
    };
    this.client.on('error', (e: Error) => down(e.message));
    this.client.on('close', () => down('connection closed'));
    this.client.on('ready', () => {
      if (!this.closing) this.log.info('cache: Redis ready');
      this.wasReady = true;
    });
    this.sub.on('error', (e: Error) => this.log.debug('cache: Redis subscriber error', { error: e.message }));
    this.sub.on('message', (_channel: string, message: string) => onMessage(message));
    // autoResubscribe covers reconnects after the first SUBSCRIBE; this covers a Redis that was
    // down when the node started.
    this.sub.on('ready', () => {
      if (this.subscribed || this.closing) return;
      this.sub.subscribe(this.channel).then(
        () => void (this.subscribed = true),
        (e: Error) => this.log.debug('cache: SUBSCRIBE failed; retried on the next connection', { error: e.message }),
      );
    });
  }

  /** Tries to connect; never throws (a Redis down at start is a degraded start, not a failure). */
  async connect(): Promise<void> {
    const failures = await Promise.all([this.client, this.sub].map((c) => c.connect().then(() => undefined, (e: Error) => e.message)));
    const error = failures.find((f) => f !== undefined);
    // ioredis keeps reconnecting in the background (retryStrategy); 'ready' brings the tier back.
    if (error) this.log.warn('cache: Redis unreachable at start; memory tier only until it comes up', { error });
  }

  get state(): RedisState {
    return connectionState(this.client.status);
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** The command connection, for the rate limiter's script (callers go through run()). */
  get raw(): Redis {
    return this.client;
  }

  /** Runs fn on the command connection; undefined if Redis is not ready or the command fails. */
  async run<T>(fn: (c: Redis) => Promise<T>): Promise<T | undefined> {
    if (this.client.status !== 'ready') return undefined;
    try {
      return await fn(this.client);
    } catch (e) {
      this.errors++;
      this.log.debug('cache: Redis command failed', { error: (e as Error).message });
      return undefined;
    }
  }

  /** null: absent; undefined: Redis unavailable (not asked, or failed). */
  async get(key: string): Promise<RedisValue | null | undefined> {
    const k = this.prefix + key;
    const r = await this.run((c) => c.pipeline().getBuffer(k).pttl(k).exec());
    if (!r) return undefined;
    const [[e1, buf], [e2, pttl]] = r as [[Error | null, Buffer | null], [Error | null, number]];
    if (e1 || e2) {
      this.errors++;
      return undefined;
    }
    return buf ? { buf, pttlMs: pttl } : null;
  }

  /**
   * SET key PX ttl (NX: only if absent — a load's fill never overwrites a value someone set
   * meanwhile), then PUBLISH `notify` on the invalidation channel, in one round trip.
   * Returns whether Redis took the write.
   */
  async set(key: string, payload: string | Buffer, ttlMs: number, nx: boolean, notify?: string): Promise<boolean> {
    const k = this.prefix + key;
    const r = await this.run((c) => {
      const p = c.pipeline();
      if (nx) p.set(k, payload, 'PX', ttlMs, 'NX');
      else p.set(k, payload, 'PX', ttlMs);
      if (notify !== undefined) p.publish(this.channel, notify);
      return p.exec();
    });
    if (!r) return false;
    if (r.some(([e]) => e)) this.errors++;
    return r[0][0] === null && r[0][1] === 'OK';
  }

  /** UNLINK keys and PUBLISH `notify`; the number of keys that existed (undefined: Redis unavailable). */
  async unlink(keys: readonly string[], notify?: string): Promise<number | undefined> {
    const r = await this.run((c) => {
      const p = c.pipeline();
      if (keys.length > 0) p.unlink(...keys.map((k) => this.prefix + k));
      if (notify !== undefined) p.publish(this.channel, notify);
      return p.exec();
    });
    if (!r) return undefined;
    if (r.some(([e]) => e)) this.errors++;
    return keys.length > 0 ? Number(r[0][1] ?? 0) : 0;
  }

  async publish(message: string): Promise<boolean> {
    return (await this.run((c) => c.publish(this.channel, message))) !== undefined;
  }

  /**
   * SCAN MATCH prefix+glob (never KEYS: it blocks Redis for the whole keyspace), UNLINK in
   * batches (freed in Redis's background thread). `keep(key)` spares keys (the cache's own
   * bookkeeping). Returns the keys removed, without the prefix; undefined if Redis failed.
   */
  async scanUnlink(glob: string, keep: (key: string) => boolean): Promise<string[] | undefined> {
    const removed: string[] = [];
    const ok = await this.run(async (c) => {
      let cursor = '0';
      do {
        const [next, found] = await c.scan(cursor, 'MATCH', this.prefix + glob, 'COUNT', SCAN_COUNT);
        cursor = next;
        const doomed = found.filter((k) => !keep(k.slice(this.prefix.length)));
        for (let i = 0; i < doomed.length; i += UNLINK_BATCH) {
          const batch = doomed.slice(i, i + UNLINK_BATCH);
          await c.unlink(...batch);
          for (const k of batch) removed.push(k.slice(this.prefix.length));
        }
      } while (cursor !== '0');
      return true;
    });
    // A failure midway still reports what was removed before it.
    return ok === undefined && removed.length === 0 ? undefined : removed;
  }

  /** Keys matching prefix+glob (without the prefix), at most `limit`; undefined if Redis failed. */
  async scan(glob: string, limit: number): Promise<string[] | undefined> {
    return this.run(async (c) => {
      const out: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await c.scan(cursor, 'MATCH', this.prefix + glob, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const k of found) if (out.length < limit) out.push(k.slice(this.prefix.length));
      } while (cursor !== '0' && out.length < limit);
      return out;
    });
  }

  /** 'acquired' | 'held' (someone else has it) | 'unavailable' (Redis down or failed). */
  async lock(key: string, token: string, ttlMs: number): Promise<'acquired' | 'held' | 'unavailable'> {
    const r = await this.run((c) => c.set(`${this.prefix}_lock:${key}`, token, 'PX', ttlMs, 'NX'));
    return r === undefined ? 'unavailable' : r === 'OK' ? 'acquired' : 'held';
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.run((c) => (c as Unlocker).tickplantUnlock(`${this.prefix}_lock:${key}`, token));
  }

  /** Whether the lock is held; false also when Redis is unavailable (the waiter then loads). */
  async locked(key: string): Promise<boolean> {
    return (await this.run((c) => c.exists(`${this.prefix}_lock:${key}`))) === 1;
  }

  /** PING round trip in ms, or the error. */
  async ping(): Promise<{ latencyMs?: number; error?: string }> {
    if (this.client.status !== 'ready') return { error: `connection ${this.client.status}` };
    const t0 = performance.now();
    try {
      await this.client.ping();
      return { latencyMs: Math.round((performance.now() - t0) * 1000) / 1000 };
    } catch (e) {
      this.errors++;
      return { error: (e as Error).message };
    }
  }

  /** QUIT both connections (bounded), else disconnect; their slots are given back. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.client, this.sub].map((c) => this.connections.close(c)));
  }
}
