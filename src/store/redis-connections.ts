// Every Redis connection a node opens: one retry and timeout policy, one ceiling (REDIS_MAX_CONNECTIONS) across its actors.
//
// The writer, the front's history tiers and the cache service each need Redis, on different
// threads. They all open their clients here, so that they fail and recover the same way, and
// so that counters in shared memory hold the node to its ceiling whichever thread opens the
// next one: one Int32 per owner (an actor), incremented before a client exists, decremented
// when it has ended. An actor that dies takes its sockets with its thread, and the supervisor
// zeroes its counter (releaseRedisOwner) before it restarts it.

import { Redis, type RedisOptions } from 'ioredis';
import { StartupError } from '../errors.js';

/** Opening a client would take the node past REDIS_MAX_CONNECTIONS: the operator's to raise, never retried. */
export class RedisConnectionLimitError extends StartupError {
  constructor(role: string, max: number) {
    super(`cannot open a Redis connection for ${role}: this node already holds REDIS_MAX_CONNECTIONS (${max}); raise it`, 'redis_connection_limit');
  }
}

export interface RedisSettings {
  /** REDIS_URL, e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** REDIS_PASSWORD; overrides a password in the URL when set. */
  password?: string;
  /** REDIS_DB; overrides a database in the URL when set. */
  db?: number;
  /** REDIS_MAX_CONNECTIONS: clients open at once in this node, all threads together. */
  maxConnections: number;
  /** The node's policy; the defaults are REDIS_POLICY (tests shorten them to provoke outages quickly). */
  connectTimeoutMs?: number;
  reconnectMaxMs?: number;
}

export interface ClientOptions {
  /** Names the connection (CLIENT LIST) and the limit error: writer, history, cache, cache-sub. */
  role: string;
  /** A command without a reply after this long fails. Default: none (pipelines arm no per-command timer). */
  commandTimeoutMs?: number;
  /** A connection with replies outstanding and no byte received this long is dead (a hung Redis). Default 2000 ms. */
  socketTimeoutMs?: number;
}

/** The policy every client gets. */
export const REDIS_POLICY = {
  connectTimeoutMs: 2000,
  reconnectMaxMs: 2000,
  socketTimeoutMs: 2000,
} as const;

/** Which counter of the node's an actor's connections count in. */
export const REDIS_OWNER = { writer: 0, front: 1, cache: 2 } as const;
const OWNERS = 4;

/** A node's open-connection counters, one per owner, shared by every actor (the supervisor allocates them). */
export function redisConnectionCounter(): SharedArrayBuffer {
  return new SharedArrayBuffer(OWNERS * 4);
}

/** An owner's thread is gone, and its connections with it: its slots are free. */
export function releaseRedisOwner(counter: SharedArrayBuffer, owner: number): void {
  Atomics.store(new Int32Array(counter), owner, 0);
}

/** Connections open in the node, all owners. */
export function redisConnectionCount(counter: SharedArrayBuffer): number {
  const c = new Int32Array(counter);
  let n = 0;
  for (let i = 0; i < c.length; i++) n += Atomics.load(c, i);
  return n;
}

/** How long close() lets QUIT wait for outstanding replies before it cuts the connection. */
const QUIT_GRACE_MS = 1000;

export class RedisConnections {
  private readonly open: Int32Array;
  /** Clients of this instance still holding a slot: each gives it back exactly once. */
  private readonly held = new WeakSet<Redis>();

  constructor(readonly settings: RedisSettings, private readonly counter: SharedArrayBuffer = redisConnectionCounter(), private readonly owner = 0) {
    if (!Number.isInteger(owner) || owner < 0 || owner >= OWNERS) throw new RangeError(`Redis connection owner must be an integer 0-${OWNERS - 1}, got ${owner}`);
    this.open = new Int32Array(counter);
    if (typeof settings.url !== 'string' || settings.url === '') throw new TypeError('Redis setting url (REDIS_URL) is required');
    if (!Number.isInteger(settings.maxConnections) || settings.maxConnections < 1) {
      throw new RangeError(`Redis setting maxConnections (REDIS_MAX_CONNECTIONS) must be a positive integer, got ${settings.maxConnections}`);
    }
  }

  /** Connections open now in this node (all actors). */
  get count(): number {
    return redisConnectionCount(this.counter);
  }

  /**
   * A new client, not yet connected (`connect()` it). Throws RedisConnectionLimitError at the
   * ceiling. The slot is given back once the client has ended for good (quit or disconnect).
   */
  client(o: ClientOptions): Redis {
    // Claim the slot, then count: of two threads taking the last slot at once, the later one
    // sees both claims and backs off (both may back off; neither can go past the ceiling).
    Atomics.add(this.open, this.owner, 1);
    if (this.count > this.settings.maxConnections) {
      Atomics.sub(this.open, this.owner, 1);
      throw new RedisConnectionLimitError(o.role, this.settings.maxConnections);
    }
    const s = this.settings;
    const reconnectMaxMs = s.reconnectMaxMs ?? REDIS_POLICY.reconnectMaxMs;
    const options: RedisOptions = {
      lazyConnect: true,
      // No offline queue: while Redis is away a command fails at once (the caller falls back to
      // memory or PostgreSQL, or counts a skipped write) instead of waiting in an unbounded
      // queue, and nothing stale is replayed on reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: s.connectTimeoutMs ?? REDIS_POLICY.connectTimeoutMs,
      // One timer per connection, armed only while replies are outstanding (a per-command
      // timeout arms one timer per pipelined command).
      socketTimeout: o.socketTimeoutMs ?? REDIS_POLICY.socketTimeoutMs,
      // Exponential backoff 50, 100, 200 … ms, capped, with jitter: nodes and actors don't reconnect in step.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 16), reconnectMaxMs) + Math.floor(Math.random() * 50),
      connectionName: `tickplant-${o.role}`.slice(0, 60),
    };
    if (o.commandTimeoutMs !== undefined) options.commandTimeout = o.commandTimeoutMs;
    if (s.password !== undefined) options.password = s.password;
    if (s.db !== undefined) options.db = s.db;
    let client: Redis;
    try {
      client = new Redis(s.url, options);
    } catch (e) {
      Atomics.sub(this.open, this.owner, 1);
      throw e;
    }
    this.held.add(client);
    // 'end': closed with no reconnection to come, whoever closed it. (ioredis does not emit it
    // for a client disconnected while waiting to reconnect: close() covers that case.)
    client.once('end', () => this.release(client));
    return client;
  }

  /**
   * Ends `client` for good and gives its slot back: QUIT (waits for outstanding replies), and if
   * that takes over QUIT_GRACE_MS or Redis is away, disconnect (which also stops reconnecting).
   */
  async close(client: Redis): Promise<void> {
    try {
      if (client.status === 'ready') {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), QUIT_GRACE_MS)));
        const outcome = await Promise.race([client.quit().then(() => 'ok' as const, () => 'failed' as const), timedOut]);
        clearTimeout(timer);
        if (outcome !== 'ok') client.disconnect();
      } else if (client.status !== 'end') {
        client.disconnect();
      }
    } finally {
      this.release(client);
    }
  }

  private release(client: Redis): void {
    if (this.held.delete(client)) Atomics.sub(this.open, this.owner, 1);
  }
}

/** An actor's view of the node's Redis (undefined without REDIS_URL): the configured settings and the shared counter. */
export function nodeRedis(
  cfg: { redisUrl?: string; redisPassword?: string; redisDb: number; redisMaxConnections: number },
  counter: SharedArrayBuffer,
  owner: number,
): RedisConnections | undefined {
  if (!cfg.redisUrl) return undefined;
  return new RedisConnections({ url: cfg.redisUrl, password: cfg.redisPassword, db: cfg.redisDb, maxConnections: cfg.redisMaxConnections }, counter, owner);
}
