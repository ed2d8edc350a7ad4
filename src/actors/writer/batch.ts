// One COPY batch being built by the writer: COPY text rows, per-symbol progress, Redis frames.

import type { BatchProgress } from '../../store/copy-batch.js';
import type { BatchItem } from '../../store/redis-tier.js';
import { CopyRowEncoder } from '../../store/row-encoder.js';
import { TYPE_UPDATE, encodeRecord, maxRecordFrameBytes, symbolJsonBytes } from '../../protocol/encode.js';
import { R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_SEQ } from '../../ring/layout.js';

/** A closed batch: immutable from here until committed (or journaled). */
export interface Batch {
  payload: Buffer; // COPY text rows
  rows: number;
  progress: BatchProgress[]; // per (symbol, epoch): the last seq in this batch
  newestFeedTs: number;
}

export interface ClosedBatch {
  batch: Batch;
  redis: BatchItem[]; // every frame of the batch, in order
}

export class BatchBuilder {
  private enc = new CopyRowEncoder(1 << 20);
  private progress = new Map<string, BatchProgress>();
  private openedAt = 0;
  private newestFeedTs = 0;
  // Redis frames of this batch: encoded back to back; parallel arrays, no object per row.
  private frames = new Uint8Array(1 << 20);
  private framesEnd = 0;
  private frameSymbols: string[] = [];
  private frameStarts: number[] = [];
  private readonly symbolJson = new Map<string, Uint8Array>();
  private readonly maxFrame: number;

  constructor(private readonly depth: number, private readonly withRedis: boolean) {
    this.maxFrame = maxRecordFrameBytes(depth, 32 * 6);
  }

  get rows(): number {
    return this.enc.rows;
  }

  ageMs(now: number): number {
    return this.enc.rows === 0 ? 0 : now - this.openedAt;
  }

  /** Appends the raw record at f64[base…] of `symbol`. */
  add(symbol: string, f64: Float64Array, base: number, now: number): void {
    if (this.enc.rows === 0) this.openedAt = now;
    this.enc.append(symbol, f64, base, this.depth);
    const epoch = f64[base + R_EPOCH];
    const key = symbol; // one epoch per symbol per batch in practice; a change is handled below
    let p = this.progress.get(key);
    if (p === undefined || p.epoch !== epoch) {
      if (p !== undefined) this.progress.set(`${key}\u0000${p.epoch}`, p); // keep the old epoch's entry
      p = { symbol, epoch, lastSeq: 0, lastTimeMs: 0 };
      this.progress.set(key, p);
    }
    p.lastSeq = f64[base + R_SEQ];
    const ex = f64[base + R_EXCHANGE_TS];
    p.lastTimeMs = Math.trunc(ex > 0 ? ex : f64[base + R_FEED_TS]);
    const feedTs = f64[base + R_FEED_TS];
    if (feedTs > this.newestFeedTs) this.newestFeedTs = feedTs;
    if (this.withRedis) this.addFrame(symbol, f64, base);
  }

  private addFrame(symbol: string, f64: Float64Array, base: number): void {
    if (this.framesEnd + this.maxFrame > this.frames.length) {
      const bigger = new Uint8Array(this.frames.length * 2);
      bigger.set(this.frames.subarray(0, this.framesEnd));
      this.frames = bigger;
    }
    let json = this.symbolJson.get(symbol);
    if (json === undefined) this.symbolJson.set(symbol, (json = symbolJsonBytes(symbol)));
    this.frameSymbols.push(symbol);
    this.frameStarts.push(this.framesEnd);
    this.framesEnd = encodeRecord(this.frames, this.framesEnd, TYPE_UPDATE, json, f64, base, this.depth);
  }

  /** Closes the batch: the builder starts empty again. */
  close(): ClosedBatch {
    const batch: Batch = {
      payload: Buffer.from(this.enc.bytes()), // a copy: the encoder's buffer is reused
      rows: this.enc.rows,
      progress: [...this.progress.values()],
      newestFeedTs: this.newestFeedTs,
    };
    const redis = this.withRedis ? this.redisItems() : [];
    this.enc.reset();
    this.progress = new Map();
    this.newestFeedTs = 0;
    this.framesEnd = 0;
    this.frameSymbols = [];
    this.frameStarts = [];
    return { batch, redis };
  }

  /**
   * Every frame of the batch, in order: each is PUBLISHed on its symbol's channel (the bus other
   * nodes read), and the Redis tier keeps the newest REDIS_HISTORY_LENGTH of them per symbol.
   */
  private redisItems(): BatchItem[] {
    // One copy per batch (the frame buffer is reused while Redis may still be sending); each
    // item is a view into it.
    const frames = Buffer.from(this.frames.subarray(0, this.framesEnd));
    const n = this.frameSymbols.length;
    const items = new Array<BatchItem>(n);
    for (let i = 0; i < n; i++) {
      const end = i + 1 < n ? this.frameStarts[i + 1] : this.framesEnd;
      items[i] = { symbol: this.frameSymbols[i], latest: frames.subarray(this.frameStarts[i], end) };
    }
    return items;
  }
}
