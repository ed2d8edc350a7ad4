// One Kraken pair's book as a state machine: a snapshot, then updates, each proven by its checksum; after a mismatch nothing until the next snapshot.
//
// Kraken v2 has no sequence numbers: the CRC32 of the top 10 levels in every book message is the
// only proof that the local book is the exchange's. So every message is applied, the book is cut
// to the subscribed depth (Kraken sends no deletes for levels pushed past it), and the result is
// handed over only if its checksum matches. No I/O here: the connector maps each step to sink
// calls and requests, and the property test drives it with faults.

import { ExchangeBook } from '../exchange-book.js';
import { bookChecksum } from './checksum.js';
import type { WireLevel } from './messages.js';

export interface Precision {
  /** Decimals of prices (the instrument channel's price_precision). */
  price: number;
  /** Decimals of quantities (qty_precision). */
  qty: number;
}

/**
 * What one book message did:
 * - `book`: the book is verified; hand it over (`reset` says whether it is the first since a sync).
 * - `ignored`: an update while out of sync (waiting for a snapshot).
 * - `mismatch`: the checksum did not match; the book is unknown until a snapshot (`wasLive`: announce it).
 * - `unverifiable`: no precision is known for the pair, so no checksum can be computed.
 */
export type BookStep = 'book' | 'ignored' | 'mismatch' | 'unverifiable';

export class KrakenBook {
  readonly book = new ExchangeBook();
  precision: Precision | undefined;
  /** In sync: the last book message's checksum matched and nothing was lost since. */
  private live = false;
  /** Of the last `book` step: the first verified book since the symbol was out of sync. */
  reset = false;
  /** Of the last `mismatch`/`unverifiable` step, or of `desync()`: the symbol was live until then. */
  wasLive = false;
  /** Verified book messages so far: the source sequence number handed over with each book. */
  verified = 0;

  /** `depth`: the subscribed depth, to which the book is cut after every message. */
  constructor(readonly depth: number, precision?: Precision) {
    this.precision = precision;
  }

  get isLive(): boolean {
    return this.live;
  }

  /** The book can no longer be proven (connection lost, a message unreadable). Returns whether it was live. */
  desync(): boolean {
    this.wasLive = this.live;
    this.live = false;
    return this.wasLive;
  }

  snapshot(bids: readonly WireLevel[], asks: readonly WireLevel[], checksum: number): BookStep {
    this.book.clear();
    return this.apply(bids, asks, checksum);
  }

  update(bids: readonly WireLevel[], asks: readonly WireLevel[], checksum: number): BookStep {
    if (!this.live) return 'ignored';
    return this.apply(bids, asks, checksum);
  }

  private apply(bids: readonly WireLevel[], asks: readonly WireLevel[], checksum: number): BookStep {
    // All levels of a message before the checksum: Kraken computes it after the whole message.
    for (let i = 0; i < bids.length; i++) this.book.bids.set(bids[i].price, bids[i].qty);
    for (let i = 0; i < asks.length; i++) this.book.asks.set(asks[i].price, asks[i].qty);
    this.book.bids.truncate(this.depth);
    this.book.asks.truncate(this.depth);
    const wasLive = this.live;
    const p = this.precision;
    if (!p || bookChecksum(this.book.asks, this.book.bids, p.price, p.qty) !== checksum) {
      this.wasLive = wasLive;
      this.live = false;
      return p ? 'mismatch' : 'unverifiable';
    }
    this.reset = !wasLive;
    this.live = true;
    this.verified++;
    return 'book';
  }
}
