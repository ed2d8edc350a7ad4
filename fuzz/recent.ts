// The last cases sent, with their times: when the server dies, the ones just before are the suspects.
//
// Descriptions are built only when asked for (a crash is rare, a case is sent ~1,000 times a
// second), from closures that keep the case itself alive until it leaves the ring.

export interface Suspect {
  /** Milliseconds before the crash was noticed. */
  beforeMs: number;
  what: string;
}

export class Recent {
  private readonly ring: { at: number; what: () => string }[] = [];
  private next = 0;

  constructor(private readonly size = 400) {}

  add(what: () => string): void {
    const e = { at: Date.now(), what };
    if (this.ring.length < this.size) this.ring.push(e);
    else this.ring[this.next] = e;
    this.next = (this.next + 1) % this.size;
  }

  /** Up to `max` cases sent within `windowMs` before `at`, oldest first. */
  before(at: number, windowMs: number, max: number): Suspect[] {
    return this.ring
      .filter((e) => e.at <= at && e.at >= at - windowMs)
      .sort((a, b) => a.at - b.at)
      .slice(-max)
      .map((e) => ({ beforeMs: at - e.at, what: e.what() }));
  }
}
