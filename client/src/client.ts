// TickplantClient: subscriptions per symbol and channel, every frame checked against its channel's sequence, resumed after reconnects, delivered in order as typed events.
//
//   const client = new TickplantClient({ url: 'ws://localhost:8000/ws' });
//   client.on('book', (f) => …);
//   client.subscribe('US.AAPL', { channels: ['book', 'trades', 'candles:1m', 'ticker'] });

import { Connection, type TokenSource } from './connection.js';
import { type ClientEvents, type ConnectionState, Emitter, type EventName, type TickplantError } from './events.js';
import {
  type Channel, type ErrorFrame, type SequencedFrame, type ServerFrame, type UnsubscribedFrame, CHANNELS, channelOf, isChannel, isSequenced,
} from './frames.js';
import { ChannelSequence, type SeqPoint } from './sequence.js';
import { type WebSocketConstructor, defaultWebSocket } from './socket.js';
import { DEFAULT_STATE_LIMITS, type StateLimits, type SymbolState, applyBook, applyCandles, applyStatus, applyTrades, emptyState } from './state.js';

/** The options, with their defaults. */
export interface ClientOptions {
  /** The server's WebSocket URL: `ws://host:8000/ws` (or `/ws/{client_id}`; `wss://` behind TLS). */
  url: string;
  /** An API key or JWT; a function is asked at every connection and when the server says the token expired. Default: none. */
  token?: TokenSource;
  /** `message` (default): sent first as `{"action":"auth","token"}`, out of URLs and access logs; `query`: `?token=`. */
  tokenIn?: 'message' | 'query';
  /** A WebSocket implementation, e.g. the `ws` package's on Node 20. Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays: the first within minDelayMs (250), doubling up to maxDelayMs (10000), each jittered to 50–100 %. `false`: never reconnect. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number } | false;
  /** Ping period while open, ms (15000; 0: none). A socket that receives nothing for two periods and 5 s is replaced. */
  pingIntervalMs?: number;
  /** Messages sent per second and at once (40, 80): below the server's default WS_MESSAGE_RATE (50) and WS_MESSAGE_BURST (100). */
  sendRate?: { perSecond?: number; burst?: number };
  /** Keep per symbol the state a chart needs (client.state(symbol)). Default false; `true`: 500 trades and 5000 candles per interval. */
  keepState?: boolean | Partial<StateLimits>;
}

export interface SubscribeOptions {
  /** Default `["book"]`. */
  channels?: Channel[];
  /** History resolution of the book: `"5s"`, `"1m"`, `"1h"`, seconds 1–3600, or `"none"`. Default: the server's. */
  resolution?: string | number;
}

/** What the client has seen; read them at any time (a page, a test). */
export interface ClientCounters {
  /** Frames received. */
  messages: number;
  /** Frames out of their channel's sequence: 0 against a correct server. */
  gaps: number;
  /** Channels resubscribed with a resume point after a reconnect or a gap. */
  resumes: number;
  /** State replacements the server sent: `resync`, and trades, candles or ticker snapshots with a reason other than `resume`. */
  resyncs: number;
  /** Book frames with `reset: true` (an exchange book rebuilt). */
  resets: number;
  /** Connections re-established after a loss. */
  reconnects: number;
  /** Frames of a subscription being replaced (between an unsubscribe and its answer), not delivered. */
  discarded: number;
}

interface SymbolSub {
  readonly symbol: string;
  resolution: string | number | undefined;
  /** The channels followed, and those still draining after an unsubscribe. */
  readonly channels: Map<Channel, ChannelSequence>;
  readonly wanted: Set<Channel>;
  /** Unsubscribes sent on this socket, oldest first: the server answers each (unsubscribed, or not_subscribed) in order. */
  readonly unsubscribes: Channel[][];
  state: SymbolState | undefined;
}

const SYMBOL_RE = /^[A-Za-z0-9._:/-]{1,32}$/;

export class TickplantClient {
  readonly counters: ClientCounters = { messages: 0, gaps: 0, resumes: 0, resyncs: 0, resets: 0, reconnects: 0, discarded: 0 };
  /** Who the connection acts as, once the server accepted the token. */
  identity: { user: string; scopes: string[]; expiresAt: string | null } | undefined;
  private readonly events = new Emitter();
  private readonly subs = new Map<string, SymbolSub>();
  private readonly conn: Connection;
  private readonly limits: StateLimits | undefined;

  constructor(options: ClientOptions) {
    const o = options as Partial<ClientOptions> | undefined;
    if (typeof o?.url !== 'string' || !/^wss?:\/\//.test(o.url)) throw new TypeError(`url: expected a ws:// or wss:// URL such as ws://localhost:8000/ws, got ${JSON.stringify(o?.url)}`);
    const WebSocket = o.WebSocket ?? defaultWebSocket();
    if (typeof WebSocket !== 'function') throw new TypeError('WebSocket: this platform has no global WebSocket (Node before 22): pass one, e.g. { WebSocket } from the ws package');
    if (o.token !== undefined && typeof o.token !== 'function' && (typeof o.token !== 'string' || o.token === '')) throw new TypeError('token: expected a non-empty string or a function returning one');
    if (o.tokenIn !== undefined && o.tokenIn !== 'message' && o.tokenIn !== 'query') throw new TypeError('tokenIn: expected "message" or "query"');
    const reconnect = o.reconnect === false ? false : {
      minDelayMs: positive('reconnect.minDelayMs', o.reconnect?.minDelayMs ?? 250),
      maxDelayMs: positive('reconnect.maxDelayMs', o.reconnect?.maxDelayMs ?? 10_000),
    };
    const pingIntervalMs = o.pingIntervalMs ?? 15_000;
    if (!(pingIntervalMs >= 0)) throw new RangeError(`pingIntervalMs: expected a number of ms >= 0 (0: no pings), got ${pingIntervalMs}`);
    const sendRate = { perSecond: positive('sendRate.perSecond', o.sendRate?.perSecond ?? 40), burst: positive('sendRate.burst', o.sendRate?.burst ?? 80) };
    if (o.keepState) {
      const k = o.keepState === true ? {} : o.keepState;
      this.limits = { trades: positive('keepState.trades', k.trades ?? DEFAULT_STATE_LIMITS.trades), candles: positive('keepState.candles', k.candles ?? DEFAULT_STATE_LIMITS.candles) };
    }
    this.conn = new Connection(
      { url: o.url, token: o.token, tokenIn: o.tokenIn ?? 'message', WebSocket, reconnect, pingIntervalMs, sendRate },
      {
        opened: (again) => this.opened(again),
        frame: (text) => this.frame(text),
        lost: () => this.lost(),
        state: (s) => this.events.emit('state', s),
        error: (e) => this.events.emit('error', e),
      },
    );
    // Next turn: handlers added right after `new` see the first state and every frame.
    void Promise.resolve().then(() => this.conn.start());
  }

  get connectionState(): ConnectionState {
    return this.conn.state;
  }

  on<E extends EventName>(event: E, handler: (payload: ClientEvents[E]) => void): () => void {
    return this.events.on(event, handler);
  }

  off<E extends EventName>(event: E, handler: (payload: ClientEvents[E]) => void): void {
    this.events.off(event, handler);
  }

  /** Follows channels of `symbol` (adds to those already followed). Alerts need no subscription. */
  subscribe(symbol: string, options: SubscribeOptions = {}): void {
    if (typeof symbol !== 'string' || !SYMBOL_RE.test(symbol)) throw new TypeError(`subscribe: symbol: expected 1-32 characters [A-Za-z0-9._:/-], got ${JSON.stringify(symbol)}`);
    const channels = options.channels ?? ['book'];
    if (!Array.isArray(channels) || channels.length === 0 || !channels.every(isChannel)) {
      throw new TypeError(`subscribe: channels: expected a non-empty array of ${CHANNELS.join(', ')}`);
    }
    let sub = this.subs.get(symbol);
    if (!sub) this.subs.set(symbol, (sub = { symbol, resolution: undefined, channels: new Map(), wanted: new Set(), unsubscribes: [], state: undefined }));
    if (options.resolution !== undefined) sub.resolution = options.resolution;
    if (this.limits) sub.state ??= emptyState(symbol);
    const fresh = [...new Set(channels)].filter((c) => !sub.wanted.has(c));
    for (const c of fresh) {
      sub.wanted.add(c);
      const seq = sub.channels.get(c) ?? new ChannelSequence(c);
      seq.expect = 'snapshot'; // a channel still draining starts over once its old subscription's answer came
      seq.last = undefined;
      sub.channels.set(c, seq);
    }
    if (fresh.length > 0) this.sendSubscribe(sub, fresh, false);
  }

  /** Stops channels of `symbol` (all of them by default). */
  unsubscribe(symbol: string, channels?: Channel[]): void {
    const sub = this.subs.get(symbol);
    if (!sub) return;
    const gone = (channels ?? [...sub.wanted]).filter((c) => sub.wanted.has(c));
    if (gone.length === 0) return;
    for (const c of gone) sub.wanted.delete(c);
    if (this.conn.send({ action: 'unsubscribe', symbol, channels: gone })) {
      for (const c of gone) sub.channels.get(c)!.drains++;
      sub.unsubscribes.push(gone);
    } else for (const c of gone) sub.channels.delete(c);
    this.forgetIfIdle(sub);
  }

  /** The state kept for `symbol` (with `keepState`), updated in place as frames arrive. */
  state(symbol: string): Readonly<SymbolState> | undefined {
    return this.subs.get(symbol)?.state;
  }

  /** Closes the connection for good: no reconnect. */
  close(): void {
    this.conn.close();
  }

  // ── connection ───────────────────────────────────────────────────────────────

  private opened(again: boolean): void {
    if (again) this.counters.reconnects++;
    for (const sub of this.subs.values()) if (sub.wanted.size > 0) this.sendSubscribe(sub, [...sub.wanted], true);
  }

  /** The socket is gone: nothing of the old subscriptions can arrive any more; the next socket resumes each channel from its last point. */
  private lost(): void {
    this.identity = undefined; // the next socket authenticates again
    for (const sub of this.subs.values()) {
      sub.unsubscribes.length = 0;
      for (const [c, seq] of sub.channels) {
        if (!sub.wanted.has(c)) sub.channels.delete(c);
        seq.drains = 0;
      }
      this.forgetIfIdle(sub);
    }
  }

  /**
   * One subscribe for `channels` of `sub`: each resumes from its last point when `resume` and it
   * has one the server accepts, else starts afresh (history and snapshot).
   */
  private sendSubscribe(sub: SymbolSub, channels: Channel[], resume: boolean): void {
    const points: Partial<Record<Channel, SeqPoint>> = {};
    let resumed = 0;
    for (const c of channels) {
      const seq = sub.channels.get(c)!;
      const at = resume ? seq.resumePoint() : undefined;
      if (at) {
        points[c] = at;
        resumed++;
      }
      seq.expect = at ? 'resume' : 'snapshot';
    }
    const msg: Record<string, unknown> = { action: 'subscribe', symbol: sub.symbol, channels };
    if (sub.resolution !== undefined) msg.resolution = sub.resolution;
    if (resumed > 0) msg.resume = points;
    if (this.conn.send(msg)) this.counters.resumes += resumed;
  }

  // ── frames ───────────────────────────────────────────────────────────────────

  private frame(text: string): void {
    this.counters.messages++;
    let f: ServerFrame;
    try {
      f = JSON.parse(text) as ServerFrame;
    } catch {
      return this.clientError('invalid_frame', `not JSON: ${text.slice(0, 80)}`);
    }
    if (typeof f !== 'object' || f === null || typeof (f as { type?: unknown }).type !== 'string') {
      return this.clientError('invalid_frame', `no type: ${text.slice(0, 80)}`);
    }
    if (isSequenced(f)) return this.sequenced(f);
    switch (f.type) {
      case 'status': {
        const sub = this.subs.get(f.symbol);
        if (sub?.state) applyStatus(sub.state, f);
        return this.events.emit('status', f);
      }
      case 'alert':
        return this.events.emit('alert', f);
      case 'unsubscribed':
        return this.answered(f.symbol);
      case 'error':
        return this.serverError(f);
      case 'authenticated':
        this.identity = { user: f.user, scopes: f.scopes, expiresAt: f.expires_at };
        return;
      case 'token_expired':
        void this.conn.reauthenticate().then((fresh) => {
          if (!fresh) this.clientError('token_expired', `the token expired: the server keeps the connection ${f.grace_ms} ms for a fresh one (pass a token function)`);
        });
        return;
      default:
        return; // pong, and frame types of newer servers
    }
  }

  private sequenced(f: SequencedFrame): void {
    const sub = this.subs.get(f.symbol);
    const channel = channelOf(f);
    const seq = sub?.channels.get(channel);
    if (sub === undefined || seq === undefined) {
      this.counters.discarded++; // a channel the client no longer follows
      return;
    }
    const before = seq.last;
    const verdict = seq.check(f);
    if (verdict === 'discard') {
      this.counters.discarded++;
      return;
    }
    if (verdict === 'gap') return this.gap(sub, seq, f, before);
    if (verdict === 'base' && isResync(f)) this.counters.resyncs++;
    if ((f.type === 'orderbook_update' || f.type === 'orderbook_snapshot' || f.type === 'resync') && f.reset) this.counters.resets++;
    const st = sub.state;
    switch (f.type) {
      case 'historical_data':
        return this.events.emit('book', f);
      case 'orderbook_snapshot':
      case 'orderbook_update':
      case 'resync':
        if (st) applyBook(st, f);
        return this.events.emit('book', f);
      case 'trades_snapshot':
      case 'trade':
        if (st) applyTrades(st, f, this.limits!);
        return this.events.emit('trades', f);
      case 'candles_snapshot':
      case 'candle':
        if (st) applyCandles(st, f, this.limits!);
        return this.events.emit('candle', f);
      case 'ticker':
        if (st) st.ticker = f.ticker;
        return this.events.emit('ticker', f);
    }
  }

  /**
   * A frame out of sequence: counted, reported, not applied. The channel is unsubscribed (frames
   * until the answer are the broken subscription's) and subscribed again from its last point: the
   * server replays what is missing, or sends the full state.
   */
  private gap(sub: SymbolSub, seq: ChannelSequence, f: SequencedFrame, last: SeqPoint | undefined): void {
    this.counters.gaps++;
    this.events.emit('error', {
      source: 'client', code: 'sequence_gap', symbol: sub.symbol, channel: seq.channel, last, got: { seq: f.seq, epoch: f.epoch },
      message: `${sub.symbol} ${seq.channel}: ${f.type} ${f.epoch}/${f.seq} after ${last ? `${last.epoch}/${last.seq}` : 'no snapshot'}; resubscribing`,
    });
    if (!this.conn.send({ action: 'unsubscribe', symbol: sub.symbol, channels: [seq.channel] })) return;
    seq.drains++;
    sub.unsubscribes.push([seq.channel]);
    this.sendSubscribe(sub, [seq.channel], true);
  }

  /** The server answered the oldest unsubscribe of `symbol` (unsubscribed, or not_subscribed). */
  private answered(symbol: string | undefined): void {
    const sub = symbol === undefined ? undefined : this.subs.get(symbol);
    const channels = sub?.unsubscribes.shift();
    if (!sub || !channels) return;
    for (const c of channels) {
      const seq = sub.channels.get(c);
      if (seq && seq.drains > 0 && --seq.drains === 0 && !sub.wanted.has(c)) sub.channels.delete(c);
    }
    this.forgetIfIdle(sub);
  }

  private serverError(f: ErrorFrame): void {
    // A refused subscribe (unknown_symbol, forbidden, too_many_subscriptions) stays requested: a
    // reconnect asks again, until the application unsubscribes.
    if (f.code === 'not_subscribed') this.answered(f.symbol);
    this.events.emit('error', { source: 'server', code: f.code, message: f.message, symbol: f.symbol });
  }

  private clientError(code: TickplantError['code'], message: string): void {
    this.events.emit('error', { source: 'client', code, message });
  }

  private forgetIfIdle(sub: SymbolSub): void {
    if (sub.wanted.size === 0 && sub.channels.size === 0) this.subs.delete(sub.symbol);
  }
}

/** A base the server sent to replace state it could not continue (a resume's candle or ticker snapshot is not one). */
function isResync(f: SequencedFrame): boolean {
  if (f.type === 'resync') return true;
  if (f.type === 'trades_snapshot' || f.type === 'candles_snapshot' || f.type === 'ticker') return f.reason !== undefined && f.reason !== 'resume';
  return false;
}

function positive(name: string, v: number): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name}: expected a number > 0, got ${v}`);
  return v;
}
