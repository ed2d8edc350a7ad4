// One logical connection to tickplant over successive sockets: the credential, reconnects with exponential backoff and jitter, paced sends, pings and the idle check.
//
// It knows nothing of subscriptions: when a socket opens it says so, and the client sends what
// that socket must carry; when one is lost, the client forgets what was in flight on it.

import type { ConnectionState, TickplantError } from './events.js';
import { OPEN, type Timer, type WebSocketConstructor, type WebSocketLike, clearTimer, setTimer, textOf } from './socket.js';

/** Close codes after which retrying with the same credential cannot succeed (README, close codes). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_TOKEN_EXPIRED = 4408;

export type TokenSource = string | (() => string | Promise<string>);

export interface ConnectionOptions {
  url: string;
  token: TokenSource | undefined;
  tokenIn: 'message' | 'query';
  WebSocket: WebSocketConstructor;
  reconnect: { minDelayMs: number; maxDelayMs: number } | false;
  pingIntervalMs: number;
  sendRate: { perSecond: number; burst: number };
}

export interface ConnectionListener {
  /** A socket opened (the auth message, if any, is queued first); `again`: not the first one. */
  opened(again: boolean): void;
  frame(text: string): void;
  /** The socket is gone: nothing more arrives from it. */
  lost(): void;
  state(state: ConnectionState): void;
  error(e: TickplantError): void;
}

export class Connection {
  state: ConnectionState = 'connecting';
  private socket: WebSocketLike | undefined;
  private everOpened = false;
  private stopped = false;
  /** Retries since a connection last delivered a frame: the backoff's exponent. */
  private attempt = 0;
  private retryTimer: Timer | undefined;
  private pingTimer: Timer | undefined;
  private lastReceivedAt = 0;
  // Sends are paced under the server's WS_MESSAGE_RATE/WS_MESSAGE_BURST: a message over them is
  // dropped by the server, and a dropped subscribe would leave a channel silently unfollowed.
  private readonly outbox: string[] = [];
  private tokens = 0;
  private refilledAt = 0;
  private flushTimer: Timer | undefined;

  constructor(private readonly o: ConnectionOptions, private readonly listener: ConnectionListener) {}

  start(): void {
    this.listener.state(this.state); // the first state, to handlers added before the first socket
    void this.connect();
  }

  /** Queues a message for the open socket; false when there is none (the client resends its state on the next open). */
  send(message: object): boolean {
    if (this.socket === undefined || this.socket.readyState !== OPEN) return false;
    this.outbox.push(JSON.stringify(message));
    this.flush();
    return true;
  }

  /** Sends a fresh token from the token function (after `token_expired`); false without one. */
  async reauthenticate(): Promise<boolean> {
    if (typeof this.o.token !== 'function') return false;
    const token = await this.token();
    if (token !== undefined) this.send({ action: 'auth', token });
    return true;
  }

  close(): void {
    this.stopped = true;
    clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    const s = this.socket;
    if (s !== undefined) {
      this.detach();
      s.close(1000, 'client closed');
      this.listener.lost();
    }
    this.setState('closed');
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const token = await this.token();
    if (this.stopped) return;
    if (token === undefined && this.o.token !== undefined) return this.retry();
    let url = this.o.url;
    if (token !== undefined && this.o.tokenIn === 'query') url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    let s: WebSocketLike;
    try {
      s = new this.o.WebSocket(url);
    } catch (e) {
      this.listener.error({ source: 'client', code: 'closed', message: `cannot open ${this.o.url}: ${(e as Error)?.message ?? e}` });
      return this.retry();
    }
    this.socket = s;
    let frames = 0;
    s.onopen = () => {
      const again = this.everOpened;
      this.everOpened = true;
      this.lastReceivedAt = Date.now();
      this.tokens = this.o.sendRate.burst;
      this.refilledAt = Date.now();
      this.setState('open');
      if (token !== undefined && this.o.tokenIn === 'message') this.send({ action: 'auth', token });
      this.schedulePing();
      this.listener.opened(again);
    };
    s.onmessage = (ev: { data: unknown }) => {
      this.lastReceivedAt = Date.now();
      if (frames++ === 0) this.attempt = 0; // this server answers: the next loss starts the backoff over
      this.listener.frame(textOf(ev.data));
    };
    s.onclose = (ev: { code?: number; reason?: string }) => this.onClose(ev.code ?? 1006, ev.reason ?? '');
    // An error is always followed by a close, which decides what happens next.
    s.onerror = () => undefined;
  }

  /** The credential for the next socket; undefined without one, or when the token function failed (reported). */
  private async token(): Promise<string | undefined> {
    const t = this.o.token;
    if (typeof t !== 'function') return t;
    try {
      const v = await t();
      if (typeof v !== 'string' || v === '') throw new TypeError(`the token function returned ${typeof v === 'string' ? 'an empty string' : typeof v}, not a token`);
      return v;
    } catch (e) {
      this.listener.error({ source: 'client', code: 'token_failed', message: `token: ${(e as Error)?.message ?? e}` });
      return undefined;
    }
  }

  private onClose(code: number, reason: string): void {
    this.detach();
    this.listener.lost();
    if (this.stopped) return;
    const refused = code === CLOSE_UNAUTHORIZED || code === CLOSE_TOKEN_EXPIRED;
    if (refused && typeof this.o.token !== 'function') {
      // The same credential would be refused again: a token function could give a fresh one.
      this.listener.error({ source: 'client', code: 'closed', closeCode: code, message: `closed by the server: ${code} ${reason}`.trim() });
      this.stopped = true;
      return this.setState('closed');
    }
    this.retry();
  }

  private retry(): void {
    if (this.stopped) return;
    if (this.o.reconnect === false) {
      this.stopped = true;
      return this.setState('closed');
    }
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    const { minDelayMs, maxDelayMs } = this.o.reconnect;
    const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // Jitter (50–100 % of the step): clients dropped together by a restart do not return together.
    const delay = ceiling * (0.5 + Math.random() * 0.5);
    this.retryTimer = setTimer(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  /** Forgets the socket: its handlers are removed, so a late event of it cannot reach the client. */
  private detach(): void {
    const s = this.socket;
    if (s === undefined) return;
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    this.socket = undefined;
    this.outbox.length = 0; // meant for that socket: the client resends its state on the next
    clearTimer(this.flushTimer);
    clearTimer(this.pingTimer);
    this.flushTimer = this.pingTimer = undefined;
  }

  /**
   * Pings while open; a socket that received nothing for two periods and 5 s (the server answers
   * every ping) is taken as dead — a half-open TCP connection never closes by itself — and replaced.
   */
  private schedulePing(): void {
    if (this.o.pingIntervalMs <= 0) return;
    this.pingTimer = setTimer(() => {
      this.pingTimer = undefined;
      const s = this.socket;
      if (s === undefined) return;
      if (Date.now() - this.lastReceivedAt > 2 * this.o.pingIntervalMs + 5_000) {
        this.detach();
        s.close(1000, 'idle');
        this.listener.lost();
        return this.retry();
      }
      this.send({ action: 'ping' });
      this.schedulePing();
    }, this.o.pingIntervalMs);
  }

  /** Sends what the token bucket allows now; the rest when it has refilled. */
  private flush(): void {
    const s = this.socket;
    if (s === undefined || s.readyState !== OPEN) return;
    const { perSecond, burst } = this.o.sendRate;
    const now = Date.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) * perSecond) / 1000);
    this.refilledAt = now;
    let sent = 0;
    while (sent < this.outbox.length && this.tokens >= 1) {
      s.send(this.outbox[sent++]);
      this.tokens--;
    }
    this.outbox.splice(0, sent);
    if (this.outbox.length > 0 && this.flushTimer === undefined) {
      this.flushTimer = setTimer(() => {
        this.flushTimer = undefined;
        this.flush();
      }, Math.ceil(((1 - this.tokens) * 1000) / perSecond));
    }
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.listener.state(s);
  }
}
