// Trades a full input queue refused, kept in arrival order until the feed actor's retry queues them.
//
// A trade is an event: unlike a book, no later message carries it again, so a momentarily full
// queue must not lose it. The backlog is one bounded FIFO per actor, its fields copied into
// parallel typed arrays (the connector may reuse its TradeUpdate) allocated at the first refusal.
// Each entry names its owner (the actor's symbol index); `drain` queues entries in order and,
// once an owner's write fails, keeps that owner's remaining entries behind it: per-symbol order
// holds, while trades of a queue with room are not held up by a symbol whose queue is full.
//
//   head                                         head + length
//   ┌──────┬──────┬──────┬──────┬──────┬──────┐
//   │ A #1 │ B #1 │ A #2 │ C #1 │ B #2 │ …    │  slot = (head + i) & mask
//   └──────┴──────┴──────┴──────┴──────┴──────┘
//   drain, B's queue full: A #1 queued (head moves to B #1), A #2 and C #1 queued, B #2 closes up
//   behind B #1. A pass stops early once every owner left is refused and nothing needs moving.

import { type TradeUpdate, createTradeUpdate } from '../../feeds/types.js';
import { isPowerOfTwo } from '../../ring/layout.js';

/** Writes one trade of `owner` (queued with `feedTs`); false when its queue is full. */
export type TradeWriter = (owner: number, t: TradeUpdate, feedTs: number) => boolean;

const SIDE_BUY = 1;
const SIDE_SELL = 2;

export class TradeBacklog {
  private readonly mask: number;
  private head = 0;
  private count = 0;
  /** Entries waiting per owner: an owner with any may not write around them. */
  private readonly perOwner: Int32Array;
  /** Drain pass in which the owner's write failed (its later entries stay). */
  private readonly blockedIn: Int32Array;
  private pass = 0;
  /** Owners with entries waiting. */
  private owners = 0;
  // Fields by slot; allocated at the first push (an actor whose queues never fill pays nothing).
  private owner!: Int32Array;
  private side!: Uint8Array;
  private price!: Float64Array;
  private size!: Float64Array;
  private exchangeTs!: Float64Array;
  private feedTs!: Float64Array;
  private tradeId!: string[];
  /** What `drain` hands the writer: filled from a slot, reused. */
  private readonly scratch = createTradeUpdate();

  /** `capacity`: a power of two; `owners`: owner indices run 0 … owners - 1. */
  constructor(readonly capacity: number, owners: number) {
    if (!isPowerOfTwo(capacity)) throw new RangeError(`trade backlog capacity must be a power of two, got ${capacity}`);
    this.mask = capacity - 1;
    this.perOwner = new Int32Array(owners);
    this.blockedIn = new Int32Array(owners);
  }

  get length(): number { return this.count; }

  /** Entries of `owner` waiting. */
  waiting(owner: number): number { return this.perOwner[owner]; }

  /** Copies `t` to the end; false when the backlog is full (nothing kept). */
  push(owner: number, t: TradeUpdate, feedTs: number): boolean {
    if (this.count === this.capacity) return false;
    if (this.owner === undefined) this.allocate();
    const i = (this.head + this.count) & this.mask;
    this.owner[i] = owner;
    this.side[i] = t.side === 'buy' ? SIDE_BUY : SIDE_SELL;
    this.price[i] = t.price;
    this.size[i] = t.size;
    this.exchangeTs[i] = t.exchangeTs;
    this.feedTs[i] = feedTs;
    this.tradeId[i] = t.tradeId; // strings are immutable: the reference is a copy
    this.count++;
    if (this.perOwner[owner]++ === 0) this.owners++;
    return true;
  }

  /**
   * Hands entries to `write` oldest first. An owner whose write fails is skipped for the rest of
   * the pass (its entries stay, in order); written entries at the head just move it, the kept
   * ones after a gap close up behind the first kept. Returns the entries written.
   */
  drain(write: TradeWriter): number {
    const n = this.count;
    if (n === 0) return 0;
    const pass = (this.pass = (this.pass + 1) | 0); // wraps like the Int32Array that stores it
    const t = this.scratch;
    let first = -1; // offset of the first kept entry: the new head
    let kept = 0;
    let blocked = 0;
    for (let r = 0; r < n; r++) {
      const i = (this.head + r) & this.mask;
      const o = this.owner[i];
      if (this.blockedIn[o] !== pass) {
        t.side = this.side[i] === SIDE_BUY ? 'buy' : 'sell';
        t.price = this.price[i];
        t.size = this.size[i];
        t.exchangeTs = this.exchangeTs[i];
        t.tradeId = this.tradeId[i];
        if (write(o, t, this.feedTs[i])) {
          if (--this.perOwner[o] === 0) this.owners--;
          this.tradeId[i] = ''; // let the string go
          continue;
        }
        this.blockedIn[o] = pass;
        blocked++;
      }
      if (first < 0) first = r;
      if (first + kept !== r) this.move(i, (this.head + first + kept) & this.mask);
      kept++;
      // Every owner left is refused and nothing needs closing up: the rest stays where it is.
      if (blocked === this.owners && first + kept === r + 1) {
        kept += n - r - 1;
        break;
      }
    }
    this.head = first < 0 ? 0 : (this.head + first) & this.mask;
    this.count = kept;
    return n - kept;
  }

  private move(from: number, to: number): void {
    this.owner[to] = this.owner[from];
    this.side[to] = this.side[from];
    this.price[to] = this.price[from];
    this.size[to] = this.size[from];
    this.exchangeTs[to] = this.exchangeTs[from];
    this.feedTs[to] = this.feedTs[from];
    this.tradeId[to] = this.tradeId[from];
    this.tradeId[from] = '';
  }

  private allocate(): void {
    const c = this.capacity;
    this.owner = new Int32Array(c);
    this.side = new Uint8Array(c);
    this.price = new Float64Array(c);
    this.size = new Float64Array(c);
    this.exchangeTs = new Float64Array(c);
    this.feedTs = new Float64Array(c);
    this.tradeId = new Array<string>(c).fill('');
  }
}
