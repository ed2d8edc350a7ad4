// Shard actor: owns its symbols' books and sequences; turns input records into metrics,
// shared-memory history and one encoded frame per update.
//
// Per input record, in this order (the order is what makes a crash recoverable):
//   1. validate, apply to a scratch book, reject crossed/locked books
//   2. write the raw record for seq+1 (seqlocked slot)     ← resume and snapshots read it
//   3. fold it into the current history point (seqlocked)
//   4. queue the encoded frame for the front                ← published to clients
//   4b. queue the raw record for the writer                 ← persisted (never dropped)
//   5. commit the header: epoch, lastSeq, and the input position that produced it
//   6. release the input record
// A shard killed anywhere in 1–5 leaves the header at the previous seq; its successor
// re-applies the same record with the same seq (the front drops the duplicate frame).
// Killed between 5 and 6, the successor sees the record's position in the header and skips it.
// The writer's queue is reserved before anything else: when it is full the record waits in the
// input queue (back-pressure towards the feed) instead of being accepted without persistence.
//
// Inputs: one queue per producer thread (the supervisor's feeds, each feed actor), read
// round-robin with a bounded turn each; the shard sleeps on one doorbell they all ring. Each
// symbol is fed through exactly one input, which keeps the replay check (the input position in
// the header) meaningful: positions of different queues are unrelated numbers.
// A resyncing record takes no seq: it marks the symbol (deltas wait for a snapshot) and queues
// a status frame (FR_SEQ 0) for the front. A trade record takes the next seq of the symbol's
// trades channel (its own sequence and epoch, in the symbol's trade store), in the same order
// of steps: ring slot, frame, writer row, header; the replay check covers both headers. A snapshot with the reset flag is applied as any
// snapshot and its raw record keeps the flag (R_FLAGS), so every encoding of that seq says so.

import { Book } from '../../book/book.js';
import { REJECT_NO_SNAPSHOT, REJECT_REASONS, checkCrossing, checkLevels } from '../../book/validate.js';
import type { Config } from '../../config.js';
import { KIND_DELTA, KIND_SNAPSHOT } from '../../feeds/types.js';
import {
  FR_EPOCH, FR_FEED_TS, FR_JSON_LENGTH, FR_JSON_OFFSET, FR_KIND, FR_SEQ, FRAME_STATUS, FRAME_UPDATE, H_ACCEPTED,
  H_EPOCH, H_LAST_BUCKET, H_RESYNCING_SINCE, H_LAST_INPUT_POS, H_LAST_SEQ, H_REJECTED, IN_ASK_COUNT, IN_BID_COUNT,
  IN_EXCHANGE_TS, IN_FEED_TS, IN_KIND, IN_LEVELS, IN_SYMBOL, KIND_RESYNCING, KIND_SNAPSHOT_RESET, KIND_TRADE,
  MAX_REASON_BYTES, METRIC_COUNT, P_BUCKET, P_COUNT, P_EPOCH, P_METRICS, P_SEQ, R_FLAGS, R_METRICS, RAW_RESET,
  SEQ_NONE, rawRecordBytes,
} from '../../ring/layout.js';
import { Doorbell, QueueConsumer, QueueProducer } from '../../ring/spsc.js';
import { SymbolStore } from '../../ring/symbol-store.js';
import { TradeStore } from '../../ring/trade-store.js';
import { AnalyticsStore } from '../../ring/analytics-store.js';
import { type AnalyticsCounters, SymbolAnalytics } from './symbol-analytics.js';
import { OwnedSymbol } from './owned-symbol.js';
import { TradeSequencer } from './trade-sequencer.js';
import { AlertEvaluator } from './alert-evaluator.js';
import { STATUS_RESYNCING, TYPE_UPDATE, encodeRecord, encodeStatus } from '../../protocol/encode.js';
import { LatencyRecorder, nowMs } from '../../stats/latency.js';
import { logger } from '../../log.js';
import { RegistrationInbox, type SymbolRegistration } from '../registry.js';
import type { ShardApi, ShardInit, ShardStats } from './messages.js';

/** Records handled before yielding to the event loop, so control RPCs are never starved. */
const BATCH = 512;
/**
 * Wake a sleeping front once per this many frames, and at the end of every input batch: one
 * futex wake per frame was ~19% of the shard's time when the front keeps up (it sleeps after
 * each frame), and a frame waits at most this many updates' work (~0.3 ms) for its wake-up.
 */
const WAKE_EVERY = 32;
/** Longest sleep while idle; a commit by any feed rings the doorbell and wakes the shard at once. */
const IDLE_WAIT_MS = 250;
/** Wait before retrying a record when the writer's queue is full. */
const ROW_STALL_MS = 2;

export class ShardActor implements ShardApi {
  private readonly cfg: Config;
  private readonly inputs: QueueConsumer[];
  private readonly doorbell: Doorbell;
  /** Records taken from one input per turn, so a busy feed cannot starve another. */
  private readonly turnQuota: number;
  private turn = 0;
  /** Symbol id → the input it is fed through (symbols no input claims: the unclaimed one). */
  private readonly inputOf = new Map<number, number>();
  private readonly defaultInput: number;
  private readonly frames: QueueProducer;
  private readonly rows?: QueueProducer;
  private readonly rowBytes: number;
  private rowQueueStalls = 0;
  /** Frames committed since the front was last offered a wake-up. */
  private unwoken = 0;
  private readonly owned: (OwnedSymbol | undefined)[] = [];
  private readonly inbox: RegistrationInbox;
  /** Scratch book an update is applied to first, so a rejected update leaves no trace. */
  private scratch: Book;
  private running = true;
  private readonly processing = new LatencyRecorder();
  private accepted = 0;
  private readonly rejected: number[] = REJECT_REASONS.map(() => 0);
  private skippedReplays = 0;
  private frameQueueFull = 0;
  private newEpochs = 0;
  private unknownSymbols = 0;
  private wrongInput = 0;
  private resyncs = 0;
  private resets = 0;
  private statusQueueFull = 0;
  /** Symbols whose resyncing status waits for room in the frame queue (at most one each). */
  private readonly owedStatuses = new Set<OwnedSymbol>();
  private readonly trades: TradeSequencer;
  private readonly alerts: AlertEvaluator;
  private readonly analytics: AnalyticsCounters = { published: 0, frameQueueFull: 0, lateTrades: 0, droppedTrades: 0, refolded: 0, seededSkipped: 0 };
  /** When the candles and tickers were last checked for closes and due publishes. */
  private analyticsAt = 0;
  private readonly analyticsEveryMs: number;

  constructor(private readonly init: ShardInit) {
    this.cfg = init.config;
    this.inputs = init.inputs.map((i) => new QueueConsumer(i.queue));
    this.doorbell = new Doorbell(init.doorbell);
    this.turnQuota = Math.max(16, Math.floor(BATCH / this.inputs.length));
    init.inputs.forEach((input, k) => input.symbols?.forEach((id) => this.inputOf.set(id, k)));
    const unclaimed = init.inputs.findIndex((i) => i.symbols === undefined);
    this.defaultInput = unclaimed < 0 ? 0 : unclaimed;
    this.frames = new QueueProducer(init.frames);
    this.rows = init.rows ? new QueueProducer(init.rows) : undefined;
    this.rowBytes = rawRecordBytes(this.cfg.depth);
    this.scratch = new Book(this.cfg.depth);
    this.analyticsEveryMs = Math.max(5, Math.min(50, this.cfg.candlePublishMs >> 1));
    this.alerts = new AlertEvaluator(init.alertCommands, init.alertFirings, init.index);
    this.trades = new TradeSequencer(this.frames, this.rows, () => (++this.unwoken & (WAKE_EVERY - 1)) === 0, this.cfg.analytics ? this.alerts : undefined);
    for (const r of init.symbols) this.adopt(r);
    this.inbox = new RegistrationInbox(init.registrations, (r) => this.adopt(r));
  }

  /** Takes ownership of a symbol, continuing its sequence from the shared store when it can. */
  private adopt(r: SymbolRegistration): void {
    if (r.shard !== this.init.index || this.owned[r.id]) return;
    const store = new SymbolStore(r.store, {
      depth: this.cfg.depth, rawCapacity: this.cfg.rawCapacity, historyCapacity: this.cfg.historyCapacity,
    });
    const s = new OwnedSymbol(r.id, r.name, store, new TradeStore(r.trades), this.cfg.depth, this.inputOf.get(r.id) ?? this.defaultInput);
    this.owned[r.id] = s;
    this.trades.adopt(s);
    if (this.cfg.analytics) {
      s.analytics = new SymbolAnalytics(
        s.id, new AnalyticsStore(r.analytics), s.symbolJson,
        { timeZone: this.cfg.marketTimeZone, publishMs: this.cfg.candlePublishMs, graceMs: this.cfg.candleCloseGraceMs }, this.analytics,
      );
      // Trades the previous owner committed but had not published in candles yet.
      if (s.tradeEpoch > 0) s.analytics.refold(s.trades, this.frames, s.tradeEpoch, s.lastTradeSeq);
    }
    if (store.headerTorn()) {
      // The previous owner died inside a header write: the sequence cannot be proven
      // continuous, so the next accepted update starts a new epoch (clients get a resync).
      store.resetHeaderLock();
      s.epoch = 0;
      s.needsSnapshot = true; // applying deltas to an empty book would publish a wrong book as full state
      return;
    }
    if (!store.readHeader()) return;
    const h = store.header;
    if (h[H_RESYNCING_SINCE] > 0) {
      // The predecessor was told the book is being rebuilt: the book that ends it still owes `reset`.
      s.resyncing = true;
      s.resetOwed = true;
      s.needsSnapshot = true;
    }
    s.epoch = h[H_EPOCH];
    s.lastSeq = h[H_LAST_SEQ];
    s.lastBucket = h[H_LAST_BUCKET];
    s.lastInputPos = h[H_LAST_INPUT_POS];
    if (s.lastSeq > 0) {
      const rec = new Float64Array(store.rawFields);
      if (store.readRaw(s.lastSeq, s.epoch, rec, 0)) s.book.loadFromRecord(rec, 0);
      else {
        s.epoch = 0; // the book cannot be rebuilt: start a new sequence, from a snapshot
        s.needsSnapshot = true;
      }
    }
  }

  async run(): Promise<void> {
    const inputs = this.inputs;
    const k = inputs.length;
    while (this.running) {
      let full = false;
      let stalled = false;
      for (let j = 0; j < k && !stalled; j++) {
        const qi = (this.turn + j) % k;
        const q = inputs[qi];
        let n = 0;
        for (let at = q.peek(); at >= 0; at = q.peek()) {
          if (!this.handle(q, at, qi)) {
            stalled = true; // the writer's queue is full: retry this record shortly
            break;
          }
          q.release();
          if (++n === this.turnQuota) {
            full = true;
            break;
          }
        }
      }
      this.turn = this.turn + 1 === k ? 0 : this.turn + 1;
      if (this.owedStatuses.size > 0) this.retryStatuses();
      this.analyticsDue();
      if (this.cfg.analytics) {
        this.alerts.drain((id) => this.owned[id]);
        this.alerts.retry();
      }
      this.frames.wake();
      this.rows?.wake();
      if (stalled) {
        this.rowQueueStalls++;
        await new Promise((r) => setTimeout(r, ROW_STALL_MS));
      } else if (full) await new Promise<void>((r) => setImmediate(r));
      else await this.doorbell.wait(inputs, Math.min(IDLE_WAIT_MS, this.cfg.candlePublishMs)); // returns at once if a record came meanwhile
    }
  }

  /** Closes candles whose bucket ended and publishes the candles and tickers due; at most every analyticsEveryMs. */
  private analyticsDue(): void {
    const now = Date.now();
    if (!this.cfg.analytics || now - this.analyticsAt < this.analyticsEveryMs) return;
    this.analyticsAt = now;
    for (const s of this.owned) s?.analytics?.due(now, this.frames);
  }

  stop(): void {
    this.running = false;
    this.inbox.close();
  }

  /** Processes one input record of input `qi`; false when it must wait (writer queue full) and stay queued. */
  private handle(q: QueueConsumer, at: number, qi: number): boolean {
    const position = q.position;
    const w = at >> 2; // u32 index of the payload
    const b = at >> 3; // f64 index of the payload
    const id = q.u32[w + IN_SYMBOL];
    let s = this.owned[id];
    if (s === undefined) {
      this.inbox.drainSync();
      s = this.owned[id];
      if (s === undefined) {
        this.unknownSymbols++; // not ours or never registered: a routing bug, counted not fatal
        return true;
      }
    }
    if (qi !== s.input) {
      // Another producer wrote this symbol: its positions would be compared with another
      // queue's (the replay check below), so the record is refused and the bug made loud.
      if (this.wrongInput++ === 0) {
        logger(`shard-${this.init.index}`).error(`symbol ${s.name} arrived through input ${this.init.inputs[qi].name}, not ${this.init.inputs[s.input].name}: refused`);
      }
      return true;
    }
    if (position === s.lastInputPos || position === s.lastTradeInputPos) {
      this.skippedReplays++; // applied by our predecessor just before it died
      return true;
    }
    let kind = q.u32[w + IN_KIND];
    if (kind === KIND_RESYNCING) {
      this.resyncing(s, q, at);
      return true;
    }
    if (kind === KIND_TRADE) return this.trades.apply(s, q, at, position);
    const rq = this.rows;
    const ra = rq ? rq.reserve(this.rowBytes) : 0;
    if (ra < 0) return false;
    let flags = 0;
    const wasResyncing = s.resyncing;
    if (kind === KIND_SNAPSHOT_RESET) {
      kind = KIND_SNAPSHOT;
      s.resetOwed = true;
    }
    const bids = q.u32[w + IN_BID_COUNT];
    const asks = q.u32[w + IN_ASK_COUNT];
    const levels = b + IN_LEVELS;
    const store = s.store;

    let reject = checkLevels(q.f64, levels, bids, asks, kind);
    if (reject === 0 && kind === KIND_DELTA && s.needsSnapshot) reject = REJECT_NO_SNAPSHOT;
    if (reject === 0) {
      const next = this.scratch;
      next.copyFrom(s.book);
      if (kind === KIND_DELTA) next.applyDelta(q.f64, levels, bids, asks);
      else next.applySnapshot(q.f64, levels, bids, asks);
      reject = checkCrossing(next);
      if (reject === 0) {
        this.scratch = s.book; // swap: the old book becomes the next scratch
        s.book = next;
        s.needsSnapshot = false;
        s.resyncing = false;
        if (s.resetOwed) flags = RAW_RESET;
        s.resetOwed = false;
      }
    }
    if (reject !== 0) {
      this.rejected[reject]++;
      store.bump(H_REJECTED);
      return true;
    }

    if (s.epoch === 0) this.startEpoch(s);
    const seq = s.lastSeq + 1;
    const feedTs = q.f64[b + IN_FEED_TS];
    const exchangeTs = q.f64[b + IN_EXCHANGE_TS];
    const f = store.f64;

    // 2. raw record. Its flags are written inside the same seqlock window (beginWrite is
    // idempotent, writeRaw closes it); a slot whose flags already match needs no extra window.
    const at0 = store.rawSlot(seq);
    if (f[at0 + R_FLAGS] !== flags) {
      store.beginWrite(at0 * 2);
      f[at0 + R_FLAGS] = flags;
    }
    const slot = store.writeRaw(seq, s.epoch, feedTs, exchangeTs, s.book);
    if (flags !== 0) this.resets++;

    // 3. history point: the metrics at the end of the bucket are the latest folded in
    const eventTs = exchangeTs > 0 ? exchangeTs : feedTs;
    let bucket = Math.floor(eventTs / this.cfg.historyResolutionMs);
    if (bucket < s.lastBucket) bucket = s.lastBucket; // late timestamps fold into the open bucket
    const p = store.historySlot(bucket);
    store.beginWrite(p * 2);
    if (f[p + P_BUCKET] !== bucket || f[p + P_EPOCH] !== s.epoch) {
      f[p + P_BUCKET] = bucket;
      f[p + P_EPOCH] = s.epoch;
      f[p + P_COUNT] = 0;
    }
    if (f[p + P_SEQ] !== seq) f[p + P_COUNT] += 1; // a successor re-applying this seq counts it once
    f[p + P_SEQ] = seq;
    for (let m = 0; m < METRIC_COUNT; m++) f[p + P_METRICS + m] = f[slot + R_METRICS + m];
    store.endWrite(p * 2);

    // 4. frame for the front, encoded once; if its queue is full the frame is skipped and
    // the front, seeing the seq jump, resyncs that symbol's subscribers from the raw ring.
    const fq = this.frames;
    const fa = fq.reserve(s.maxFrameBytes);
    if (fa >= 0) {
      const fb = fa >> 3;
      fq.f64[fb + FR_SEQ] = seq;
      fq.f64[fb + FR_EPOCH] = s.epoch;
      fq.f64[fb + FR_FEED_TS] = feedTs;
      const end = encodeRecord(fq.bytes, fa + FR_JSON_OFFSET, TYPE_UPDATE, s.symbolJson, f, slot, this.cfg.depth);
      const jsonLength = end - (fa + FR_JSON_OFFSET);
      fq.u32[(fa >> 2) + FR_KIND] = FRAME_UPDATE;
      fq.u32[(fa >> 2) + FR_JSON_LENGTH] = jsonLength;
      fq.commit(FR_JSON_OFFSET + jsonLength, s.id, (++this.unwoken & (WAKE_EVERY - 1)) === 0);
    } else {
      this.frameQueueFull++;
    }

    // 4b. the row for the writer: the raw record as written (reserved above, so it fits)
    if (rq) {
      const rb = ra >> 3;
      const n = store.rawFields;
      for (let i = 0; i < n; i++) rq.f64[rb + i] = f[slot + i];
      rq.commit(this.rowBytes, s.id, false); // the writer batches by time anyway: woken at the end of the batch
    }

    // 5. header: from here on, seq is the symbol's committed sequence
    store.commitHeader(s.epoch, seq, feedTs, position, bucket);
    // After the commit: a successor that finds the mark still set owes a reset needlessly, never wrongly.
    if (wasResyncing) store.setResyncing(0);
    store.bump(H_ACCEPTED);
    s.lastSeq = seq;
    s.lastBucket = bucket;
    s.lastInputPos = position;
    this.accepted++;
    this.processing.recordMs(nowMs() - feedTs);
    return true;
  }

  /**
   * The feed says the symbol's book is not the exchange's any more: no seq is taken; deltas wait
   * for a snapshot, and the front gets a status frame (FR_SEQ = SEQ_NONE) to publish and to
   * tell later subscribers. Fan-out never stalls ingest: a full frame queue leaves the status
   * owed (the latest one per symbol), queued again after each input turn while the symbol
   * still resyncs (once a book ends the resync, its `live` and `reset` say it all).
   */
  private resyncing(s: OwnedSymbol, q: QueueConsumer, at: number): void {
    const w = at >> 2;
    const b = at >> 3;
    this.resyncs++;
    s.resyncing = true;
    s.resetOwed = true;
    s.needsSnapshot = true;
    const reasonLength = Math.min(q.u32[w + IN_BID_COUNT], MAX_REASON_BYTES, Math.max(0, q.length - IN_LEVELS * 8));
    const since = q.f64[b + IN_FEED_TS];
    s.store.setResyncing(since, q.bytes, at + IN_LEVELS * 8, reasonLength); // a restarted front reads it
    if (this.queueStatus(s, since, q.bytes, at + IN_LEVELS * 8, reasonLength)) {
      s.statusOwedSince = 0;
      this.owedStatuses.delete(s);
      return;
    }
    this.statusQueueFull++;
    s.statusOwedSince = since;
    s.statusReason.set(q.bytes.subarray(at + IN_LEVELS * 8, at + IN_LEVELS * 8 + reasonLength));
    s.statusReasonLength = reasonLength;
    this.owedStatuses.add(s);
  }

  private retryStatuses(): void {
    for (const s of this.owedStatuses) {
      if (!s.resyncing || this.queueStatus(s, s.statusOwedSince, s.statusReason, 0, s.statusReasonLength)) {
        s.statusOwedSince = 0;
        this.owedStatuses.delete(s);
      }
    }
  }

  /** Queues the symbol's `resyncing` status frame; false when the frame queue is full. */
  private queueStatus(s: OwnedSymbol, since: number, reason: Uint8Array, reasonAt: number, reasonLength: number): boolean {
    const fq = this.frames;
    const fa = fq.reserve(s.maxStatusBytes);
    if (fa < 0) return false;
    const fb = fa >> 3;
    fq.f64[fb + FR_SEQ] = SEQ_NONE;
    fq.f64[fb + FR_EPOCH] = s.epoch;
    fq.f64[fb + FR_FEED_TS] = since;
    const end = encodeStatus(fq.bytes, fa + FR_JSON_OFFSET, s.symbolJson, STATUS_RESYNCING, fq.f64, fb + FR_FEED_TS, reason, reasonAt, reasonLength);
    const jsonLength = end - (fa + FR_JSON_OFFSET);
    fq.u32[(fa >> 2) + FR_KIND] = FRAME_STATUS;
    fq.u32[(fa >> 2) + FR_JSON_LENGTH] = jsonLength;
    fq.commit(FR_JSON_OFFSET + jsonLength, s.id); // rare: wake the front now
    return true;
  }

  private startEpoch(s: OwnedSymbol): void {
    const previous = s.store.f64[H_EPOCH];
    s.epoch = Math.max(Date.now(), previous + 1);
    s.lastSeq = 0;
    s.lastBucket = Math.max(-1, s.store.f64[H_LAST_BUCKET]);
    this.newEpochs++;
  }

  // ── control API ──────────────────────────────────────────────────────────────

  stats(): ShardStats {
    const rejected: Record<string, number> = {};
    REJECT_REASONS.forEach((name, i) => {
      if (i > 0) rejected[name] = this.rejected[i];
    });
    if (this.unknownSymbols > 0) rejected.unknown_symbol = this.unknownSymbols;
    if (this.wrongInput > 0) rejected.wrong_input = this.wrongInput;
    const inputQueues = this.inputs.map((q, k) => ({ name: this.init.inputs[k].name, depthBytes: q.depth(), capacityBytes: q.capacity }));
    return {
      index: this.init.index,
      symbols: this.owned.filter(Boolean).length,
      accepted: this.accepted,
      rejected,
      skippedReplays: this.skippedReplays,
      frameQueueFull: this.frameQueueFull,
      rowQueueStalls: this.rowQueueStalls,
      newEpochs: this.newEpochs,
      resyncs: this.resyncs,
      resets: this.resets,
      resyncingSymbols: this.owned.reduce((n, s) => n + (s?.resyncing ? 1 : 0), 0),
      statusQueueFull: this.statusQueueFull,
      statusesOwed: this.owedStatuses.size,
      trades: this.trades.stats(),
      analytics: { ...this.analytics },
      alerts: this.alerts.stats(this.owned),
      inputQueue: {
        depthBytes: inputQueues.reduce((n, q) => n + q.depthBytes, 0),
        capacityBytes: inputQueues.reduce((n, q) => n + q.capacityBytes, 0),
      },
      inputQueues,
      frameQueue: { depthBytes: this.frames.depth(), capacityBytes: this.frames.capacity },
      processing: this.processing.summary(),
    };
  }

  async drained(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.inputs.some((q) => q.depth() > 0)) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }
}
