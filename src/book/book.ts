// One symbol's order book: the best `depth` price levels per side in preallocated typed arrays.
//
// Levels beyond `depth` are not kept. A delta that deletes a kept level therefore leaves the
// side one level short until a later update refills it; the book never invents levels.
// Nothing here allocates after construction: the shard applies every update in place.

import { R_ASK_COUNT, R_BID_COUNT, R_LEVELS } from '../ring/layout.js';

export class Book {
  readonly depth: number;
  readonly bidPx: Float64Array;
  readonly bidSz: Float64Array;
  readonly askPx: Float64Array;
  readonly askSz: Float64Array;
  bidCount = 0;
  askCount = 0;

  constructor(depth: number) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`depth must be an integer >= 1, got ${depth}`);
    this.depth = depth;
    this.bidPx = new Float64Array(depth);
    this.bidSz = new Float64Array(depth);
    this.askPx = new Float64Array(depth);
    this.askSz = new Float64Array(depth);
  }

  /** Replaces both sides: `src[base..]` holds bidCount (price, size) pairs, best first, then askCount pairs. */
  applySnapshot(src: Float64Array, base: number, bidCount: number, askCount: number): void {
    const bids = Math.min(bidCount, this.depth);
    const asks = Math.min(askCount, this.depth);
    for (let i = 0; i < bids; i++) {
      this.bidPx[i] = src[base + 2 * i];
      this.bidSz[i] = src[base + 2 * i + 1];
    }
    const askBase = base + 2 * bidCount; // asks follow all bids, kept or not
    for (let i = 0; i < asks; i++) {
      this.askPx[i] = src[askBase + 2 * i];
      this.askSz[i] = src[askBase + 2 * i + 1];
    }
    this.bidCount = bids;
    this.askCount = asks;
  }

  /** Upserts (size > 0) or deletes (size 0) each level, in the order given; same encoding as a snapshot. */
  applyDelta(src: Float64Array, base: number, bidCount: number, askCount: number): void {
    for (let i = 0; i < bidCount; i++) {
      const p = base + 2 * i;
      this.bidCount = upsert(this.bidPx, this.bidSz, this.bidCount, this.depth, src[p], src[p + 1], true);
    }
    const askBase = base + 2 * bidCount;
    for (let i = 0; i < askCount; i++) {
      const p = askBase + 2 * i;
      this.askCount = upsert(this.askPx, this.askSz, this.askCount, this.depth, src[p], src[p + 1], false);
    }
  }

  copyFrom(other: Book): void {
    if (other.depth !== this.depth) throw new RangeError(`copyFrom needs equal depth (${this.depth} vs ${other.depth})`);
    this.bidPx.set(other.bidPx);
    this.bidSz.set(other.bidSz);
    this.askPx.set(other.askPx);
    this.askSz.set(other.askSz);
    this.bidCount = other.bidCount;
    this.askCount = other.askCount;
  }

  clear(): void {
    this.bidCount = 0;
    this.askCount = 0;
  }

  /** Reads the counts and levels of a raw record (layout.ts R_*) whose fields start at `base`. */
  loadFromRecord(f64: Float64Array, base: number): void {
    // Clamped so a torn or foreign record cannot index past our arrays.
    const bids = Math.min(this.depth, Math.max(0, f64[base + R_BID_COUNT] | 0));
    const asks = Math.min(this.depth, Math.max(0, f64[base + R_ASK_COUNT] | 0));
    const bidBase = base + R_LEVELS;
    const askBase = bidBase + 2 * this.depth;
    for (let i = 0; i < bids; i++) {
      this.bidPx[i] = f64[bidBase + 2 * i];
      this.bidSz[i] = f64[bidBase + 2 * i + 1];
    }
    for (let i = 0; i < asks; i++) {
      this.askPx[i] = f64[askBase + 2 * i];
      this.askSz[i] = f64[askBase + 2 * i + 1];
    }
    this.bidCount = bids;
    this.askCount = asks;
  }

  /** Writes counts and all `depth` slots per side; unused slots become 0 so stale levels never leak. */
  writeToRecord(f64: Float64Array, base: number): void {
    f64[base + R_BID_COUNT] = this.bidCount;
    f64[base + R_ASK_COUNT] = this.askCount;
    const bidBase = base + R_LEVELS;
    const askBase = bidBase + 2 * this.depth;
    for (let i = 0; i < this.depth; i++) {
      const hasBid = i < this.bidCount;
      const hasAsk = i < this.askCount;
      f64[bidBase + 2 * i] = hasBid ? this.bidPx[i] : 0;
      f64[bidBase + 2 * i + 1] = hasBid ? this.bidSz[i] : 0;
      f64[askBase + 2 * i] = hasAsk ? this.askPx[i] : 0;
      f64[askBase + 2 * i + 1] = hasAsk ? this.askSz[i] : 0;
    }
  }

  /** Both sides present and best bid >= best ask (equal: locked, greater: crossed). */
  crossedOrLocked(): boolean {
    return this.bidCount > 0 && this.askCount > 0 && this.bidPx[0] >= this.askPx[0];
  }
}

/**
 * Upserts or deletes one level of a sorted side and returns the new count. `desc` is true
 * for bids (highest first). A linear scan: depth is small and the arrays are contiguous.
 */
function upsert(
  px: Float64Array, sz: Float64Array, count: number, depth: number,
  price: number, size: number, desc: boolean,
): number {
  let i = 0;
  while (i < count && (desc ? px[i] > price : px[i] < price)) i++;
  if (i < count && px[i] === price) {
    if (size > 0) {
      sz[i] = size;
      return count;
    }
    px.copyWithin(i, i + 1, count);
    sz.copyWithin(i, i + 1, count);
    return count - 1;
  }
  if (size <= 0 || i >= depth) return count; // absent level deleted, or beyond the kept depth
  const last = count < depth ? count : depth - 1; // at full depth the worst level falls off
  px.copyWithin(i + 1, i, last);
  sz.copyWithin(i + 1, i, last);
  px[i] = price;
  sz[i] = size;
  return last + 1;
}
