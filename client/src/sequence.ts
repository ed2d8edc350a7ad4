// The sequence checker of one channel of one symbol: which frames set its base, which must follow it by +1, which belong to a subscription being replaced. No I/O.
//
// The rules (README, "WebSocket protocol"):
//   book     orderbook_snapshot and resync set the base; orderbook_update is +1 in the epoch
//            (`reset: true` too: the exchange's book was rebuilt, the sequence has no gap);
//            historical_data is outside the sequence.
//   trades   trades_snapshot sets the base (with a `reason`: the sequence restarts there);
//            trade is +1. After an empty snapshot (seq 0) the first trade is seq 1 and sets the epoch.
//   candles  candles_snapshot sets the base, candle is +1 (after seq 0, seq 1 sets the epoch).
//   ticker   the first frame of a subscription and any frame with a `reason` set the base; the
//            others are +1 (after `ticker: null` at seq 0, seq 1 sets the epoch).
//
// A frame that fits none of this is a gap: it is not applied, and the client recovers the
// channel from its last point. Frames that arrive between the client's unsubscribe and the
// server's answer belong to the subscription being replaced: they are discarded (and counted).

import type { Channel, SequencedFrame } from './frames.js';

/** A position in a channel's sequence. */
export interface SeqPoint {
  seq: number;
  epoch: number;
}

/**
 * What the channel's next frame may be:
 *   snapshot  a subscribe without resume was sent: a base comes first;
 *   resume    a subscribe with resume was sent: the next frame follows `last`, or is a base;
 *   next      following: +1 frames, or a base (resync, a snapshot with a reason) at any time.
 */
export type Expectation = 'snapshot' | 'resume' | 'next';

/**
 * base     the frame replaces the channel's state; the sequence continues from its seq
 * next     the next frame of the sequence
 * info     outside the sequence (historical_data)
 * discard  a frame of a subscription being replaced
 * gap      out of sequence: not applied
 */
export type Verdict = 'base' | 'next' | 'info' | 'discard' | 'gap';

export class ChannelSequence {
  expect: Expectation = 'snapshot';
  /** The last frame applied; undefined before the channel's first base. */
  last: SeqPoint | undefined;
  /** Unsubscribes of this channel sent and not yet answered: until then, frames are the old subscription's. */
  drains = 0;

  constructor(readonly channel: Channel) {}

  /** Where a resubscribe can resume from: the server accepts epochs ≥ 1 only (before a first trade or candle the epoch is 0). */
  resumePoint(): SeqPoint | undefined {
    return this.last !== undefined && this.last.epoch >= 1 ? { seq: this.last.seq, epoch: this.last.epoch } : undefined;
  }

  /** Checks `f` (a frame of this channel) and, unless it is a gap or discarded, moves the sequence to it. */
  check(f: SequencedFrame): Verdict {
    if (this.drains > 0) return 'discard';
    const role = roleOf(f, this.expect);
    if (role === 'info') return 'info';
    if (role === 'base') return this.accept(f, 'base');
    if (this.expect === 'snapshot' || this.last === undefined) return 'gap';
    return follows(this.last, f) ? this.accept(f, 'next') : 'gap';
  }

  private accept(f: SequencedFrame, v: Verdict): Verdict {
    this.last = { seq: f.seq, epoch: f.epoch };
    this.expect = 'next';
    return v;
  }
}

/** `f` is the frame after `last`: +1 in the same epoch, or the first of a sequence whose base was seq 0. */
export function follows(last: SeqPoint, f: SeqPoint): boolean {
  if (f.epoch === last.epoch && f.seq === last.seq + 1) return true;
  return last.seq === 0 && f.seq === 1;
}

function roleOf(f: SequencedFrame, expect: Expectation): 'base' | 'step' | 'info' {
  switch (f.type) {
    case 'historical_data':
      return 'info';
    case 'orderbook_snapshot':
    case 'resync':
    case 'trades_snapshot':
    case 'candles_snapshot':
      return 'base';
    case 'ticker':
      // The ticker channel has one frame type: its snapshot is the subscription's first frame, or one with a reason.
      return expect === 'snapshot' || f.reason !== undefined ? 'base' : 'step';
    default:
      return 'step';
  }
}
