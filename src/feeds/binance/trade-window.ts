// Which of a symbol's recent trade ids were already delivered: a byte per id over the last `size` ids below the highest, no allocation per trade.
//
// Two connections overlap while one replaces the other, so the same trade arrives twice, and
// either connection may be ahead. Binance's trade ids rise by one per trade of a symbol, so a
// window of ids (not of time) bounds the memory: an id more than `size` below the highest seen
// cannot be told apart from a repeat and is refused (counted), since a duplicate trade would
// double a volume while a trade that late is already history.

export type Admission = 'new' | 'repeat' | 'too-old';

export class TradeWindow {
  private readonly seen: Uint8Array;
  private high = -1;

  constructor(private readonly size = 4096) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`tradeWindow must be a positive integer, got ${size}`);
    this.seen = new Uint8Array(size);
  }

  /** The highest id admitted so far (-1 before any). */
  get highest(): number {
    return this.high;
  }

  admit(id: number): Admission {
    const size = this.size;
    if (this.high < 0 || id > this.high) {
      const from = this.high < 0 ? id : this.high + 1;
      // Ids skipped between the old and the new highest were never seen: clear their slots.
      if (id - from >= size) this.seen.fill(0);
      else for (let k = from; k < id; k++) this.seen[k % size] = 0;
      this.seen[id % size] = 1;
      this.high = id;
      return 'new';
    }
    if (this.high - id >= size) return 'too-old';
    const slot = id % size;
    if (this.seen[slot] === 1) return 'repeat';
    this.seen[slot] = 1;
    return 'new';
  }
}
