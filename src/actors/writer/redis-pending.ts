// Redis frames of one kind (book updates, or trades) that the writer has not sent yet, per symbol.
//
// While Redis is connected every frame waits (the caller bounds the bytes), so the bus carries
// every update even when pipelines back up; while Redis is away, or past the bound, only the
// newest `keep` per symbol are kept — what the capped Redis list would hold anyway — so memory
// stays bounded and the lists converge once Redis returns.

import type { BatchItem } from '../../store/redis-tier.js';

export class PendingFrames {
  private bySymbol = new Map<string, BatchItem[]>();
  bytes = 0;

  /** `keep`: frames per symbol kept when trimming (REDIS_HISTORY_LENGTH, REDIS_TRADES_LENGTH). */
  constructor(private readonly keep: number) {}

  get size(): number {
    return this.bySymbol.size;
  }

  add(items: readonly BatchItem[], trim: boolean): void {
    const n = this.keep;
    for (const it of items) {
      let list = this.bySymbol.get(it.symbol);
      if (!list) this.bySymbol.set(it.symbol, (list = []));
      list.push(it);
      this.bytes += it.latest.length;
      // Trimmed at 2 × keep to n: the splice costs once per `keep` frames, not per frame.
      if (trim && list.length > 2 * n) {
        for (const dropped of list.splice(0, list.length - n)) this.bytes -= dropped.latest.length;
      }
    }
  }

  /** Every pending frame, symbol by symbol, each symbol's in arrival order. */
  items(): BatchItem[] {
    const out: BatchItem[] = [];
    for (const list of this.bySymbol.values()) for (const it of list) out.push(it);
    return out;
  }

  clear(): void {
    this.bySymbol.clear();
    this.bytes = 0;
  }
}
