// The client's events, their payloads, and the small typed emitter that delivers them.

import type {
  AlertFrame, BookFrame, CandlesFrame, Channel, ServerErrorCode, StatusFrame, TickerFrame, TradesFrame,
} from './frames.js';
import type { SeqPoint } from './sequence.js';

/** connecting: the first connection; open; reconnecting: lost, a new one is on its way (backoff); closed: by close(), or refused for good. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * Errors the client finds itself:
 *   sequence_gap   a frame out of its channel's sequence (never against a correct server): not
 *                  applied, and the channel is recovered from its last point;
 *   invalid_frame  a server message that is not a JSON object with a `type`;
 *   closed         the server closed the connection with a code that ends it (4401, 4408 without a token function);
 *   token_failed   the token function threw or rejected;
 *   token_expired  the server said the token expired, and there is no token function for a fresh one.
 */
export type ClientErrorCode = 'sequence_gap' | 'invalid_frame' | 'closed' | 'token_failed' | 'token_expired';

export interface TickplantError {
  /** `server`: an error frame (its `code` is stable); `client`: found by this client. */
  source: 'server' | 'client';
  code: ServerErrorCode | ClientErrorCode;
  message: string;
  symbol?: string;
  channel?: Channel;
  /** sequence_gap: the channel's last point, and the frame's. */
  last?: SeqPoint;
  got?: SeqPoint;
  /** closed: the close code. */
  closeCode?: number;
}

export interface ClientEvents {
  /** historical_data, orderbook_snapshot, orderbook_update, resync. */
  book: BookFrame;
  /** trades_snapshot, trade. */
  trades: TradesFrame;
  /** candles_snapshot, candle. */
  candle: CandlesFrame;
  ticker: TickerFrame;
  /** A price alert of the connection's user fired (no subscription needed: the token names the user). */
  alert: AlertFrame;
  /** A symbol's state: stale, resyncing, live, no_data. */
  status: StatusFrame;
  error: TickplantError;
  state: ConnectionState;
}

export type EventName = keyof ClientEvents;
const EVENTS: readonly EventName[] = ['book', 'trades', 'candle', 'ticker', 'alert', 'status', 'error', 'state'];

type Handler = (payload: never) => void;

export class Emitter {
  private readonly handlers = new Map<EventName, Set<Handler>>();

  /** Adds a handler; returns the function that removes it. */
  on<E extends EventName>(event: E, handler: (payload: ClientEvents[E]) => void): () => void {
    if (!EVENTS.includes(event)) throw new TypeError(`on: unknown event ${JSON.stringify(event)}; expected one of ${EVENTS.join(', ')}`);
    if (typeof handler !== 'function') throw new TypeError(`on(${event}): handler must be a function`);
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as Handler);
    return () => this.off(event, handler);
  }

  off<E extends EventName>(event: E, handler: (payload: ClientEvents[E]) => void): void {
    this.handlers.get(event)?.delete(handler as Handler);
  }

  has(event: EventName): boolean {
    return (this.handlers.get(event)?.size ?? 0) > 0;
  }

  emit<E extends EventName>(event: E, payload: ClientEvents[E]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const h of set) {
      try {
        (h as (p: ClientEvents[E]) => void)(payload);
      } catch (e) {
        // A handler's bug must neither stop the frames after this one (the sequence has already
        // moved past it) nor vanish: it is rethrown as an unhandled rejection, which Node reports
        // (and by default exits on) and browsers log.
        void Promise.reject(e);
      }
    }
  }
}
