// One side of an exchange's order book, kept whole and sorted best first, with no allocation per update.
//
// Prices sit in a sorted Float64Array (binary search, shift on insert/delete: books are at most
// a few thousand levels, and most changes are near the top); the top N are copied out after
// each exchange message. The array only grows (doubling), so steady state allocates nothing.

export class BookSide {
  private px: Float64Array;
  private sz: Float64Array;
  private n = 0;

  /** `descending`: bids (highest first); else asks (lowest first). */
  constructor(private readonly descending: boolean, capacity = 1024) {
    this.px = new Float64Array(capacity);
    this.sz = new Float64Array(capacity);
  }

  get count(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
  }

  /** Sets the size at `price`; a size of 0 removes the level. */
  set(price: number, size: number): void {
    const i = this.find(price);
    const found = i < this.n && this.px[i] === price;
    if (size === 0) {
      if (!found) return;
      this.px.copyWithin(i, i + 1, this.n);
      this.sz.copyWithin(i, i + 1, this.n);
      this.n--;
      return;
    }
    if (found) {
      this.sz[i] = size;
      return;
    }
    if (this.n === this.px.length) this.grow();
    this.px.copyWithin(i + 1, i, this.n);
    this.sz.copyWithin(i + 1, i, this.n);
    this.px[i] = price;
    this.sz[i] = size;
    this.n++;
  }

  /** The i-th best level's price and size (i < count). */
  priceAt(i: number): number {
    return this.px[i];
  }

  sizeAt(i: number): number {
    return this.sz[i];
  }

  /** Copies the best `max` levels into `px`/`sz`; returns how many. */
  top(px: Float64Array, sz: Float64Array, max: number): number {
    const k = Math.min(max, this.n);
    for (let i = 0; i < k; i++) {
      px[i] = this.px[i];
      sz[i] = this.sz[i];
    }
    return k;
  }

  /** Keeps only the best `max` levels (exchanges that send a bounded depth drop the rest themselves). */
  truncate(max: number): void {
    if (this.n > max) this.n = max;
  }

  /** First index whose price is not better than `price` (where `price` is, or would go). */
  private find(price: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const better = this.descending ? this.px[mid] > price : this.px[mid] < price;
      if (better) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const px = new Float64Array(this.px.length * 2);
    const sz = new Float64Array(this.sz.length * 2);
    px.set(this.px);
    sz.set(this.sz);
    this.px = px;
    this.sz = sz;
  }
}

/** Both sides of one symbol's book, and the BookUpdate fill of its top N. */
export class ExchangeBook {
  readonly bids = new BookSide(true);
  readonly asks = new BookSide(false);

  clear(): void {
    this.bids.clear();
    this.asks.clear();
  }

  /** Fills `u`'s levels with the top `depth` of each side (the caller sets symbol, kind, time). */
  fill(u: { bidCount: number; askCount: number; bidPx: Float64Array; bidSz: Float64Array; askPx: Float64Array; askSz: Float64Array }, depth: number): void {
    u.bidCount = this.bids.top(u.bidPx, u.bidSz, depth);
    u.askCount = this.asks.top(u.askPx, u.askSz, depth);
  }
}
