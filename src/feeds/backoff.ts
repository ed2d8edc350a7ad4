// Reconnect delays: exponential with full jitter, capped, so that many clients coming back after an outage do not all retry at once.

export class Backoff {
  private attempt = 0;

  /** `random` is injectable so tests can pin the jitter. */
  constructor(private readonly firstMs = 500, private readonly maxMs = 15_000, private readonly random: () => number = Math.random) {}

  /** The delay before the next attempt: uniform in [firstMs/2, min(maxMs, firstMs·2^n)]. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.firstMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const floor = Math.min(ceiling, this.firstMs / 2);
    return Math.round(floor + this.random() * (ceiling - floor));
  }

  /** After a connection that worked: the next failure starts from the first delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
