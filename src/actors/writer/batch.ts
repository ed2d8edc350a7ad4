// One COPY batch being built by the writer: COPY text rows (books and trades), per-symbol progress, Redis frames.

import type { BatchProgress, TradeMark } from '../../store/copy-batch.js';
import type { BatchItem } from '../../store/redis-tier.js';
import { CopyRowEncoder } from '../../store/row-encoder.js';
import { TradeRowEncoder } from '../../store/trade-row-encoder.js';
import { TYPE_UPDATE, encodeRecord, maxRecordFrameBytes, symbolJsonBytes } from '../../protocol/encode.js';
import { encodeTrade, maxTradeFrameBytes } from '../../protocol/trade-frames.js';
import { R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_SEQ, T_EPOCH, T_EXCHANGE_TS, T_FEED_TS, T_SEQ } from '../../ring/layout.js';

/** A closed batch: immutable from here until committed (or journaled). */
export interface Batch {
  payload: Buffer; // COPY text rows of order_book_data
  rows: number; // book rows in `payload`
  progress: BatchProgress[]; // per (symbol, epoch): the last seq in this batch
  newestFeedTs: number;
  /** The batch's trades; absent when it has none (and in journal records of the first format). */
  trades?: TradeRows;
}

export interface TradeRows {
  payload: Buffer; // COPY text rows of trades (TradeRowEncoder)
  rows: number;
  /** The batch's last trade: looked up when a batch of trades only may have been committed. */
  last: TradeMark;
}

/** Rows of both kinds: what a batch weighs against WRITER_BATCH_ROWS and WRITER_MEMORY_ROWS. */
export const batchRows = (b: Batch): number => b.rows + (b.trades?.rows ?? 0);

export interface ClosedBatch {
  batch: Batch;
  redis: BatchItem[]; // every book frame of the batch, in order
  trades: BatchItem[]; // every `trade` frame of the batch, in order
}

/** Frames encoded back to back into one growing buffer; parallel arrays, no object per frame. */
class FrameList {
  private bytes = new Uint8Array(1 << 16);
  private end = 0;
  private symbols: string[] = [];
  private starts: number[] = [];

  /** Room for a frame of at most `max` bytes; returns where it starts. Then done(end). */
  reserve(symbol: string, max: number): Uint8Array {
    if (this.end + max > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < this.end + max) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.bytes.subarray(0, this.end));
      this.bytes = bigger;
    }
    this.symbols.push(symbol);
    this.starts.push(this.end);
    return this.bytes;
  }

  get position(): number {
    return this.end;
  }

  done(end: number): void {
    this.end = end;
  }

  /** The frames as items, views of one copy (the buffer is reused while Redis may still be sending); then empty. */
  take(): BatchItem[] {
    const frames = Buffer.from(this.bytes.subarray(0, this.end));
    const n = this.symbols.length;
    const items = new Array<BatchItem>(n);
    for (let i = 0; i < n; i++) {
      const end = i + 1 < n ? this.starts[i + 1] : this.end;
      items[i] = { symbol: this.symbols[i], latest: frames.subarray(this.starts[i], end) };
    }
    this.end = 0;
    this.symbols = [];
    this.starts = [];
    return items;
  }
}

export class BatchBuilder {
  private enc = new CopyRowEncoder(1 << 20);
  private tradeEnc = new TradeRowEncoder();
  private progress = new Map<string, BatchProgress>();
  private lastTrade?: TradeMark;
  private openedAt = 0;
  private newestFeedTs = 0;
  private readonly frames = new FrameList();
  private readonly tradeFrames = new FrameList();
  private readonly symbolJson = new Map<string, Uint8Array>();
  private readonly maxFrame: number;

  constructor(private readonly depth: number, private readonly withRedis: boolean) {
    this.maxFrame = maxRecordFrameBytes(depth, 32 * 6);
  }

  /** Rows of both kinds in the batch. */
  get rows(): number {
    return this.enc.rows + this.tradeEnc.rows;
  }

  get tradeRows(): number {
    return this.tradeEnc.rows;
  }

  ageMs(now: number): number {
    return this.rows === 0 ? 0 : now - this.openedAt;
  }

  /** Appends the raw record at f64[base…] of `symbol`. */
  add(symbol: string, f64: Float64Array, base: number, now: number): void {
    if (this.rows === 0) this.openedAt = now;
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
    this.sawFeedTs(f64[base + R_FEED_TS]);
    if (this.withRedis) {
      const out = this.frames.reserve(symbol, this.maxFrame);
      this.frames.done(encodeRecord(out, this.frames.position, TYPE_UPDATE, this.json(symbol), f64, base, this.depth));
    }
  }

  /** Appends the trade record at f64[base…] (layout.ts T_*) of `symbol`. */
  addTrade(symbol: string, f64: Float64Array, base: number, now: number): void {
    if (this.rows === 0) this.openedAt = now;
    this.tradeEnc.append(symbol, f64, base);
    const ex = f64[base + T_EXCHANGE_TS];
    this.lastTrade = { symbol, epoch: f64[base + T_EPOCH], seq: f64[base + T_SEQ], timeMs: ex > 0 ? ex : f64[base + T_FEED_TS] };
    this.sawFeedTs(f64[base + T_FEED_TS]);
    if (this.withRedis) {
      const json = this.json(symbol);
      const out = this.tradeFrames.reserve(symbol, maxTradeFrameBytes(json.length));
      this.tradeFrames.done(encodeTrade(out, this.tradeFrames.position, json, f64, base));
    }
  }

  private sawFeedTs(feedTs: number): void {
    if (feedTs > this.newestFeedTs) this.newestFeedTs = feedTs;
  }

  private json(symbol: string): Uint8Array {
    let json = this.symbolJson.get(symbol);
    if (json === undefined) this.symbolJson.set(symbol, (json = symbolJsonBytes(symbol)));
    return json;
  }

  /** Closes the batch: the builder starts empty again. */
  close(): ClosedBatch {
    const batch: Batch = {
      payload: Buffer.from(this.enc.bytes()), // a copy: the encoder's buffer is reused
      rows: this.enc.rows,
      progress: [...this.progress.values()],
      newestFeedTs: this.newestFeedTs,
    };
    if (this.tradeEnc.rows > 0) batch.trades = { payload: Buffer.from(this.tradeEnc.bytes()), rows: this.tradeEnc.rows, last: this.lastTrade! };
    // Every frame of the batch, in order: each book frame is PUBLISHed on its symbol's channel
    // (the bus other nodes read); the Redis tier keeps the newest of each kind per symbol.
    const redis = this.withRedis ? this.frames.take() : [];
    const trades = this.withRedis ? this.tradeFrames.take() : [];
    this.enc.reset();
    this.tradeEnc.reset();
    this.progress = new Map();
    this.lastTrade = undefined;
    this.newestFeedTs = 0;
    return { batch, redis, trades };
  }
}
