// One symbol's shared memory: seqlocked header, raw-update ring (by seq), history ring (by bucket).
//
// Layout: layout.ts. The supervisor allocates the SharedArrayBuffer and keeps it for the
// process's life, so a restarted shard finds the sequence, the book and today's history.
// Exactly one thread writes (the shard that owns the symbol); any thread may read.
//
// Seqlock protocol (seqlock.ts; writer): version odd → write fields → version even.
// Reader: v1 = version; if odd, retry; copy fields; v2 = version; accept iff v1 === v2.
// Atomics.load/store/add are sequentially consistent, so the plain field writes cannot be
// observed outside the odd window and a torn copy is always detected by v1 !== v2.

import { beginWrite, copyConsistent, endWrite } from './seqlock.js';
import type { Book } from '../book/book.js';
import { computeMetrics } from '../book/metrics.js';
import {
  H_EPOCH, H_LAST_BUCKET, H_LAST_FEED_TS, H_LAST_INPUT_POS, H_LAST_SEQ, H_RESYNC_REASON, H_RESYNC_REASON_LENGTH, H_RESYNCING_SINCE,
  H_VERSION, HEADER_BYTES, MAX_REASON_BYTES,
  HISTORY_POINT_FIELDS, P_BUCKET, P_VERSION, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_METRICS, R_SEQ, R_VERSION,
  type StoreGeometry, isPowerOfTwo, rawRecordBytes, rawRecordFields, storeBytes,
} from './layout.js';

const HEADER_FIELDS = HEADER_BYTES / 8;

export function createStoreBuffer(g: StoreGeometry): SharedArrayBuffer {
  if (!isPowerOfTwo(g.rawCapacity)) throw new RangeError(`rawCapacity must be a power of two, got ${g.rawCapacity}`);
  if (!isPowerOfTwo(g.historyCapacity)) throw new RangeError(`historyCapacity must be a power of two, got ${g.historyCapacity}`);
  const sab = new SharedArrayBuffer(storeBytes(g));
  const header = new Float64Array(sab, 0, HEADER_FIELDS);
  header[H_LAST_BUCKET] = -1;
  header[H_LAST_INPUT_POS] = -1; // queue positions start at 0: no record has been applied yet
  return sab;
}

export class SymbolStore {
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly rawFields: number;
  readonly rawMask: number;
  readonly historyMask: number;
  /** f64 index where the raw ring / history ring start. */
  readonly rawBase: number;
  readonly historyBase: number;
  /** Scratch copy of the header filled by readHeader(). */
  readonly header = new Float64Array(HEADER_FIELDS);

  constructor(readonly sab: SharedArrayBuffer, readonly geometry: StoreGeometry) {
    if (sab.byteLength !== storeBytes(geometry)) throw new RangeError('store buffer does not match its geometry');
    this.f64 = new Float64Array(sab);
    this.i32 = new Int32Array(sab);
    this.rawFields = rawRecordFields(geometry.depth);
    this.rawMask = geometry.rawCapacity - 1;
    this.historyMask = geometry.historyCapacity - 1;
    this.rawBase = HEADER_FIELDS;
    this.historyBase = (HEADER_BYTES + geometry.rawCapacity * rawRecordBytes(geometry.depth)) / 8;
  }

  // ── writer side (the owning shard only) ──────────────────────────────────────

  /** Opens the seqlock write window at Int32 index `v` (seqlock.ts); pair with endWrite. */
  beginWrite(v: number): void {
    beginWrite(this.i32, v);
  }

  endWrite(v: number): void {
    endWrite(this.i32, v);
  }

  /** f64 index of the raw slot for `seq`. */
  rawSlot(seq: number): number {
    return this.rawBase + (seq & this.rawMask) * this.rawFields;
  }

  /**
   * Writes the raw record of `seq` — sequence, timestamps, the book's metrics and levels — into
   * its slot under the slot's seqlock, and returns the slot's f64 index (frames and rows are
   * copied from there). Every raw record is written here: the shard per update, the seeding
   * after a restart, the tests. Hot path: no allocation, the book is read in place.
   */
  writeRaw(seq: number, epoch: number, feedTs: number, exchangeTs: number, book: Book): number {
    // A book of another depth would write its levels over the neighbouring slot.
    if (book.depth !== this.geometry.depth) throw new RangeError(`writeRaw needs a book of depth ${this.geometry.depth}, got ${book.depth}`);
    const f = this.f64;
    const slot = this.rawSlot(seq);
    this.beginWrite(slot * 2);
    f[slot + R_SEQ] = seq;
    f[slot + R_EPOCH] = epoch;
    f[slot + R_FEED_TS] = feedTs;
    f[slot + R_EXCHANGE_TS] = exchangeTs;
    computeMetrics(book, f, slot + R_METRICS);
    book.writeToRecord(f, slot);
    this.endWrite(slot * 2);
    return slot;
  }

  /** f64 index of the history point for `bucket`. */
  historySlot(bucket: number): number {
    return this.historyBase + (bucket & this.historyMask) * HISTORY_POINT_FIELDS;
  }

  /** Writes the header fields that change with every accepted update, under its seqlock. */
  commitHeader(epoch: number, lastSeq: number, feedTs: number, inputPos: number, bucket: number): void {
    const f = this.f64;
    this.beginWrite(H_VERSION);
    f[H_EPOCH] = epoch;
    f[H_LAST_SEQ] = lastSeq;
    f[H_LAST_FEED_TS] = feedTs;
    f[H_LAST_INPUT_POS] = inputPos;
    f[H_LAST_BUCKET] = bucket;
    this.endWrite(H_VERSION);
  }

  /**
   * Marks the book as resyncing since `since` (feed time), for `reason[at…at+length)` (ASCII), or
   * not resyncing (since 0), under the header's seqlock.
   */
  setResyncing(since: number, reason?: Uint8Array, at = 0, length = 0): void {
    const f = this.f64;
    const n = Math.min(length, MAX_REASON_BYTES);
    this.beginWrite(H_VERSION);
    f[H_RESYNCING_SINCE] = since;
    f[H_RESYNC_REASON_LENGTH] = n;
    if (reason !== undefined && n > 0) new Uint8Array(this.sab, H_RESYNC_REASON * 8, n).set(reason.subarray(at, at + n));
    this.endWrite(H_VERSION);
  }

  /** From a header copy (readHeader): the resync's reason, as stored. */
  resyncReason(): string {
    const n = Math.min(MAX_REASON_BYTES, Math.max(0, this.header[H_RESYNC_REASON_LENGTH] | 0));
    const bytes = new Uint8Array(this.header.buffer, this.header.byteOffset + H_RESYNC_REASON * 8, n);
    return String.fromCharCode(...bytes);
  }

  /** Plain header increments (counters read for stats only; a torn read is harmless). */
  bump(field: number): void {
    this.f64[field] += 1;
  }

  /** True when the last writer died inside a header write window. */
  headerTorn(): boolean {
    return (Atomics.load(this.i32, H_VERSION) & 1) === 1;
  }

  /** Repairs a torn header after a writer died mid-write (the new writer owns it now). */
  resetHeaderLock(): void {
    if (this.headerTorn()) this.endWrite(H_VERSION);
  }

  // ── reader side (any thread) ─────────────────────────────────────────────────

  /** Copies the header into `this.header`; false if it stayed torn (writer died mid-write). */
  readHeader(): boolean {
    return this.copyConsistent(H_VERSION, 0, HEADER_FIELDS, this.header, 0);
  }

  /**
   * Copies the raw record for `seq` of `epoch` into `out` at `outBase`.
   * False when the slot holds another seq/epoch (overwritten, or not written yet).
   */
  readRaw(seq: number, epoch: number, out: Float64Array, outBase: number): boolean {
    const at = this.rawSlot(seq);
    if (!this.copyConsistent(at * 2 + R_VERSION, at, this.rawFields, out, outBase)) return false;
    return out[outBase + R_SEQ] === seq && out[outBase + R_EPOCH] === epoch;
  }

  /** Copies the history point of `bucket` into `out`; false when that bucket has no point. */
  readPoint(bucket: number, out: Float64Array, outBase: number): boolean {
    const at = this.historySlot(bucket);
    if (!this.copyConsistent(at * 2 + P_VERSION, at, HISTORY_POINT_FIELDS, out, outBase)) return false;
    return out[outBase + P_BUCKET] === bucket;
  }

  private copyConsistent(v: number, from: number, n: number, out: Float64Array, outBase: number): boolean {
    return copyConsistent(this.i32, this.f64, v, from, n, out, outBase);
  }
}
