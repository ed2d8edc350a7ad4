// Per-connection message rate: a token bucket on fields of the connection's own state (no allocation per message).
//
// A connection may send WS_MESSAGE_BURST messages at once and WS_MESSAGE_RATE per second
// after. A message over the limit is refused (the client is told once per run of refusals);
// a client that goes on sending a whole burst's worth while refused is flooding and is closed.

export interface RateState {
  tokens: number;
  refilledAtMs: number;
  /** Messages refused since the last one allowed. */
  refusedInRow: number;
}

export enum RateVerdict {
  Allowed,
  /** Refused, and the first of its run: tell the client. */
  RefusedFirst,
  Refused,
  /** Refused a whole burst in a row: close the connection. */
  Flooding,
}

export class MessageRate {
  constructor(private readonly perSecond: number, private readonly burst: number) {}

  initial(nowMs: number): RateState {
    return { tokens: this.burst, refilledAtMs: nowMs, refusedInRow: 0 };
  }

  take(s: RateState, nowMs: number): RateVerdict {
    const elapsed = nowMs - s.refilledAtMs;
    if (elapsed > 0) {
      s.tokens = Math.min(this.burst, s.tokens + (elapsed * this.perSecond) / 1000);
      s.refilledAtMs = nowMs;
    }
    if (s.tokens >= 1) {
      s.tokens -= 1;
      s.refusedInRow = 0;
      return RateVerdict.Allowed;
    }
    s.refusedInRow++;
    if (s.refusedInRow >= this.burst) return RateVerdict.Flooding;
    return s.refusedInRow === 1 ? RateVerdict.RefusedFirst : RateVerdict.Refused;
  }
}
