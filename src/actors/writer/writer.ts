// Writer actor: takes every accepted update and trade from the shards' row queues and persists
// them — COPY batches into PostgreSQL (committed in order, journaled while the database is away)
// and pipelined writes to Redis (latest, last-N history, PUBLISH on the per-symbol channel, the
// last N trades).
//
// Publish before persist: the shards queue the frame for the front first; a slow COPY never
// delays fan-out. Rows are never dropped: when memory and journal are full, the writer stops
// taking rows, the shards stop accepting, and the feed's updates wait or are refused at ingress.

import { resolve } from 'node:path';
import pg from 'pg';
import type { Config } from '../../config.js';
import { type Logger, logger } from '../../log.js';
import { ROW_TRADE, R_EPOCH, R_SEQ, T_EPOCH, T_SEQ } from '../../ring/layout.js';
import { QueueConsumer } from '../../ring/spsc.js';
import { Journal } from '../../store/journal.js';
import { migrate } from '../../store/migrations.js';
import { type BatchItem, RedisTier } from '../../store/redis-tier.js';
import { REDIS_OWNER, nodeRedis } from '../../store/redis-connections.js';
import { RegistrationInbox, type SymbolRegistration } from '../registry.js';
import { BatchBuilder, type ClosedBatch, batchRows } from './batch.js';
import { CommitQueue } from './commit-queue.js';
import { RetentionSweeper } from './retention.js';
import { StartupError } from '../../errors.js';
import { journalRecordRows } from './journal-record.js';
import type { WriterApi, WriterInit, WriterStats } from './messages.js';
import { PendingFrames } from './redis-pending.js';

const BATCH_RECORDS = 1024;
const IDLE_WAIT_MS = 50;
/** Redis frames waiting for a pipeline slot while Redis is connected (beyond: newest N per symbol). */
const REDIS_PENDING_BYTES = 64 << 20;
/** Retry interval while a closed batch waits for room (memory and journal full). */
const HELD_RETRY_MS = 20;

export class WriterActor implements WriterApi {
  private readonly cfg: Config;
  private readonly log: Logger = logger('writer');
  private readonly queues: QueueConsumer[];
  private readonly names: (string | undefined)[] = [];
  private readonly inbox: RegistrationInbox;
  private readonly pool: pg.Pool;
  private journal!: Journal;
  private commits!: CommitQueue;
  private redis?: RedisTier;
  private readonly builder: BatchBuilder;
  /** Last (epoch, seq) taken per symbol id: a restarted shard re-sends its last row. */
  private readonly takenEpoch: number[] = [];
  private readonly takenSeq: number[] = [];
  /** The same for trade rows: the trades channel has its own sequence. */
  private readonly takenTradeEpoch: number[] = [];
  private readonly takenTradeSeq: number[] = [];
  private held?: ClosedBatch; // closed but not yet accepted by the commit queue
  /**
   * Redis items not sent yet (Redis away, or pipelines in flight): the newest REDIS_HISTORY_LENGTH
   * book frames and REDIS_TRADES_LENGTH trades per symbol, merged with each new batch, so :latest
   * and the lists always converge and memory stays bounded. While Redis is connected every frame
   * waits (bounded by bytes), so the bus carries every update; while it is away only the newest
   * are kept, and bus readers see the jump in `seq`.
   */
  private readonly redisPending: PendingFrames;
  private readonly tradesPending: PendingFrames;
  private timescale = false;
  private migrated?: Promise<void>;
  private schemaReady = false; // migrated: `timescale` is known
  private running = true;
  private timer?: NodeJS.Timeout;
  private retention?: RetentionSweeper;
  private rowsTaken = 0;
  private duplicatesSkipped = 0;
  private tradesTaken = 0;
  private tradeDuplicatesSkipped = 0;
  private unknownSymbols = 0;
  private pumps: Promise<void>[] = [];
  private commitLoop: Promise<void> = Promise.resolve();

  constructor(private readonly init: WriterInit) {
    this.cfg = init.config;
    this.queues = init.rows.map((sab) => new QueueConsumer(sab));
    for (const r of init.symbols) this.register(r);
    this.inbox = new RegistrationInbox(init.registrations, (r) => this.register(r));
    this.pool = new pg.Pool({ connectionString: init.databaseUrl, max: 3, connectionTimeoutMillis: 3000 });
    // An idle client's error is emitted on the pool; unhandled it would kill the thread.
    this.pool.on('error', (e) => this.log.warn('PostgreSQL connection lost', { error: e.message }));
    this.builder = new BatchBuilder(this.cfg.depth, Boolean(this.cfg.redisUrl));
    this.redisPending = new PendingFrames(this.cfg.redisHistoryLength);
    this.tradesPending = new PendingFrames(this.cfg.redisTradesLength);
  }

  private register(r: SymbolRegistration): void {
    this.names[r.id] = r.name;
  }

  /** Opens the journal, migrates (if the database is up), starts taking rows. */
  async start(): Promise<{ timescale: boolean; journalPending: boolean; databaseUp: boolean }> {
    this.journal = await Journal.open(resolve(this.cfg.dataDir, 'journal'), {
      maxBytes: this.cfg.journalMaxBytes, fsync: true, log: this.log, rowsOf: journalRecordRows,
    });
    const journalPending = this.journal.records > 0;
    let databaseUp = true;
    try {
      await this.ensureSchema();
    } catch (e) {
      // A database that answers but cannot be used as configured (TIMESCALEDB=on without the
      // extension) is the operator's to fix: holding rows until it "returns" would never end.
      if (e instanceof StartupError) throw e;
      databaseUp = false;
      this.log.warn('PostgreSQL unreachable at start: rows are held in memory, then journaled, until it returns', {
        error: (e as Error).message,
      });
    }
    this.commits = new CommitQueue(this.pool, this.journal, this.cfg.writerMemoryRows, () => this.ensureSchema(), this.log);
    this.commits.dbUp = databaseUp;
    this.commitLoop = this.commits.run();
    if (journalPending && databaseUp) await this.commits.flushed(30_000); // replay before new rows
    const redis = nodeRedis(this.cfg, this.init.redisConnections, REDIS_OWNER.writer);
    if (redis) {
      this.redis = new RedisTier({
        connections: redis, ttlSeconds: this.cfg.redisTtlSeconds, historyLength: this.cfg.redisHistoryLength,
        tradesLength: this.cfg.redisTradesLength, channelPrefix: 'orderbook:', maxInFlight: 2, log: this.log,
      });
      // Redis is a cache: start without it and let the client reconnect in the background.
      await this.redis.connect().catch((e: Error) => this.log.warn('Redis unreachable at start; writes resume when it returns', { error: e.message }));
    }
    for (const q of this.queues) this.pumps.push(this.pump(q));
    this.timer = setInterval(() => this.closeIfOld(), Math.max(1, this.cfg.writerBatchMs >> 1));
    this.retention = new RetentionSweeper(this.pool, this.cfg.retention, () => this.schemaReady && !this.timescale, this.log);
    this.retention.start();
    return { timescale: this.timescale, journalPending: this.journal.records > 0, databaseUp };
  }

  private ensureSchema(): Promise<void> {
    this.migrated ??= migrate(this.pool, {
      timescale: this.cfg.timescale, compressAfter: this.cfg.compressAfter, retention: this.cfg.retention, marketTimeZone: this.cfg.marketTimeZone,
    }).then(
      (r) => {
        this.timescale = r.timescale;
        this.schemaReady = true;
        if (r.applied.length > 0) this.log.info(`schema migrated (${r.applied.join(', ')}); TimescaleDB: ${r.timescale ? 'yes' : 'no'}`);
      },
      (e: unknown) => {
        this.migrated = undefined; // try again on the next attempt
        throw e;
      },
    );
    return this.migrated;
  }

  private async pump(q: QueueConsumer): Promise<void> {
    while (this.running) {
      if (this.held && !this.offer(this.held)) {
        await new Promise((r) => setTimeout(r, HELD_RETRY_MS)); // full: back-pressure the shards
        continue;
      }
      let n = 0;
      for (let at = q.peek(); at >= 0; at = q.peek()) {
        this.take(q, at);
        q.release();
        if (this.builder.rows >= this.cfg.writerBatchRows) this.closeBatch();
        if (++n === BATCH_RECORDS || this.held) break;
      }
      if (n === BATCH_RECORDS) await new Promise<void>((r) => setImmediate(r));
      else if (!this.held) await q.waitForData(IDLE_WAIT_MS);
    }
  }

  private take(q: QueueConsumer, at: number): void {
    const trade = q.aux >= ROW_TRADE;
    const id = trade ? q.aux - ROW_TRADE : q.aux;
    let name = this.names[id];
    if (name === undefined) {
      this.inbox.drainSync();
      name = this.names[id];
      if (name === undefined) {
        this.unknownSymbols++;
        return;
      }
    }
    const b = at >> 3;
    if (trade) {
      this.takeTrade(id, name, q.f64, b);
      return;
    }
    const epoch = q.f64[b + R_EPOCH];
    const seq = q.f64[b + R_SEQ];
    if (epoch === this.takenEpoch[id] && seq <= this.takenSeq[id]) {
      this.duplicatesSkipped++; // sent again by a shard restarted before it committed the header
      return;
    }
    this.takenEpoch[id] = epoch;
    this.takenSeq[id] = seq;
    this.builder.add(name, q.f64, b, Date.now());
    this.rowsTaken++;
  }

  /** A trade record (layout.ts T_*) at f64[b…]. */
  private takeTrade(id: number, name: string, f64: Float64Array, b: number): void {
    const epoch = f64[b + T_EPOCH];
    const seq = f64[b + T_SEQ];
    if (epoch === this.takenTradeEpoch[id] && seq <= this.takenTradeSeq[id]) {
      this.tradeDuplicatesSkipped++; // sent again by a shard restarted before it committed the trade header
      return;
    }
    this.takenTradeEpoch[id] = epoch;
    this.takenTradeSeq[id] = seq;
    this.builder.addTrade(name, f64, b, Date.now());
    this.tradesTaken++;
  }

  private closeIfOld(): void {
    if (!this.held && this.builder.ageMs(Date.now()) >= this.cfg.writerBatchMs) this.closeBatch();
    else if (this.redisPending.size > 0 || this.tradesPending.size > 0) this.flushRedis();
  }

  private closeBatch(): void {
    if (this.builder.rows === 0 || this.held) return;
    const closed = this.builder.close();
    if (closed.redis.length > 0 || closed.trades.length > 0) this.queueRedis(closed.redis, closed.trades);
    if (!this.offer(closed)) this.held = closed;
  }

  private queueRedis(items: BatchItem[], trades: BatchItem[]): void {
    if (!this.redis) return;
    // While Redis is connected, every frame waits (up to REDIS_PENDING_BYTES) so the bus gets
    // every update even when pipelines back up; while it is away, or past the bound, only the
    // newest REDIS_HISTORY_LENGTH (REDIS_TRADES_LENGTH) per symbol are kept.
    const trim = this.redis.status !== 'ready' || this.redisPending.bytes + this.tradesPending.bytes > REDIS_PENDING_BYTES;
    this.redisPending.add(items, trim);
    this.tradesPending.add(trades, trim);
    this.flushRedis();
  }

  private flushRedis(): void {
    const items = this.redisPending.items();
    const trades = this.tradesPending.items();
    if ((items.length > 0 || trades.length > 0) && this.redis!.writeBatch(items, trades)) {
      this.redisPending.clear();
      this.tradesPending.clear();
    }
  }

  private offer(c: ClosedBatch): boolean {
    if (!this.commits.push(c.batch)) return false;
    this.held = undefined;
    return true;
  }

  // ── control API ──────────────────────────────────────────────────────────────

  stats(): WriterStats {
    const c = this.commits.counters;
    return {
      database: { status: this.commits.dbUp ? 'ok' : 'down', timescale: this.timescale, lastError: this.commits.dbUp ? undefined : this.commits.lastError },
      redis: this.redis ? { status: this.redis.status, ...this.redis.counters } : { status: 'off', batches: 0, commands: 0, skippedBatches: 0, errors: 0 },
      rowsTaken: this.rowsTaken,
      duplicatesSkipped: this.duplicatesSkipped,
      tradesTaken: this.tradesTaken,
      tradeDuplicatesSkipped: this.tradeDuplicatesSkipped,
      batchesFoundCommitted: c.alreadyCommitted,
      rowsCommitted: c.rowsCommitted,
      tradesCommitted: c.tradesCommitted,
      tradesAlreadyStored: c.tradesAlreadyStored,
      batchesCommitted: c.batchesCommitted,
      batchRetries: c.batchRetries,
      pendingRows: this.commits.pendingRows + this.builder.rows + (this.held ? batchRows(this.held.batch) : 0),
      journal: { bytes: this.journal.bytes, records: this.journal.records, active: this.commits.journalActive },
      copy: this.commits.copyLatency.summary(),
      commitLag: this.commits.commitLag.summary(),
      rowQueues: this.queues.map((q) => ({ depthBytes: q.depth(), capacityBytes: q.capacity })),
      retention: this.timescale
        ? { by: 'timescaledb', retention: this.cfg.retention }
        : { by: 'writer', retention: this.cfg.retention, deletedRows: this.retention?.deletedRows ?? 0, lastPassAt: this.retention?.lastPassAt ?? 0 },
    };
  }

  async drained(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.queues.some((q) => q.depth() > 0) || this.held) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closeBatch();
    return this.commits.flushed(Math.max(0, until - Date.now()));
  }

  async close(): Promise<{ journaledRows: number }> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    await this.retention?.stop();
    await Promise.all(this.pumps); // they stop taking rows within one wait
    // Everything not committed goes to the journal: a held batch, the rows still in the shards'
    // queues (the shards are drained or stopped by now), and the batch being built.
    const extra = this.held ? [this.held.batch] : [];
    this.held = undefined;
    for (const q of this.queues) {
      for (let at = q.peek(); at >= 0; at = q.peek()) {
        this.take(q, at);
        q.release();
      }
    }
    if (this.builder.rows > 0) extra.push(this.builder.close().batch);
    const saved = this.commits.stop(extra);
    if (saved > 0) this.log.warn(`${saved} uncommitted rows journaled; they are committed at the next start`);
    await this.commitLoop;
    this.journal.close();
    this.inbox.close();
    if (this.redis && (this.redisPending.size > 0 || this.tradesPending.size > 0) && this.redis.status === 'ready') {
      await this.redis.whenIdle(); // room for the last pipeline: :latest ends at the last update
      this.flushRedis();
      await this.redis.whenIdle();
    }
    await this.redis?.close();
    await this.pool.end();
    return { journaledRows: saved };
  }
}

