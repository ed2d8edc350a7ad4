// One symbol's trades in shared memory: a seqlocked header (the trade sequence) and a ring of recent trades by seq.
//
// Layout: layout.ts (TRADE_*, TH_*, T_*). Owned like the symbol's book store: the supervisor
// allocates it for the process's life, the owning shard is the only writer, any thread reads
// (the front for the trades channel and GET /trades, the writer takes copies through its queue).
// Seqlock protocol: seqlock.ts.

import { beginWrite, copyConsistent, endWrite } from './seqlock.js';
import {
  TH_EPOCH, TH_LAST_FEED_TS, TH_LAST_INPUT_POS, TH_LAST_SEQ, TH_VERSION, TRADE_HEADER_BYTES, TRADE_ID_MAX_BYTES,
  TRADE_RECORD_FIELDS, T_EPOCH, T_ID, T_ID_LENGTH, T_SEQ, T_VERSION, isPowerOfTwo, tradeStoreBytes,
} from './layout.js';

const HEADER_FIELDS = TRADE_HEADER_BYTES / 8;

export function createTradeBuffer(capacity: number): SharedArrayBuffer {
  if (!isPowerOfTwo(capacity)) throw new RangeError(`trade ring capacity must be a power of two, got ${capacity}`);
  const sab = new SharedArrayBuffer(tradeStoreBytes(capacity));
  new Float64Array(sab, 0, HEADER_FIELDS)[TH_LAST_INPUT_POS] = -1; // queue positions start at 0
  return sab;
}

export class TradeStore {
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly bytes: Uint8Array;
  readonly capacity: number;
  readonly mask: number;
  /** Scratch copy of the header filled by readHeader(). */
  readonly header = new Float64Array(HEADER_FIELDS);

  constructor(readonly sab: SharedArrayBuffer) {
    this.capacity = (sab.byteLength - TRADE_HEADER_BYTES) / (TRADE_RECORD_FIELDS * 8);
    if (!isPowerOfTwo(this.capacity)) throw new RangeError('trade buffer does not hold a power-of-two ring');
    this.f64 = new Float64Array(sab);
    this.i32 = new Int32Array(sab);
    this.bytes = new Uint8Array(sab);
    this.mask = this.capacity - 1;
  }

  // ── writer side (the owning shard only) ──────────────────────────────────────

  /** Opens the seqlock write window at Int32 index `v` (seqlock.ts). */
  beginWrite(v: number): void {
    beginWrite(this.i32, v);
  }

  endWrite(v: number): void {
    endWrite(this.i32, v);
  }

  /** f64 index of the slot of trade `seq`. */
  slot(seq: number): number {
    return HEADER_FIELDS + (seq & this.mask) * TRADE_RECORD_FIELDS;
  }

  /** Writes the header fields of a committed trade, under its seqlock. */
  commitHeader(epoch: number, lastSeq: number, feedTs: number, inputPos: number): void {
    const f = this.f64;
    this.beginWrite(TH_VERSION);
    f[TH_EPOCH] = epoch;
    f[TH_LAST_SEQ] = lastSeq;
    f[TH_LAST_FEED_TS] = feedTs;
    f[TH_LAST_INPUT_POS] = inputPos;
    this.endWrite(TH_VERSION);
  }

  headerTorn(): boolean {
    return (Atomics.load(this.i32, TH_VERSION) & 1) === 1;
  }

  resetHeaderLock(): void {
    if (this.headerTorn()) this.endWrite(TH_VERSION);
  }

  // ── reader side (any thread) ─────────────────────────────────────────────────

  /** Copies the header into `this.header`; false if it stayed torn. */
  readHeader(): boolean {
    return this.copyConsistent(TH_VERSION, 0, HEADER_FIELDS, this.header, 0);
  }

  /** Copies trade `seq` of `epoch` into `out` at `outBase`; false when the slot holds another (overwritten, not written). */
  readTrade(seq: number, epoch: number, out: Float64Array, outBase: number): boolean {
    const at = this.slot(seq);
    if (!this.copyConsistent(at * 2 + T_VERSION, at, TRADE_RECORD_FIELDS, out, outBase)) return false;
    return out[outBase + T_SEQ] === seq && out[outBase + T_EPOCH] === epoch;
  }

  private copyConsistent(v: number, from: number, n: number, out: Float64Array, outBase: number): boolean {
    return copyConsistent(this.i32, this.f64, v, from, n, out, outBase);
  }
}

/** The trade id of the record at f64[base…] (T_*), as a string: for HTTP answers and tests, not the hot path. */
export function tradeIdOf(f64: Float64Array, base: number): string {
  const n = Math.min(TRADE_ID_MAX_BYTES, Math.max(0, f64[base + T_ID_LENGTH] | 0));
  const bytes = new Uint8Array(f64.buffer, f64.byteOffset + (base + T_ID) * 8, n);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i]);
  return s;
}
