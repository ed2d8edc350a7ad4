// The Redis tier of the writer actor: pipelined cache writes (latest, capped history, capped trades, PUBLISH).
//
// Redis is a cache and a bus, never the source of truth (PostgreSQL is): when Redis is down or
// slow, writeBatch() refuses (returns false) and the caller counts the batch as skipped. Nothing
// is queued in memory on Redis's behalf, so an outage costs data in the cache, never the heap.
// One instance, one thread (the writer actor); not safe to share between threads.

import type { Redis } from 'ioredis';
import { TickplantError } from '../errors.js';
import type { RedisConnections } from './redis-connections.js';
import { redactUrl } from '../log.js';
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
  /** The symbol's recent `trade` frames, newest first. */
  trades(symbol: string): string;
  channel(symbol: string): string;
}

/** Key prefix of the capped trade lists: `trades:{symbol}`. */
export const TRADES_KEY_PREFIX = 'trades:';

/** Every Redis key and channel name is built here (`orderbook:{symbol}:latest|history`, `trades:{symbol}` by default). */
export function makeRedisKeys(keyPrefix = 'orderbook:', channelPrefix = 'orderbook:', tradesKeyPrefix = TRADES_KEY_PREFIX): RedisKeys {
  return {
    latest: (s) => `${keyPrefix}${s}:latest`,
    history: (s) => `${keyPrefix}${s}:history`,
    trades: (s) => `${tradesKeyPrefix}${s}`,
    channel: (s) => `${channelPrefix}${s}`,
  };
}

export interface RedisTierLog {
  warn(msg: string, f?: object): void;
  info(msg: string, f?: object): void;
}

export interface RedisTierOptions {
  /** Where the writer's connection comes from (REDIS_URL, the node's policy and ceiling). */
  connections: RedisConnections;
  /** TTL of `:latest`, `:history` and `trades:`, seconds (REDIS_TTL_SECONDS, default 3600). */
  ttlSeconds: number;
  /** Entries kept in `:history` (REDIS_HISTORY_LENGTH, default 100). */
  historyLength: number;
  /** Trades kept in `trades:{symbol}` (REDIS_TRADES_LENGTH, default 1000). */
  tradesLength?: number;
  /** PUBLISH channel = channelPrefix + symbol (default bus: 'orderbook:'). */
  channelPrefix: string;
  /** Key prefix of `:latest`/`:history`. Default 'orderbook:'; tests use a unique one per run. */
  keyPrefix?: string;
  /** Key prefix of the trade lists. Default 'trades:'. */
  tradesKeyPrefix?: string;
  /** Pipelines sent and awaiting their reply; at this many, writeBatch() refuses (e.g. 4). */
  maxInFlight: number;
  /** A connection with replies outstanding and no byte received for this long is declared dead
   *  (covers a Redis that hangs without closing the socket). Default: the node's policy. */
  socketTimeoutMs?: number;
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

/** Frames by symbol, keeping first-seen order; within a symbol, batch (= arrival) order. */
function groupBySymbol(items: readonly BatchItem[]): Map<string, (string | Buffer)[]> {
  const bySymbol = new Map<string, (string | Buffer)[]>();
  for (const it of items) {
    const list = bySymbol.get(it.symbol);
    if (list) list.push(it.latest);
    else bySymbol.set(it.symbol, [it.latest]);
  }
  return bySymbol;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`RedisTier option ${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}


export class RedisTier {
  readonly keys: RedisKeys;
  readonly counters: RedisTierCounters = { batches: 0, commands: 0, skippedBatches: 0, errors: 0 };
  private readonly client: Redis;
  private readonly connections: RedisConnections;
  private readonly latency = new LatencyRecorder();
  private readonly ttl: number;
  private readonly historyLength: number;
  private readonly tradesLength: number;
  private readonly maxInFlight: number;
  private readonly url: string;
  private readonly log: RedisTierLog;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private wasReady = false;
  private closing = false;

  constructor(opts: RedisTierOptions) {
    this.ttl = positiveInt('ttlSeconds', opts.ttlSeconds);
    this.historyLength = positiveInt('historyLength', opts.historyLength);
    this.tradesLength = positiveInt('tradesLength', opts.tradesLength ?? 1000);
    this.maxInFlight = positiveInt('maxInFlight', opts.maxInFlight);
    this.keys = makeRedisKeys(opts.keyPrefix ?? 'orderbook:', opts.channelPrefix, opts.tradesKeyPrefix ?? TRADES_KEY_PREFIX);
    this.url = redactUrl(opts.connections.settings.url);
    this.log = opts.log;
    // No per-command timeout: that would arm one timer per pipelined command (2,500 per
    // 500-item batch); the socket timeout covers a Redis that hangs.
    this.connections = opts.connections;
    this.client = opts.connections.client({
      role: 'writer', socketTimeoutMs: opts.socketTimeoutMs === undefined ? undefined : positiveInt('socketTimeoutMs', opts.socketTimeoutMs),
    });

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
   * in order. `trades` (`trade` frames) are kept the same way as history, in `trades:{symbol}`
   * (LPUSH, LTRIM to tradesLength, EXPIRE), and not published. Items are referenced until the
   * reply: don't reuse a Buffer passed here.
   */
  writeBatch(items: readonly BatchItem[], trades: readonly BatchItem[] = []): boolean {
    if (this.client.status !== 'ready' || this.inFlight >= this.maxInFlight) {
      this.counters.skippedBatches++;
      return false;
    }
    if (items.length === 0 && trades.length === 0) return true;

    const bySymbol = groupBySymbol(items);
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
    const lastTrade = this.tradesLength - 1;
    for (const [symbol, frames] of groupBySymbol(trades)) {
      const key = keys.trades(symbol);
      p.lpush(key, ...(frames.length > this.tradesLength ? frames.slice(-this.tradesLength) : frames)); // the rest would be trimmed at once
      p.ltrim(key, 0, lastTrade);
      p.expire(key, this.ttl);
      commands += 3;
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

  /** QUIT (waits for outstanding replies, bounded), else disconnect; the connection's slot is given back. */
  async close(): Promise<void> {
    this.closing = true;
    await this.connections.close(this.client);
  }
}
