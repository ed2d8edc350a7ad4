// One symbol's Binance book on one connection: the documented snapshot + diff-stream sync, as a pure state machine (no sockets, no timers).
//
// Binance's procedure ("How to manage a local order book correctly", spot):
//   1. buffer the diff events from the stream; note the first event's U;
//   2. GET /api/v3/depth; if lastUpdateId + 1 < that first U the snapshot is older than the
//      stream: get another;
//   3. drop buffered events with u <= lastUpdateId; the first applied event has
//      U <= lastUpdateId + 1 <= u; after it every event's U is the previous u + 1;
//   4. quantities are absolute, 0 removes the level (removing an unknown level is normal).
// Anything else is a gap: the book is thrown away and the procedure starts again from the
// event that showed it (which is the first one the next snapshot must cover).
//
//   waiting ──first event──► syncing ──snapshot bridges the buffer──► live
//      ▲                       ▲  └──snapshot older than the buffer: ask again
//      └──depth── live ──gap──┘
//
// A snapshot holds only the best `snapshotLimit` levels a side; levels behind the worst of them
// are unknown until they change. When removals pull the top `depth` behind that line, the
// top-N is no longer provably the exchange's, and the symbol resyncs ('depth').

import { ExchangeBook, type BookSide } from '../exchange-book.js';
import type { DepthEvent, DepthSnapshot, Level } from './messages.js';

export interface DepthSyncOutput {
  /** The book is the exchange's after update id `seq`; `fresh` on the first book of a sync. */
  book(seq: number, exchangeTs: number, fresh: boolean): void;
  /** Fetch GET /api/v3/depth and answer with onSnapshot; never asked twice before an answer. */
  requestSnapshot(): void;
  /** The book had been handed over and is no longer provably the exchange's. */
  lost(reason: 'gap' | 'depth'): void;
}

export interface DepthSyncOptions {
  /** Levels per side handed over. */
  depth: number;
  /** The `limit` the snapshots are requested with. */
  snapshotLimit: number;
  /** Events kept while waiting for a snapshot; the oldest go first (default 1000). */
  maxBuffered?: number;
}

export type DepthSyncState = 'waiting' | 'syncing' | 'live';

export class DepthSync {
  readonly book = new ExchangeBook();
  private stateNow: DepthSyncState = 'waiting';
  private readonly depth: number;
  private readonly snapshotLimit: number;
  /** Ring of buffered events (head = oldest). */
  private readonly ring: (DepthEvent | undefined)[];
  private head = 0;
  private count = 0;
  /** The update id the book is at. */
  private lastU = -1;
  /** false between a snapshot and the first event applied on it (which only has to cover lastU + 1). */
  private bridged = false;
  /** A book of this sync has been handed over. */
  private shown = false;
  private snapshotPending = false;
  /** Worst price of a snapshot side that came back full (NaN: the side was complete). */
  private bidFloor = NaN;
  private askCeiling = NaN;
  /** Counters for stats and tests. */
  staleSnapshots = 0;
  gaps = 0;
  droppedBuffered = 0;

  constructor(private readonly out: DepthSyncOutput, opts: DepthSyncOptions) {
    this.depth = opts.depth;
    this.snapshotLimit = opts.snapshotLimit;
    this.ring = new Array(Math.max(1, opts.maxBuffered ?? 1000));
  }

  get state(): DepthSyncState {
    return this.stateNow;
  }

  /** The update id the book is at (-1 before the first snapshot). */
  get updateId(): number {
    return this.lastU;
  }

  get buffered(): number {
    return this.count;
  }

  get awaitingSnapshot(): boolean {
    return this.snapshotPending;
  }

  /**
   * The connection is open: ask for a snapshot now rather than at the first diff, so a symbol whose
   * book does not change still gets its book. An empty buffer when it comes is fine: the first
   * diff after must then span lastUpdateId+1, or the symbol re-syncs.
   */
  start(): void {
    if (this.stateNow !== 'waiting') return;
    this.stateNow = 'syncing';
    this.askSnapshot();
  }

  onDiff(ev: DepthEvent): void {
    if (this.stateNow === 'live') {
      this.applyLive(ev);
      return;
    }
    this.push(ev);
    if (this.stateNow === 'waiting') {
      this.stateNow = 'syncing';
      this.askSnapshot();
    }
  }

  onSnapshot(snap: DepthSnapshot): void {
    if (!this.snapshotPending) return; // not asked for: an answer that outlived a restart
    this.snapshotPending = false;
    if (this.stateNow !== 'syncing') return;
    const lid = snap.lastUpdateId;
    while (this.count > 0 && this.peek().u <= lid) this.shift();
    if (this.count > 0 && this.peek().U > lid + 1) {
      // Older than the stream (or the buffer itself has a hole): a later snapshot will cover it.
      this.staleSnapshots++;
      this.askSnapshot();
      return;
    }
    const b = this.book;
    b.clear();
    applyLevels(b.bids, snap.bids);
    applyLevels(b.asks, snap.asks);
    this.bidFloor = snap.bids.length >= this.snapshotLimit ? worstPrice(snap.bids, true) : NaN;
    this.askCeiling = snap.asks.length >= this.snapshotLimit ? worstPrice(snap.asks, false) : NaN;
    this.lastU = lid;
    this.bridged = false;
    this.shown = false;
    this.stateNow = 'live';
    let exchangeTs = 0;
    while (this.count > 0) {
      const ev = this.peek();
      const r = this.step(ev);
      if (r === 'gap') {
        this.restart(false); // keeps the buffer from the event that showed the gap
        return;
      }
      this.shift();
      if (r === 'depth') {
        this.restart(false);
        return;
      }
      if (r === 'applied') exchangeTs = ev.E;
    }
    this.shown = true;
    this.out.book(this.lastU, exchangeTs, true);
  }

  /** Forget everything (the connection is gone); the next event starts over. */
  reset(): void {
    this.clearBuffer();
    this.book.clear();
    this.stateNow = 'waiting';
    this.lastU = -1;
    this.shown = false;
    this.snapshotPending = false;
  }

  private applyLive(ev: DepthEvent): void {
    const r = this.step(ev);
    if (r === 'gap') {
      this.push(ev);
      this.restart(true, 'gap');
    } else if (r === 'depth') {
      this.restart(true, 'depth');
    } else if (r === 'applied') {
      this.out.book(this.lastU, ev.E, false);
    }
  }

  /** Applies `ev` to a live book, or says why not. */
  private step(ev: DepthEvent): 'applied' | 'old' | 'gap' | 'depth' {
    if (ev.u <= this.lastU) return 'old'; // already in the snapshot
    if (this.bridged ? ev.U !== this.lastU + 1 : ev.U > this.lastU + 1) {
      this.gaps++;
      return 'gap';
    }
    applyLevels(this.book.bids, ev.b);
    applyLevels(this.book.asks, ev.a);
    this.lastU = ev.u;
    this.bridged = true;
    return this.topIsKnown() ? 'applied' : 'depth';
  }

  /** Back to syncing from the buffer (or waiting when it is empty); `tell` when a book had been shown. */
  private restart(tell: boolean, reason?: 'gap' | 'depth'): void {
    const wasShown = this.shown;
    this.book.clear();
    this.shown = false;
    this.lastU = -1;
    this.bidFloor = NaN;
    this.askCeiling = NaN;
    if (this.count > 0) {
      this.stateNow = 'syncing';
      this.askSnapshot();
    } else {
      this.stateNow = 'waiting';
    }
    if (tell && wasShown && reason) this.out.lost(reason);
  }

  /** The top `depth` of each side lie within what the snapshot (and later events) made known. */
  private topIsKnown(): boolean {
    return sideKnown(this.book.bids, this.bidFloor, this.depth, true) && sideKnown(this.book.asks, this.askCeiling, this.depth, false);
  }

  private askSnapshot(): void {
    this.snapshotPending = true;
    this.out.requestSnapshot();
  }

  private push(ev: DepthEvent): void {
    const cap = this.ring.length;
    if (this.count === cap) {
      // Dropping the oldest is safe: the next snapshot must cover the first kept event anyway.
      this.shift();
      this.droppedBuffered++;
    }
    this.ring[(this.head + this.count) % cap] = ev;
    this.count++;
  }

  private peek(): DepthEvent {
    return this.ring[this.head] as DepthEvent;
  }

  private shift(): void {
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
  }

  private clearBuffer(): void {
    while (this.count > 0) this.shift();
    this.head = 0;
  }
}

function applyLevels(side: BookSide, levels: Level[]): void {
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    side.set(+l[0], +l[1]);
  }
}

/** The snapshot's worst price on a side (lowest bid, highest ask), whatever order it came in. */
function worstPrice(levels: Level[], bids: boolean): number {
  let w = bids ? Infinity : -Infinity;
  for (let i = 0; i < levels.length; i++) {
    const p = +levels[i][0];
    if (bids ? p < w : p > w) w = p;
  }
  return w;
}

function sideKnown(side: BookSide, bound: number, depth: number, descending: boolean): boolean {
  if (Number.isNaN(bound)) return true;
  if (side.count < depth) return false;
  const p = side.priceAt(depth - 1);
  return descending ? p >= bound : p <= bound;
}
