// The Redis tier of the writer actor: pipelined cache writes (latest, capped history, PUBLISH).
//
// Redis is a cache and a bus, never the source of truth (PostgreSQL is): when Redis is down or
// slow, writeBatch() refuses (returns false) and the caller counts the batch as skipped. Nothing
// is queued in memory on Redis's behalf, so an outage costs data in the cache, never the heap.
// One instance, one thread (the writer actor); not safe to share between threads.

import { Redis, type RedisOptions } from 'ioredis';
import { TickplantError } from '../errors.js';
import { LatencyRecorder, type LatencySummary } from '../stats/latency.js';

/** Redis could not be reached (or refused us) when connect() was called. */
export class RedisUnavailableError extends TickplantError {
  constructor(message: string) {
    super('redis_unavailable', message);
  }
}

export interface RedisKeys {
  latest(symbol: string): string;
  history(symbol: string): string;
  channel(symbol: string): string;
}

/** Every Redis key and channel name is built here (seed 000: `orderbook:{symbol}:latest|history`). */
export function makeRedisKeys(keyPrefix = 'orderbook:', channelPrefix = 'orderbook:'): RedisKeys {
  return {
    latest: (s) => `${keyPrefix}${s}:latest`,
    history: (s) => `${keyPrefix}${s}:history`,
    channel: (s) => `${channelPrefix}${s}`,
  };
}

export interface RedisTierLog {
  warn(msg: string, f?: object): void;
  info(msg: string, f?: object): void;
}

export interface RedisTierOptions {
  /** REDIS_URL, e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** REDIS_PASSWORD; overrides a password in the URL when set. */
  password?: string;
  /** Database index; overrides one in the URL when set. */
  db?: number;
  /** TTL of `:latest` and `:history`, seconds (seed: 3600). */
  ttlSeconds: number;
  /** Entries kept in `:history` (seed: 100). */
  historyLength: number;
  /** PUBLISH channel = channelPrefix + symbol (default bus: 'orderbook:'). */
  channelPrefix: string;
  /** Key prefix of `:latest`/`:history`. Default 'orderbook:'; tests use a unique one per run. */
  keyPrefix?: string;
  /** Pipelines sent and awaiting their reply; at this many, writeBatch() refuses (e.g. 4). */
  maxInFlight: number;
  /** Initial connect attempt gives up after this long. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** A connection with replies outstanding and no byte received for this long is declared dead
   *  (covers a Redis that hangs without closing the socket). Default 2000 ms. */
  socketTimeoutMs?: number;
  /** Cap of the exponential reconnect backoff. Default 2000 ms. */
  reconnectMaxMs?: number;
  log: RedisTierLog;
}

export type RedisTierStatus = 'ready' | 'connecting' | 'down';

/** An ioredis connection's status as a tier's state (shared by the writer's and the cache's tiers). */
export function connectionState(status: string): RedisTierStatus {
  switch (status) {
    case 'ready':
      return 'ready';
    case 'wait':
    case 'connecting':
    case 'connect':
      return 'connecting';
    default: // reconnecting (waiting for the next attempt), close, end
      return 'down';
  }
}

export interface RedisTierCounters {
  /** Pipelines sent. */
  batches: number;
  /** Commands sent in those pipelines. */
  commands: number;
  /** writeBatch() calls refused (not ready, or maxInFlight reached). */
  skippedBatches: number;
  /** Commands that failed (reply error, timeout, connection lost). */
  errors: number;
}

export interface BatchItem {
  symbol: string;
  /** The frame JSON, as serialized once by the shard. */
  latest: string | Buffer;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`RedisTier option ${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/** The URL with its password replaced, for logs and error messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

export class RedisTier {
  readonly keys: RedisKeys;
  readonly counters: RedisTierCounters = { batches: 0, commands: 0, skippedBatches: 0, errors: 0 };
  private readonly client: Redis;
  private readonly latency = new LatencyRecorder();
  private readonly ttl: number;
  private readonly historyLength: number;
  private readonly maxInFlight: number;
  private readonly url: string;
  private readonly log: RedisTierLog;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private wasReady = false;
  private closing = false;

  constructor(opts: RedisTierOptions) {
    if (typeof opts.url !== 'string' || opts.url === '') throw new TypeError('RedisTier option url (REDIS_URL) is required');
    this.ttl = positiveInt('ttlSeconds', opts.ttlSeconds);
    this.historyLength = positiveInt('historyLength', opts.historyLength);
    this.maxInFlight = positiveInt('maxInFlight', opts.maxInFlight);
    const reconnectMaxMs = positiveInt('reconnectMaxMs', opts.reconnectMaxMs ?? 2000);
    this.keys = makeRedisKeys(opts.keyPrefix ?? 'orderbook:', opts.channelPrefix);
    this.url = redact(opts.url);
    this.log = opts.log;

    const options: RedisOptions = {
      lazyConnect: true, // connect() is explicit, so its failure is an error the caller sees
      // Memory: by default ioredis keeps every command issued while disconnected in an
      // unbounded "offline queue" and sends it on reconnect; at tens of thousands of commands
      // per second an outage would grow the heap without limit. Off: such commands fail at once
      // (and writeBatch() does not even issue them).
      enableOfflineQueue: false,
      // Commands already sent when the connection drops are failed at the first close instead of
      // waiting through reconnect attempts (the default, 20, holds them for minutes), and are
      // not resent later: a stale cache write replayed after an outage is worth nothing.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: positiveInt('connectTimeoutMs', opts.connectTimeoutMs ?? 3000),
      // One timer per connection, armed only while replies are outstanding (a per-command
      // `commandTimeout` would arm one timer per pipelined command: 2,500 per 500-item batch).
      socketTimeout: positiveInt('socketTimeoutMs', opts.socketTimeoutMs ?? 2000),
      // Exponential backoff 50, 100, 200 … ms, capped, with jitter so many nodes don't reconnect in step.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 16), reconnectMaxMs) + Math.floor(Math.random() * 50),
      connectionName: 'tickplant-writer',
    };
    if (opts.password !== undefined) options.password = opts.password;
    if (opts.db !== undefined) options.db = opts.db;
    this.client = new Redis(opts.url, options);

    // Without an 'error' listener ioredis stays silent; with one, every failed reconnect attempt
    // emits. Log transitions only (ready → down, down → ready), not every attempt.
    this.client.on('error', (err: Error) => {
      if (this.wasReady && !this.closing) {
        this.wasReady = false;
        this.log.warn('redis down: cache writes are skipped until it returns', { url: this.url, error: err.message });
      }
    });
    this.client.on('close', () => {
      if (this.wasReady && !this.closing) {
        this.wasReady = false;
        this.log.warn('redis connection closed: cache writes are skipped until it returns', { url: this.url });
      }
    });
    this.client.on('ready', () => {
      this.wasReady = true;
      this.log.info('redis ready', { url: this.url });
    });
  }

  /** Resolves once Redis answers; rejects with a RedisUnavailableError naming REDIS_URL. On
   *  failure the client keeps reconnecting in the background (writeBatch() refuses meanwhile);
   *  call close() to stop it. */
  async connect(): Promise<void> {
    if (this.client.status === 'ready') return;
    try {
      await this.client.connect();
    } catch (err) {
      throw new RedisUnavailableError(
        `cannot connect to Redis at ${this.url} (REDIS_URL${this.client.options.password ? ', REDIS_PASSWORD' : ''}): ` +
          `${(err as Error).message}; start Redis or fix REDIS_URL, or unset REDIS_URL to run without the Redis tier`,
      );
    }
  }

  get status(): RedisTierStatus {
    return connectionState(this.client.status);
  }

  /** Resolves when no pipeline awaits its reply (e.g. before close(), or in tests). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private settled(t0: number): void {
    this.inFlight--;
    this.latency.recordMs(performance.now() - t0);
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Round-trip time of writeBatch() pipelines (send → last reply), successful or not. */
  latencySummary(): LatencySummary {
    return this.latency.summary();
  }

  /**
   * Sends one pipeline for the batch; returns false (sending nothing) when Redis is not ready
   * or maxInFlight pipelines await their replies. Never throws for Redis's sake; failures are
   * counted in `counters.errors`. Per symbol: SET latest (newest) EX ttl, LPUSH history (all
   * items, oldest first so the newest is at index 0), LTRIM, EXPIRE; then PUBLISH every item
   * in order. Items are referenced until the reply: don't reuse a Buffer passed here.
   */
  writeBatch(items: readonly BatchItem[]): boolean {
    if (this.client.status !== 'ready' || this.inFlight >= this.maxInFlight) {
      this.counters.skippedBatches++;
      return false;
    }
    if (items.length === 0) return true;

    // Group by symbol, keeping first-seen order; within a symbol, batch (= arrival) order.
    const bySymbol = new Map<string, (string | Buffer)[]>();
    for (const it of items) {
      const list = bySymbol.get(it.symbol);
      if (list) list.push(it.latest);
      else bySymbol.set(it.symbol, [it.latest]);
    }

    const p = this.client.pipeline();
    const keys = this.keys;
    const lastIndex = this.historyLength - 1;
    let commands = 0;
    for (const [symbol, frames] of bySymbol) {
      const history = keys.history(symbol);
      p.set(keys.latest(symbol), frames[frames.length - 1], 'EX', this.ttl);
      p.lpush(history, ...frames);
      p.ltrim(history, 0, lastIndex);
      p.expire(history, this.ttl);
      commands += 4;
      // After the cache writes: a subscriber that reads `:latest` on a message sees at least it.
      const channel = keys.channel(symbol);
      for (const f of frames) p.publish(channel, f);
      commands += frames.length;
    }

    this.inFlight++;
    this.counters.batches++;
    this.counters.commands += commands;
    const t0 = performance.now();
    // exec() resolves with [err, reply] per command; it rejects only if the pipeline could not
    // be sent at all. Both paths are handled here, so no rejection can escape.
    p.exec().then(
      (results) => {
        this.settled(t0);
        if (!results) return;
        let failed = 0;
        let first: Error | null = null;
        for (const [err] of results) {
          if (err) {
            failed++;
            first ??= err;
          }
        }
        if (failed > 0) this.onPipelineError(failed, first!);
      },
      (err: Error) => {
        this.settled(t0);
        this.onPipelineError(commands, err);
      },
    );
    return true;
  }

  private onPipelineError(failed: number, err: Error): void {
    this.counters.errors += failed;
    // Connection loss is already logged once by the 'close' listener; log reply errors (e.g. OOM,
    // WRONGTYPE) which mean misconfiguration, not an outage.
    if (this.client.status === 'ready') {
      this.log.warn('redis pipeline commands failed', { failed, error: err.message });
    }
  }

  /** QUIT (waits for outstanding replies); if that takes over 1 s, or Redis is down, disconnect. */
  async close(): Promise<void> {
    this.closing = true;
    const c = this.client;
    if (c.status === 'end') return;
    if (c.status !== 'ready') {
      c.disconnect(); // also stops the reconnect timer
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), 1000);
    });
    const quit = c.quit().then(
      () => 'ok' as const,
      () => 'failed' as const,
    );
    const outcome = await Promise.race([quit, timedOut]);
    clearTimeout(timer);
    if (outcome !== 'ok') c.disconnect();
  }
}
