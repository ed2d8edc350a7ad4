// Checks an input record's levels before the shard applies them; reject codes and their names.
//
// Split of work: checkLevels looks at the record alone (prices, sizes, order, counts).
// Crossed and locked depend on the book the update lands on, so the shard decides them:
//   scratch.copyFrom(book); apply into scratch;
//   code = checkCrossing(scratch); if (code !== REJECT_NONE) reject, else swap scratch and book.
// A rejected update leaves the book untouched, so one bad message never corrupts state.

import { KIND_DELTA, KIND_SNAPSHOT } from '../feeds/types.js';
import type { Book } from './book.js';

export const REJECT_NONE = 0;
export const REJECT_CROSSED = 1; // best bid > best ask after applying
export const REJECT_LOCKED = 2; // best bid == best ask after applying
export const REJECT_BAD_PRICE = 3; // not finite, or <= 0
export const REJECT_BAD_SIZE = 4; // not finite, or < 0; in a snapshot also 0
export const REJECT_UNORDERED = 5; // snapshot bids not strictly descending or asks not strictly ascending
export const REJECT_TOO_MANY_LEVELS = 6; // a side has more levels than the caller's maxLevels
export const REJECT_EMPTY = 7; // snapshot with no levels on either side
export const REJECT_BAD_KIND = 8; // kind is neither KIND_SNAPSHOT nor KIND_DELTA
export const REJECT_NO_SNAPSHOT = 9; // a delta for a book whose state was lost: a snapshot must rebuild it first

/** Stable names, index = code; used in stats and logs, so never reorder. */
export const REJECT_REASONS: readonly string[] = Object.freeze([
  'ok', 'crossed', 'locked', 'bad_price', 'bad_size', 'unordered', 'too_many_levels', 'empty', 'bad_kind',
  'no_snapshot',
]);

/**
 * Returns REJECT_NONE or the first problem found. `src[base..]` holds bidCount (price, size)
 * pairs then askCount pairs (layout.ts IN_LEVELS onwards). `maxLevels` bounds each side's
 * count (e.g. what the record's length can hold); deltas may list levels in any order.
 */
export function checkLevels(
  src: Float64Array, base: number, bidCount: number, askCount: number, kind: number,
  maxLevels = Number.POSITIVE_INFINITY,
): number {
  if (kind !== KIND_SNAPSHOT && kind !== KIND_DELTA) return REJECT_BAD_KIND;
  if (bidCount > maxLevels || askCount > maxLevels) return REJECT_TOO_MANY_LEVELS;
  const snapshot = kind === KIND_SNAPSHOT;
  if (snapshot && bidCount === 0 && askCount === 0) return REJECT_EMPTY;
  const n = bidCount + askCount;
  for (let i = 0; i < n; i++) {
    const px = src[base + 2 * i];
    const sz = src[base + 2 * i + 1];
    if (!Number.isFinite(px) || px <= 0) return REJECT_BAD_PRICE;
    if (!Number.isFinite(sz) || sz < 0 || (snapshot && sz === 0)) return REJECT_BAD_SIZE;
  }
  if (snapshot) {
    for (let i = 1; i < bidCount; i++) {
      if (!(src[base + 2 * i] < src[base + 2 * (i - 1)])) return REJECT_UNORDERED;
    }
    const askBase = base + 2 * bidCount;
    for (let i = 1; i < askCount; i++) {
      if (!(src[askBase + 2 * i] > src[askBase + 2 * (i - 1)])) return REJECT_UNORDERED;
    }
  }
  return REJECT_NONE;
}

/** REJECT_LOCKED (best bid == best ask), REJECT_CROSSED (best bid > best ask) or REJECT_NONE. */
export function checkCrossing(book: Book): number {
  if (!book.crossedOrLocked()) return REJECT_NONE;
  return book.bidPx[0] === book.askPx[0] ? REJECT_LOCKED : REJECT_CROSSED;
}
