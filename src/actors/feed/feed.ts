// Feed actor: runs one exchange connector in its own thread and writes what it hands over into the shards' input queues.
//
// The actor is the connector's ConnectorSink. A book becomes one input record in the queue of
// its symbol's shard — no postMessage per update, no allocation: the record is written from the
// connector's reusable BookUpdate. Each queue has this actor as its only producer (SPSC) and
// the shard as its only consumer; a commit rings the shard's doorbell. A book a full queue
// refuses is kept (one per symbol, copied into a buffer of the symbol's own) and queued by the
// retry timer unless a newer one goes first: a quiet symbol's last book must reach the shard,
// even when no exchange message follows to carry the whole top-N again.
// `resyncing` becomes a KIND_RESYNCING record (the shard publishes the status); the first book
// after it carries the reset flag (KIND_SNAPSHOT_RESET). Neither may be lost to a full queue:
// a refused status is retried (and the symbol's books held back until it is queued), a refused
// reset book hands its flag to the symbol's next book.
// A trade becomes a KIND_TRADE record in the same queue as the symbol's books. A trade is an
// event no later message repeats, so a refused one waits in the actor's bounded backlog
// (trade-backlog.ts), and the symbol's later trades go behind it; the retry drains the backlog
// first. Trades do not wait for a held book or status: the trades channel is sequenced apart.

import type { Connector, ConnectorSink, Trade } from '../../feeds/connector.js';
import { tradeProblem, writeInputRecord, writeTradeRecord } from '../../feeds/encode-input.js';
import { KIND_SNAPSHOT, type BookUpdate, type TradeUpdate, createBookUpdate } from '../../feeds/types.js';
import { type Logger, logger } from '../../log.js';
import { IN_KIND, KIND_SNAPSHOT_RESET, inputRecordBytes } from '../../ring/layout.js';
import { Doorbell, QueueProducer } from '../../ring/spsc.js';
import { nowMs } from '../../stats/latency.js';
import { writeResyncingRecord } from './input-records.js';
import type { FeedActorStats, FeedApi, FeedInit } from './messages.js';
import { TradeBacklog } from './trade-backlog.js';

/** A status, book or trade refused by a full queue is tried again this often until it is queued. */
const RETRY_MS = 10;
/**
 * Refused trades kept per actor (a power of two): 3 MB of slots once allocated (and the ids
 * held); at 10,000 trades/s, a busy exchange's every symbol, more than six seconds of a stalled shard.
 */
export const TRADE_BACKLOG = 65_536;

class SinkSymbol {
  /** When the connector said it is resyncing (0: live). */
  resyncingSince = 0;
  /** A resyncing status not queued yet (the queue was full): nothing of this symbol goes before it. */
  pendingReason: string | undefined;
  /** A reset book was refused: the next book queued carries its flag. */
  pendingReset = false;
  /** The last book a full queue refused, waiting for the retry (allocated at the first refusal). */
  held: BookUpdate | undefined;
  holding = false;

  /** `index`: its place in the actor's symbol list (the trade backlog's owner number). */
  constructor(readonly index: number, readonly id: number, readonly name: string, readonly queue: QueueProducer) {}
}

export class FeedActor implements ConnectorSink, FeedApi {
  private readonly byName = new Map<string, SinkSymbol>();
  private readonly byIndex: SinkSymbol[] = [];
  private readonly backlog: TradeBacklog;
  private readonly log: Logger;
  private books = 0;
  private resets = 0;
  private queueFullDrops = 0;
  private resyncs = 0;
  private trades = 0;
  private tradesQueued = 0;
  private tradesDropped = 0;
  /** Trades dropped since the backlog was last seen with room: one warning per burst. */
  private dropBurst = 0;
  private malformedTrades = 0;
  private unknownSymbols = 0;
  private readonly malformedCounts = new Map<string, number>();
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly init: FeedInit, private readonly connector: Connector) {
    this.log = logger(`feed-${init.exchange}`);
    const queues = init.inputs.map((sab, shard) => (sab ? new QueueProducer(sab, new Doorbell(init.doorbells[shard])) : undefined));
    for (const s of init.symbols) {
      const q = queues[s.shard];
      if (!q) throw new Error(`feed-${init.exchange}: no input queue for shard ${s.shard} (symbol ${s.served})`);
      const sym = new SinkSymbol(this.byIndex.length, s.id, s.served, q);
      this.byIndex.push(sym);
      this.byName.set(s.served, sym);
    }
    this.backlog = new TradeBacklog(TRADE_BACKLOG, this.byIndex.length);
    this.writeHeldTrade = this.writeHeldTrade.bind(this);
  }

  start(): void {
    const owed = new Set(this.init.owedResyncing ?? []);
    for (const s of this.byName.values()) if (owed.has(s.id)) this.resyncing(s.name, 'feed_restarted');
    this.connector.start(this);
  }

  // ── ConnectorSink: the connector's thread, per exchange message ──────────────

  book(update: BookUpdate, reset: boolean, _sourceSeq: number): boolean {
    const s = this.byName.get(update.symbol);
    if (s === undefined) {
      this.unknownSymbols++;
      return true; // nowhere to go: taken, so the connector does not retry it
    }
    if (this.offer(s, update, reset)) {
      s.holding = false; // a newer book went first
      return true;
    }
    this.hold(s, update);
    this.scheduleRetry();
    return true; // taken: it is queued by the retry, or replaced by a newer one
  }

  /** Queues the book (after a pending status); false when the queue is full. */
  private offer(s: SinkSymbol, update: BookUpdate, reset: boolean): boolean {
    if (s.pendingReason !== undefined && !this.queueResyncing(s, s.pendingReason)) {
      if (reset) s.pendingReset = true;
      this.queueFullDrops++;
      return false;
    }
    const q = s.queue;
    const bytes = inputRecordBytes(update.bidCount, update.askCount);
    const at = q.reserve(bytes);
    if (at < 0) {
      if (reset) s.pendingReset = true;
      this.queueFullDrops++;
      return false;
    }
    writeInputRecord(update, s.id, nowMs(), q.f64, q.u32, at >> 3);
    if ((reset || s.pendingReset) && update.kind === KIND_SNAPSHOT) {
      q.u32[(at >> 2) + IN_KIND] = KIND_SNAPSHOT_RESET;
      s.pendingReset = false;
      this.resets++;
    }
    q.commit(bytes, s.id);
    s.resyncingSince = 0;
    this.books++;
    return true;
  }

  private hold(s: SinkSymbol, u: BookUpdate): void {
    const h = (s.held ??= createBookUpdate(u.bidPx.length));
    h.symbol = u.symbol;
    h.kind = u.kind;
    h.exchangeTs = u.exchangeTs;
    h.bidCount = u.bidCount;
    h.askCount = u.askCount;
    h.bidPx.set(u.bidPx.subarray(0, u.bidCount));
    h.bidSz.set(u.bidSz.subarray(0, u.bidCount));
    h.askPx.set(u.askPx.subarray(0, u.askCount));
    h.askSz.set(u.askSz.subarray(0, u.askCount));
    s.holding = true;
  }

  /** Queues the trade, or keeps it in the backlog; false only when it is dropped (backlog full). */
  trade(t: Trade): boolean {
    this.trades++;
    const s = this.byName.get(t.symbol);
    if (s === undefined) {
      this.unknownSymbols++;
      return true;
    }
    const problem = tradeProblem(t);
    if (problem !== undefined) {
      this.malformedTrades++;
      this.malformed('trade', `${s.name}: ${problem}`);
      return true; // consumed: counted
    }
    const feedTs = nowMs();
    // Behind its own waiting trades, never around them: per-symbol order is the trade sequence.
    if (this.backlog.waiting(s.index) === 0 && writeTradeRecord(s.queue, t, s.id, feedTs)) {
      this.tradesQueued++;
      return true;
    }
    if (this.backlog.push(s.index, t, feedTs)) {
      this.scheduleRetry();
      return true;
    }
    this.tradesDropped++;
    if (this.dropBurst++ === 0) {
      this.log.warn(`trade backlog full (${TRADE_BACKLOG} trades): trades are dropped until the shards catch up (counted in tradesDropped)`, { symbol: s.name });
    }
    return false;
  }

  /** The backlog's writer: one held trade into its symbol's queue. */
  private writeHeldTrade(owner: number, t: TradeUpdate, feedTs: number): boolean {
    const s = this.byIndex[owner];
    return writeTradeRecord(s.queue, t, s.id, feedTs);
  }

  /** Queues held trades in order; true while some are left. */
  private drainTrades(): boolean {
    if (this.backlog.length === 0) return false;
    this.tradesQueued += this.backlog.drain(this.writeHeldTrade);
    if (this.dropBurst > 0 && this.backlog.length < TRADE_BACKLOG) {
      this.log.warn(`trade backlog has room again after ${this.dropBurst} trades were dropped`);
      this.dropBurst = 0;
    }
    return this.backlog.length > 0;
  }

  resyncing(symbol: string, reason: string): void {
    const s = this.byName.get(symbol);
    if (s === undefined) {
      this.unknownSymbols++;
      return;
    }
    if (s.resyncingSince === 0) s.resyncingSince = Date.now();
    s.holding = false; // a book from before the resync must never end it
    if (!this.queueResyncing(s, reason)) this.scheduleRetry();
  }

  malformed(kind: string, detail: string): void {
    const n = (this.malformedCounts.get(kind) ?? 0) + 1;
    this.malformedCounts.set(kind, n);
    if (n === 1) this.log.warn(`malformed ${kind} message (logged once per kind, counted in /stats)`, { detail: detail.slice(0, 300) });
  }

  /** Queues the status; on a full queue keeps it pending (the latest reason wins) and says false. */
  private queueResyncing(s: SinkSymbol, reason: string): boolean {
    if (!writeResyncingRecord(s.queue, s.id, reason, nowMs())) {
      s.pendingReason = reason;
      return false;
    }
    s.pendingReason = undefined;
    this.resyncs++;
    return true;
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      // Trades first: a held book is only the latest state, a trade is an event.
      let left = this.drainTrades();
      for (const s of this.byName.values()) {
        if (s.pendingReason !== undefined && !this.queueResyncing(s, s.pendingReason)) left = true;
        else if (s.holding) {
          if (this.offer(s, s.held!, false)) s.holding = false;
          else left = true;
        }
      }
      if (left) this.scheduleRetry();
    }, RETRY_MS);
  }

  // ── control API ──────────────────────────────────────────────────────────────

  stats(): FeedActorStats {
    const now = Date.now();
    const resyncingForMs: Record<string, number> = {};
    for (const s of this.byName.values()) if (s.resyncingSince > 0) resyncingForMs[s.name] = now - s.resyncingSince;
    return {
      exchange: this.init.exchange,
      connector: this.connector.stats(),
      books: this.books,
      resets: this.resets,
      queueFullDrops: this.queueFullDrops,
      resyncing: this.resyncs,
      trades: this.trades,
      tradesQueued: this.tradesQueued,
      tradesPending: this.backlog.length,
      tradesDropped: this.tradesDropped,
      malformedTrades: this.malformedTrades,
      unknownSymbols: this.unknownSymbols,
      malformed: Object.fromEntries(this.malformedCounts),
      resyncingForMs,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.backlog.length > 0) this.log.warn(`closing with ${this.backlog.length} trades a full queue refused: not queued`);
    await this.connector.stop();
  }
}
