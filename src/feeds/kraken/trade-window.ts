// The trade ids of one symbol seen last, to drop the repeats a re-subscription's trade snapshot brings; bounded, no growth.

export class TradeWindow {
  private readonly ids: number[];
  private readonly seen = new Set<number>();
  private next = 0;

  /** `size`: ids remembered; must exceed the 50 trades of Kraken's trade snapshot. */
  constructor(readonly size: number) {
    this.ids = new Array<number>(size);
  }

  /** true the first time `id` is offered (within the window), false for a repeat. */
  add(id: number): boolean {
    if (this.seen.has(id)) return false;
    if (this.seen.size === this.size) this.seen.delete(this.ids[this.next]);
    this.ids[this.next] = id;
    this.next = (this.next + 1) % this.size;
    this.seen.add(id);
    return true;
  }
}
