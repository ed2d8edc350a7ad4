// Three-tier reads of stored history: memory (LRU by bytes, TTL) → Redis → PostgreSQL.
//
// Only the past before this process's memory coverage is read here (the shared rings serve the
// rest). That range is split into whole hours, which are immutable once committed: their points
// are cached under stable keys, in memory and in Redis for a day, so a restarted process or
// another node reads them without touching PostgreSQL. The last, partial hour up to the coverage
// start is cached in memory only, briefly. One load per key is in flight at a time (no stampede).

import type { Redis } from 'ioredis';
import type { RedisConnections } from '../../store/redis-connections.js';
import type { Piscina } from 'piscina';
import type { Logger } from '../../log.js';
import type { PointsPayload } from '../../protocol/history.js';
import type { DatabaseHistoryTask } from '../../store/history-points.js';
import { LatencyRecorder, type LatencySummary, nowMs } from '../../stats/latency.js';

const HOUR_MS = 3_600_000;
const HOUR_TTL_S = 86_400;
const TAIL_TTL_MS = 10_000;
const MEMORY_BYTES = 64 << 20;
/** Buckets one query may return: an hour at 100 ms resolution. */
const MAX_POINTS_PER_CHUNK = 36_000;
const REDIS_TIMEOUT_MS = 250;

export interface Points {
  bytes: Uint8Array; // comma-separated point objects
  points: number;
  lastSeq: number;
  epoch: number;
}

export interface TierStats {
  hits: number;
  misses: number;
  errors: number;
  latency: LatencySummary;
}

interface Entry {
  value: Points;
  expiresAt: number;
}

class Tier {
  hits = 0;
  misses = 0;
  errors = 0;
  readonly latency = new LatencyRecorder();
  stats(): TierStats {
    return { hits: this.hits, misses: this.misses, errors: this.errors, latency: this.latency.summary() };
  }
}

export class HistoryTiers {
  private readonly memory = new Map<string, Entry>(); // insertion order = LRU order
  private memoryBytes = 0;
  private readonly inFlight = new Map<string, Promise<Points>>();
  private readonly redis?: Redis;
  private readonly connections?: RedisConnections;
  readonly tiers = { memory: new Tier(), redis: new Tier(), database: new Tier() };

  constructor(
    private readonly pool: Piscina,
    private readonly db: { url: string; timescale: boolean },
    redis: RedisConnections | undefined,
    private readonly log: Logger,
  ) {
    if (redis) {
      // A read fails fast while Redis is away (no offline queue: the node's policy) and falls
      // through to PostgreSQL instead of waiting for a reconnect.
      this.connections = redis;
      this.redis = redis.client({ role: 'history' });
      this.redis.connect().catch((e: Error) => this.log.debug('history cache: Redis unreachable at start', { error: e.message }));
      // Connection errors surface as `status`; each failed call is counted in tiers.redis.errors.
      this.redis.on('error', (e: Error) => this.log.debug('history cache: Redis error', { error: e.message }));
    }
  }

  /** The node's Redis client for reads (GET /trades reads the capped trade lists with it); undefined without Redis. */
  get redisClient(): Redis | undefined {
    return this.redis;
  }

  /**
   * Stored points of `symbol` with fromMs <= time < toMs, at `resolutionMs`, oldest first, as
   * the hour chunks' own bytes: the caller writes them once into the frame (a day is ~20 MB, so
   * joining here would copy it one extra time).
   */
  async read(symbol: string, fromMs: number, toMs: number, resolutionMs: number): Promise<StoredPoints> {
    if (toMs <= fromMs) return { parts: [], points: 0, lastSeq: 0, epoch: 0 };
    const chunks: [number, number, boolean][] = []; // [from, to, whole hour]
    for (let h = Math.floor(fromMs / HOUR_MS) * HOUR_MS; h < toMs; h += HOUR_MS) {
      const from = Math.max(h, fromMs);
      const to = Math.min(h + HOUR_MS, toMs);
      chunks.push([from, to, from === h && to === h + HOUR_MS]);
    }
    const parts = await Promise.all(chunks.map(([f, t, whole]) => this.chunk(symbol, f, t, resolutionMs, whole)));
    return join(parts);
  }

  private chunk(symbol: string, fromMs: number, toMs: number, res: number, whole: boolean): Promise<Points> {
    const key = `orderbook:${symbol}:points:${res}:${fromMs}:${toMs}`;
    const t0 = nowMs();
    const m = this.memory.get(key);
    if (m && m.expiresAt > Date.now()) {
      this.memory.delete(key); // refresh its LRU position
      this.memory.set(key, m);
      this.tiers.memory.hits++;
      this.tiers.memory.latency.recordMs(nowMs() - t0);
      return Promise.resolve(m.value);
    }
    this.tiers.memory.misses++;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.load(key, symbol, fromMs, toMs, res, whole).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async load(key: string, symbol: string, fromMs: number, toMs: number, res: number, whole: boolean): Promise<Points> {
    if (whole) {
      const cached = await this.fromRedis(key);
      if (cached) {
        this.remember(key, cached, HOUR_TTL_S * 1000);
        return cached;
      }
    }
    const t0 = nowMs();
    let r: PointsPayload;
    try {
      const task: DatabaseHistoryTask = {
        kind: 'database', databaseUrl: this.db.url, timescale: this.db.timescale,
        symbol, fromMs, toMs, resolutionMs: res, limit: MAX_POINTS_PER_CHUNK,
      };
      r = (await this.pool.run(task)) as PointsPayload;
    } catch (e) {
      this.tiers.database.errors++;
      throw e;
    }
    this.tiers.database.misses++; // a database read is the tier of last resort: every one is a load
    this.tiers.database.latency.recordMs(nowMs() - t0);
    const value: Points = { bytes: new Uint8Array(r.buffer, r.offset, r.length), points: r.points, lastSeq: r.lastSeq, epoch: r.epoch };
    this.remember(key, value, whole ? HOUR_TTL_S * 1000 : TAIL_TTL_MS);
    if (whole) this.toRedis(key, value);
    return value;
  }

  private remember(key: string, value: Points, ttlMs: number): void {
    const old = this.memory.get(key);
    if (old) this.memoryBytes -= old.value.bytes.length;
    this.memory.set(key, { value, expiresAt: Date.now() + ttlMs });
    this.memoryBytes += value.bytes.length;
    for (const [k, e] of this.memory) {
      if (this.memoryBytes <= MEMORY_BYTES) break;
      this.memory.delete(k); // least recently used first
      this.memoryBytes -= e.value.bytes.length;
    }
  }

  private async fromRedis(key: string): Promise<Points | undefined> {
    const redis = this.redis;
    if (!redis || redis.status !== 'ready') return undefined;
    const t0 = nowMs();
    try {
      const buf = await Promise.race([
        redis.getBuffer(key),
        new Promise<null>((r) => setTimeout(() => r(null), REDIS_TIMEOUT_MS).unref()),
      ]);
      if (!buf || buf.length < 20) {
        this.tiers.redis.misses++;
        return undefined;
      }
      this.tiers.redis.hits++;
      this.tiers.redis.latency.recordMs(nowMs() - t0);
      return { points: buf.readUInt32LE(0), lastSeq: buf.readDoubleLE(4), epoch: buf.readDoubleLE(12), bytes: buf.subarray(20) };
    } catch (e) {
      this.tiers.redis.errors++;
      this.log.debug('Redis read failed; reading PostgreSQL', { error: (e as Error).message });
      return undefined;
    }
  }

  private toRedis(key: string, v: Points): void {
    const redis = this.redis;
    if (!redis || redis.status !== 'ready') return;
    const buf = Buffer.allocUnsafe(20 + v.bytes.length);
    buf.writeUInt32LE(v.points, 0);
    buf.writeDoubleLE(v.lastSeq, 4);
    buf.writeDoubleLE(v.epoch, 12);
    buf.set(v.bytes, 20);
    redis.set(key, buf, 'EX', HOUR_TTL_S).catch(() => this.tiers.redis.errors++);
  }

  cacheStats(): { entries: number; bytes: number } {
    return { entries: this.memory.size, bytes: this.memoryBytes };
  }

  async close(): Promise<void> {
    if (this.redis) await this.connections!.close(this.redis);
  }
}

/** Stored points as their chunks' comma-free JSON fragments, in order (join them with commas). */
export interface StoredPoints {
  parts: Uint8Array[];
  points: number;
  lastSeq: number;
  epoch: number;
}

/** Keeps the chunks with points, in order; the newest gives lastSeq/epoch. */
function join(parts: Points[]): StoredPoints {
  const nonEmpty = parts.filter((p) => p.points > 0);
  const last = nonEmpty[nonEmpty.length - 1];
  return { parts: nonEmpty.map((p) => p.bytes), points: nonEmpty.reduce((n, p) => n + p.points, 0), lastSeq: last?.lastSeq ?? 0, epoch: last?.epoch ?? 0 };
}
