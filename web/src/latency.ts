// The feed→screen latency the page measures: the last N samples in a ring, their median on demand.

export class RecentSamples {
  private readonly ring: Float64Array;
  private next = 0;
  /** Samples taken since the page opened. */
  count = 0;

  constructor(readonly size: number) {
    this.ring = new Float64Array(size);
  }

  add(v: number): void {
    this.ring[this.next] = v;
    this.next = (this.next + 1) % this.size;
    this.count++;
  }

  /** The median of the samples kept; null before the first. */
  p50(): number | null {
    const n = Math.min(this.count, this.size);
    if (n === 0) return null;
    const sorted = this.ring.slice(0, n).sort();
    return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
