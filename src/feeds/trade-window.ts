// The trade ids of one symbol seen last, to drop the repeats a re-subscription's trade snapshot brings; bounded, no growth.

export class TradeWindow<Id extends string | number> {
  private readonly ids: Id[];
  private readonly seen = new Set<Id>();
  private next = 0;

  /** `size`: ids remembered; must exceed the trades an exchange's re-subscription snapshot repeats. */
  constructor(readonly size: number) {
    this.ids = new Array<Id>(size);
  }

  /** true the first time `id` is offered (within the window), false for a repeat. */
  add(id: Id): boolean {
    if (this.seen.has(id)) return false;
    if (this.seen.size === this.size) this.seen.delete(this.ids[this.next]);
    this.ids[this.next] = id;
    this.next = (this.next + 1) % this.size;
    this.seen.add(id);
    return true;
  }
}
